"""The resolver: fallback order, the marketplace's codes, sources, queries and caching."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from usher.lib.client_cache import RESOLUTION_CACHE_SECONDS, client_version
from usher.marketplace.models import OrganizerStatus
from usher.marketplace.tests.factories import EventFactory, OrganizerFactory
from usher.tracking import services
from usher.tracking.models import EventTrackingCode
from usher.tracking.resolved import CodeSource, ResolvedCode
from usher.tracking.resolver import (
    _pick_per_provider,
    marketplace_server_side_codes,
    organizer_server_side_codes,
    resolve_for_event,
    resolve_for_marketplace,
    resolve_for_organizer,
    server_side_codes,
)
from usher.tracking.tests.factories import EventTrackingCodeFactory, MarketplaceTrackingCodeFactory

pytestmark = pytest.mark.django_db

GA4 = {"measurement_id": "G-PSW1MY7HB4", "conversion_events": ["page_view", "purchase"]}
TIKTOK = {"pixel_code": "COQDA8RC77U2TMR44LI0"}


def _by(codes: list[ResolvedCode]) -> list[tuple[str, str, str]]:
    return [(code.provider, code.source, code.tag_id) for code in codes]


def test_the_event_code_wins_over_the_organizer_default(organizer, event):
    default = EventTrackingCodeFactory(organizer=organizer, provider="meta")
    specific = EventTrackingCodeFactory(organizer=organizer, event=event, provider="meta")
    codes = resolve_for_event(event)
    assert [(c.code_id, c.source) for c in codes] == [(specific.pk, CodeSource.EVENT)]
    assert default.pk not in [c.code_id for c in codes]


def test_it_falls_back_to_the_default_per_provider(organizer, event):
    EventTrackingCodeFactory(organizer=organizer, event=event, provider="meta")
    EventTrackingCodeFactory(organizer=organizer, provider="ga4", settings=GA4)
    codes = resolve_for_event(event)
    assert [(c.provider, c.source) for c in codes] == [
        ("meta", CodeSource.EVENT),
        ("ga4", CodeSource.ORGANIZER_DEFAULT),
    ]


def test_a_disabled_event_code_falls_back_to_the_enabled_default(organizer, event):
    default = EventTrackingCodeFactory(organizer=organizer, provider="meta")
    EventTrackingCodeFactory(organizer=organizer, event=event, provider="meta", enabled=False)
    assert [c.code_id for c in resolve_for_event(event)] == [default.pk]


def test_disabled_defaults_give_nothing(organizer, event):
    EventTrackingCodeFactory(organizer=organizer, provider="meta", enabled=False)
    assert resolve_for_event(event) == []


def test_marketplace_codes_are_always_added_beside_the_organizers(organizer, event):
    organizer_meta = EventTrackingCodeFactory(organizer=organizer, event=event, provider="meta")
    own_meta = MarketplaceTrackingCodeFactory(client=organizer.client, provider="meta")
    own_ga4 = MarketplaceTrackingCodeFactory(client=organizer.client, provider="ga4", settings=GA4)
    MarketplaceTrackingCodeFactory(
        client=organizer.client, provider="tiktok", settings=TIKTOK, enabled=False
    )
    codes = resolve_for_event(event)
    assert _by(codes) == [
        ("meta", CodeSource.EVENT, organizer_meta.tag_id),
        ("meta", CodeSource.MARKETPLACE, own_meta.tag_id),
        ("ga4", CodeSource.MARKETPLACE, "G-PSW1MY7HB4"),
    ]
    assert codes[2].code_id == own_ga4.pk
    # An event of an organizer without any code still carries the marketplace's.
    bare = EventFactory(organizer=OrganizerFactory(client=organizer.client))
    assert [c.source for c in resolve_for_event(bare)] == [CodeSource.MARKETPLACE] * 2


def test_other_tenants_codes_never_leak_into_a_page(organizer, event):
    EventTrackingCodeFactory(organizer=OrganizerFactory(client=organizer.client), provider="meta")
    EventTrackingCodeFactory(provider="ga4", settings=GA4)  # another marketplace entirely
    MarketplaceTrackingCodeFactory()  # another marketplace's own code
    other_event = EventFactory(organizer=organizer, client=organizer.client)
    EventTrackingCodeFactory(organizer=organizer, event=other_event, provider="meta")
    assert resolve_for_event(event) == []


def test_a_suspended_organizers_codes_leave_its_pages(organizer, event):
    EventTrackingCodeFactory(organizer=organizer, provider="meta")
    MarketplaceTrackingCodeFactory(client=organizer.client, provider="ga4", settings=GA4)
    organizer.status = OrganizerStatus.SUSPENDED
    organizer.save()
    assert [c.source for c in resolve_for_event(event)] == [CodeSource.MARKETPLACE]


def test_the_organizer_profile_gets_its_defaults_and_the_marketplaces(organizer, event):
    default = EventTrackingCodeFactory(organizer=organizer, provider="meta")
    EventTrackingCodeFactory(organizer=organizer, event=event, provider="ga4", settings=GA4)
    own = MarketplaceTrackingCodeFactory(client=organizer.client, provider="meta")
    assert [(c.code_id, c.source) for c in resolve_for_organizer(organizer)] == [
        (default.pk, CodeSource.ORGANIZER_DEFAULT),
        (own.pk, CodeSource.MARKETPLACE),
    ]


def test_resolved_codes_carry_their_public_settings(organizer, event):
    services.create_code(
        organizer,
        services.CodeInput(
            provider="google_ads",
            settings={
                "conversion_id": "AW-736702401",
                "conversion_labels": {"purchase": "3hJnCKSw6KEBEMHfpN8C"},
                "conversion_events": ["purchase"],
                "advanced_matching": True,
                "custom_params": {"brand": "x"},
                "refresh_token": "SECRET-TOKEN",
            },
        ),
    )
    (code,) = resolve_for_event(event)
    assert code.to_public_dict() == {
        "provider": "google_ads",
        "source": "organizer_default",
        "id": "AW-736702401",
        "events": ["purchase"],
        "advanced_matching": True,
        "params": {"brand": "x"},
        "labels": {"purchase": "3hJnCKSw6KEBEMHfpN8C"},
    }
    assert "SECRET-TOKEN" not in repr(code)


def _make_codes(organizer, event, count: int) -> None:
    """`count` codes of all kinds around `event` (event, defaults, other events, marketplace)."""
    providers = [
        ("meta", None),
        ("ga4", GA4),
        ("tiktok", TIKTOK),
        ("gtm", {"container_id": "GTM-T37L75D"}),
        ("google_ads", {"conversion_id": "AW-736702401"}),
    ]
    for index, (provider, settings) in enumerate(providers * 4):
        if index == count:
            return
        extra = {"settings": settings} if settings else {}
        if index < 5:
            EventTrackingCodeFactory(organizer=organizer, event=event, provider=provider, **extra)
        elif index < 10:
            EventTrackingCodeFactory(organizer=organizer, provider=provider, **extra)
        elif index < 15:
            other = EventFactory(organizer=organizer, client=organizer.client)
            EventTrackingCodeFactory(organizer=organizer, event=other, provider=provider, **extra)
        else:
            MarketplaceTrackingCodeFactory(client=organizer.client, provider=provider, **extra)


@pytest.mark.parametrize("count", [1, 20])
def test_resolution_takes_two_queries_whatever_the_number_of_codes(
    organizer, event, count, django_assert_num_queries
):
    _make_codes(organizer, event, count)
    cache.clear()
    with django_assert_num_queries(2):
        codes = resolve_for_event(event)
    assert len(codes) == (1 if count == 1 else 10)
    with django_assert_num_queries(2):
        resolve_for_organizer(organizer)
    with django_assert_num_queries(0):  # cached
        resolve_for_event(event)


def test_resolutions_are_cached_for_five_minutes():
    assert RESOLUTION_CACHE_SECONDS == 300


def test_an_edited_code_shows_on_the_next_resolution(organizer, event):
    code = services.create_code(
        organizer, services.CodeInput(provider="meta", settings={"pixel_id": "557085890510243"})
    )
    assert resolve_for_event(event)[0].tag_id == "557085890510243"
    services.update_code(
        code, services.CodeInput(provider="meta", settings={"pixel_id": "1994206721399887"})
    )
    assert resolve_for_event(event)[0].tag_id == "1994206721399887"
    code.enabled = False
    code.save()
    assert resolve_for_event(event) == []
    code.delete()
    assert resolve_for_event(event) == []


def test_new_event_code_and_marketplace_code_invalidate_the_cache(organizer, event):
    EventTrackingCodeFactory(organizer=organizer, provider="meta")
    assert [c.source for c in resolve_for_event(event)] == [CodeSource.ORGANIZER_DEFAULT]
    EventTrackingCodeFactory(organizer=organizer, event=event, provider="meta")
    assert [c.source for c in resolve_for_event(event)] == [CodeSource.EVENT]
    own = MarketplaceTrackingCodeFactory(client=organizer.client)
    assert [c.source for c in resolve_for_event(event)] == [
        CodeSource.EVENT,
        CodeSource.MARKETPLACE,
    ]
    own.delete()
    assert [c.source for c in resolve_for_event(event)] == [CodeSource.EVENT]


def test_moving_an_event_to_another_organizer_invalidates_the_cache(organizer, event):
    EventTrackingCodeFactory(organizer=organizer, provider="meta")
    other = OrganizerFactory(client=organizer.client)
    other_default = EventTrackingCodeFactory(organizer=other, provider="meta")
    assert resolve_for_event(event)[0].code_id != other_default.pk
    event.organizer = other
    event.save()
    assert resolve_for_event(event)[0].code_id == other_default.pk


def test_an_organizer_change_invalidates_the_cache(organizer, event):
    EventTrackingCodeFactory(organizer=organizer, provider="meta")
    assert resolve_for_event(event)
    organizer.status = OrganizerStatus.SUSPENDED
    organizer.save()
    assert resolve_for_event(event) == []


def test_changes_in_one_marketplace_leave_anothers_cache_alone(organizer, event):
    other_code = EventTrackingCodeFactory(provider="meta")
    before = client_version(organizer.client_id)
    other_code.enabled = False
    other_code.save()
    assert client_version(organizer.client_id) == before


def test_a_lost_version_counter_never_serves_a_stale_answer(organizer, event):
    code = EventTrackingCodeFactory(organizer=organizer, provider="meta")
    assert resolve_for_event(event)
    cache.delete(f"tracking:version:{organizer.client_id}")
    code.enabled = False
    code.save()
    assert resolve_for_event(event) == []


# --- server-side codes ---


def _with_secret(code, name: str, value: str):
    code.set_secret(name, value)
    code.save()
    return code


def test_server_side_codes_are_the_resolved_codes_with_credentials(organizer, event):
    meta = _with_secret(
        EventTrackingCodeFactory(organizer=organizer, event=event), "access_token", "ORG-TOKEN"
    )
    _with_secret(EventTrackingCodeFactory(organizer=organizer), "access_token", "DEFAULT-TOKEN")
    EventTrackingCodeFactory(organizer=organizer, provider="tiktok", settings=TIKTOK)  # no token
    ga4 = _with_secret(
        MarketplaceTrackingCodeFactory(client=organizer.client, provider="ga4", settings=GA4),
        "api_secret",
        "GA4-SECRET",
    )
    MarketplaceTrackingCodeFactory(
        client=organizer.client, provider="gtm", settings={"container_id": "GTM-T37L75D"}
    )
    codes = server_side_codes(event)
    assert [(c.provider, c.source, c.code_id) for c in codes] == [
        ("meta", CodeSource.EVENT, meta.pk),
        ("ga4", CodeSource.MARKETPLACE, ga4.pk),
    ]
    assert codes[0].credential() == "ORG-TOKEN"
    assert codes[1].credential() == "GA4-SECRET"
    assert codes[1].destination_key == f"marketplace:{ga4.pk}"
    assert "ORG-TOKEN" not in repr(codes) and "GA4-SECRET" not in repr(codes)
    assert codes[1].receives("purchase") and not codes[1].receives("add_to_cart")


def test_google_ads_needs_a_customer_id_to_send_server_side(organizer, event):
    code = _with_secret(
        EventTrackingCodeFactory(
            organizer=organizer, provider="google_ads", settings={"conversion_id": "AW-736702401"}
        ),
        "refresh_token",
        "ADS-TOKEN",
    )
    assert server_side_codes(event) == []
    code.settings = {**code.settings, "customer_id": "1234567890"}
    code.save()
    (ads,) = server_side_codes(event)
    assert ads.settings["customer_id"] == "1234567890" and ads.credential() == "ADS-TOKEN"


def test_an_event_moved_to_another_organizer_drops_the_previous_organizers_codes(organizer):
    from usher.marketplace.tests.factories import EventFactory, OrganizerFactory
    from usher.tracking.models import EventTrackingCode
    from usher.tracking.tests.factories import EventTrackingCodeFactory

    event = EventFactory(organizer=organizer)
    EventTrackingCodeFactory(organizer=organizer, event=event)
    newcomer = OrganizerFactory(client=organizer.client)
    event.organizer = newcomer
    event.save()
    assert not EventTrackingCode.objects.filter(event=event).exists()


def test_a_marketplace_can_refuse_organizers_tag_managers(organizer, organizer_api):
    from usher.marketplace.tests.factories import EventFactory
    from usher.tracking.tests.factories import EventTrackingCodeFactory

    event = EventFactory(organizer=organizer)
    EventTrackingCodeFactory(
        organizer=organizer,
        provider="gtm",
        settings={"container_id": "GTM-T37L75D", "conversion_events": []},
    )
    assert "gtm" in {code.provider for code in resolve_for_event(event)}

    client = organizer.client
    client.allow_organizer_tag_managers = False
    client.save()
    assert "gtm" not in {code.provider for code in resolve_for_event(event)}
    response = organizer_api.post(
        "/api/marketplace-client/organizer/tracking-codes",
        {"provider": "gtm", "event_id": event.pk, "settings": {"container_id": "GTM-ABCD123"}},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "provider"]


def test_a_code_without_the_advanced_matching_setting_does_not_match(organizer, event):
    EventTrackingCodeFactory(
        organizer=organizer, settings={"pixel_id": "111111111111111", "conversion_events": []}
    )

    (code,) = resolve_for_event(event)

    assert code.advanced_matching is False


def test_google_ads_sends_server_side_only_the_events_with_a_conversion_action(organizer, event):
    settings = {
        "conversion_id": "AW-736702401",
        "customer_id": "1234567890",
        "conversion_events": ["begin_checkout", "purchase"],
    }
    code = _with_secret(
        EventTrackingCodeFactory(organizer=organizer, provider="google_ads", settings=settings),
        "refresh_token",
        "ADS-TOKEN",
    )
    (without_actions,) = server_side_codes(event)
    code.settings = {**settings, "conversion_actions": {"purchase": "123456789"}}
    code.save()

    (ads,) = server_side_codes(event)

    assert without_actions.conversion_events == ()
    assert (ads.tag_id, ads.conversion_events) == ("AW-736702401", ("purchase",))


def test_pages_of_no_event_carry_the_marketplaces_codes_and_an_organizers_its_defaults(
    organizer, event
):
    default = _with_secret(EventTrackingCodeFactory(organizer=organizer), "access_token", "T1")
    EventTrackingCodeFactory(organizer=organizer, event=event)  # the event's own: not here
    own = _with_secret(
        MarketplaceTrackingCodeFactory(client=organizer.client), "access_token", "T2"
    )
    MarketplaceTrackingCodeFactory(client=organizer.client, provider="ga4", settings=GA4)
    other = OrganizerFactory(client=organizer.client)
    _with_secret(EventTrackingCodeFactory(organizer=other), "access_token", "T3")

    assert _by(resolve_for_marketplace(organizer.client_id)) == [
        ("meta", CodeSource.MARKETPLACE, own.tag_id),
        ("ga4", CodeSource.MARKETPLACE, GA4["measurement_id"]),
    ]
    assert [
        (c.source, c.code_id, c.credential())
        for c in marketplace_server_side_codes(organizer.client_id)
    ] == [(CodeSource.MARKETPLACE, own.pk, "T2")]
    assert [
        (c.source, c.code_id, c.credential()) for c in organizer_server_side_codes(organizer)
    ] == [(CodeSource.ORGANIZER_DEFAULT, default.pk, "T1"), (CodeSource.MARKETPLACE, own.pk, "T2")]


def test_an_edit_shows_on_the_next_resolution_of_every_kind_of_page(organizer, event):
    default = _with_secret(EventTrackingCodeFactory(organizer=organizer), "access_token", "T1")
    own = _with_secret(
        MarketplaceTrackingCodeFactory(client=organizer.client), "access_token", "T2"
    )
    before = (
        resolve_for_organizer(organizer),
        resolve_for_marketplace(organizer.client_id),
        organizer_server_side_codes(organizer),
        marketplace_server_side_codes(organizer.client_id),
    )

    for code in (default, own):
        code.enabled = False
        code.save()

    assert all(before)
    assert resolve_for_organizer(organizer) == []
    assert resolve_for_marketplace(organizer.client_id) == []
    assert organizer_server_side_codes(organizer) == []
    assert marketplace_server_side_codes(organizer.client_id) == []


@pytest.mark.parametrize("event_code_first", [True, False])
def test_the_event_code_wins_whatever_order_the_rows_come_in(event_code_first: bool):
    # The query has no order: the choice must not depend on the one the database picks.
    default = EventTrackingCode(pk=1, provider="meta", event_id=None)
    specific = EventTrackingCode(pk=2, provider="meta", event_id=7)
    ga4 = EventTrackingCode(pk=3, provider="ga4", event_id=None)
    rows = [specific, ga4, default] if event_code_first else [default, ga4, specific]

    assert _pick_per_provider(rows) == [
        (specific, CodeSource.EVENT),
        (ga4, CodeSource.ORGANIZER_DEFAULT),
    ]


def test_marketplace_codes_come_in_provider_order_whatever_their_creation_order(organizer):
    ga4 = MarketplaceTrackingCodeFactory(client=organizer.client, provider="ga4", settings=GA4)
    meta = MarketplaceTrackingCodeFactory(client=organizer.client)

    assert [c.code_id for c in resolve_for_marketplace(organizer.client_id)] == [meta.pk, ga4.pk]


def test_refusing_organizers_tag_managers_keeps_their_other_codes(organizer, event):
    organizer.client.allow_organizer_tag_managers = False
    organizer.client.save()
    meta = EventTrackingCodeFactory(organizer=organizer)
    EventTrackingCodeFactory(
        organizer=organizer, provider="gtm", settings={"container_id": "GTM-T37L75D"}
    )

    assert [c.code_id for c in resolve_for_event(event)] == [meta.pk]
