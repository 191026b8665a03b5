"""The public tracking-config endpoints: site key, document shape, CORS, ETag, caching."""

from __future__ import annotations

import logging
import re

import pytest
from django.test import Client, override_settings
from django.urls import path, resolve

from usher.api import api
from usher.lib.client_cache import invalidate_client
from usher.marketplace.tests.factories import EventFactory, MarketplaceClientFactory
from usher.tracking.api import PLAIN_CONFIG_ROUTES
from usher.tracking.models import EventTrackingCode
from usher.tracking.tests.factories import EventTrackingCodeFactory, MarketplaceTrackingCodeFactory

pytestmark = pytest.mark.django_db

ALLOWED = "https://shop.example"


@pytest.fixture
def browser() -> Client:
    return Client()


@pytest.fixture
def setup(marketplace, organizer, event):
    marketplace.allowed_origins = [ALLOWED, "https://www.shop.example/"]
    marketplace.save()
    organizer_code = EventTrackingCodeFactory(organizer=organizer, provider="meta")
    own = MarketplaceTrackingCodeFactory(
        client=marketplace, provider="ga4", settings={"measurement_id": "G-PSW1MY7HB4"}
    )
    own.set_secret("api_secret", "GA4-SECRET-VALUE")
    own.save()
    return marketplace, organizer_code, own


def _url(event, site_key: str | None = None) -> str:
    query = f"?site_key={site_key}" if site_key else ""
    return f"/api/marketplace-client/events/{event.slug}/tracking-config{query}"


def test_it_returns_the_resolved_codes_of_the_event(browser, setup, event):
    marketplace, organizer_code, _ = setup
    response = browser.get(_url(event, marketplace.site_key))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["event"] == {
        "slug": "summer-fest",
        "content_id": event.external_id,
        "name": event.name,
        "currency": "RON",
        "external_id": event.external_id,
    }
    assert [(c["provider"], c["source"], c["id"]) for c in body["codes"]] == [
        ("meta", "organizer_default", organizer_code.tag_id),
        ("ga4", "marketplace", "G-PSW1MY7HB4"),
    ]
    assert body["codes"][0] == {
        "provider": "meta",
        "source": "organizer_default",
        "id": organizer_code.tag_id,
        "events": ["page_view", "view_item", "add_to_cart", "begin_checkout", "purchase"],
        "advanced_matching": False,
        "params": {},
        "labels": {},
    }
    assert body["consent"] == {"mode": "opt_in"}
    assert body["collector_url"] == "/api/collect"
    assert "GA4-SECRET-VALUE" not in response.content.decode()


def test_the_site_key_may_come_as_a_header(browser, setup, event):
    marketplace, *_ = setup
    response = browser.get(_url(event), headers={"X-Usher-Site-Key": marketplace.site_key})
    assert response.status_code == 200 and len(response.json()["codes"]) == 2


def test_without_a_valid_site_key_there_is_no_config(browser, setup, event):
    assert browser.get(_url(event)).status_code == 401
    assert browser.get(_url(event, "ush_site_unknown")).status_code == 404
    other = MarketplaceClientFactory()
    # Another marketplace's key does not reach this marketplace's event.
    assert browser.get(_url(event, other.site_key)).status_code == 404
    setup[0].is_active = False
    setup[0].save()
    assert browser.get(_url(event, setup[0].site_key)).status_code == 404


def test_an_unknown_slug_is_a_404(browser, setup):
    marketplace, *_ = setup
    url = f"/api/marketplace-client/events/nope/tracking-config?site_key={marketplace.site_key}"
    response = browser.get(url, headers={"Origin": ALLOWED})
    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == ALLOWED  # so tracker.js can read it


def test_cors_echoes_only_the_clients_allowed_origins(browser, setup, event):
    marketplace, *_ = setup
    allowed = browser.get(_url(event, marketplace.site_key), headers={"Origin": ALLOWED})
    assert allowed["Access-Control-Allow-Origin"] == ALLOWED
    assert "ETag" in allowed["Access-Control-Expose-Headers"]
    assert "Origin" in allowed["Vary"]
    trailing = browser.get(
        _url(event, marketplace.site_key), headers={"Origin": "https://www.shop.example"}
    )
    assert trailing["Access-Control-Allow-Origin"] == "https://www.shop.example"
    foreign = browser.get(
        _url(event, marketplace.site_key), headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 200
    assert not foreign.has_header("Access-Control-Allow-Origin")
    assert "Origin" in foreign["Vary"]


def test_a_preflight_allows_the_clients_origins_only(browser, setup, event):
    marketplace, *_ = setup
    headers = {
        "Origin": ALLOWED,
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "x-usher-site-key",
    }
    response = browser.options(_url(event), headers=headers)
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    assert "X-Usher-Site-Key" in response["Access-Control-Allow-Headers"]
    assert "GET" in response["Access-Control-Allow-Methods"]
    with_key = browser.options(_url(event, marketplace.site_key), headers=headers)
    assert with_key["Access-Control-Allow-Origin"] == ALLOWED
    evil = browser.options(_url(event), headers={**headers, "Origin": "https://evil.example"})
    assert not evil.has_header("Access-Control-Allow-Origin")


def test_etag_and_cache_control_allow_a_304(browser, setup, event):
    marketplace, *_ = setup
    first = browser.get(_url(event, marketplace.site_key), headers={"Origin": ALLOWED})
    etag = first["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert first["Cache-Control"] == "public, no-cache"  # revalidate each load: edits show at once
    again = browser.get(
        _url(event, marketplace.site_key), headers={"If-None-Match": etag, "Origin": ALLOWED}
    )
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag and again["Access-Control-Allow-Origin"] == ALLOWED
    weak = browser.get(
        _url(event, marketplace.site_key), headers={"If-None-Match": f'"x", W/{etag}'}
    )
    assert weak.status_code == 304
    stale = browser.get(_url(event, marketplace.site_key), headers={"If-None-Match": '"stale"'})
    assert stale.status_code == 200


def test_an_edit_changes_the_etag_at_once(browser, setup, event):
    marketplace, organizer_code, _ = setup
    etag = browser.get(_url(event, marketplace.site_key))["ETag"]
    organizer_code.settings = {**organizer_code.settings, "advanced_matching": True}
    organizer_code.save()
    response = browser.get(_url(event, marketplace.site_key), headers={"If-None-Match": etag})
    assert response.status_code == 200 and response["ETag"] != etag
    assert response.json()["codes"][0]["advanced_matching"] is True


def test_a_config_served_before_costs_no_query_for_a_200_or_a_304(
    browser, setup, event, django_assert_num_queries
):
    marketplace, *_ = setup
    etag = browser.get(_url(event, marketplace.site_key))["ETag"]
    with django_assert_num_queries(0):  # the process remembers it; the version is checked
        assert browser.get(_url(event, marketplace.site_key)).status_code == 200
        revalidated = browser.get(
            _url(event, marketplace.site_key), headers={"If-None-Match": etag}
        )
    assert revalidated.status_code == 304


def test_a_client_deactivated_after_being_served_is_refused_on_the_next_load(browser, setup, event):
    marketplace, *_ = setup
    assert browser.get(_url(event, marketplace.site_key)).status_code == 200
    marketplace.is_active = False
    marketplace.save()
    assert browser.get(_url(event, marketplace.site_key)).status_code == 404


def test_a_rotated_site_key_stops_working_on_the_next_load(browser, setup, event):
    marketplace, *_ = setup
    old_key = marketplace.site_key
    assert browser.get(_url(event, old_key)).status_code == 200
    marketplace.site_key = "ush_site_rotated"
    marketplace.save()
    assert browser.get(_url(event, old_key)).status_code == 404
    assert browser.get(_url(event, "ush_site_rotated")).status_code == 200


def test_an_origin_added_after_being_served_is_allowed_on_the_next_load(browser, setup, event):
    marketplace, *_ = setup
    newcomer = "https://tickets.example"
    first = browser.get(_url(event, marketplace.site_key), headers={"Origin": newcomer})
    assert "Access-Control-Allow-Origin" not in first
    marketplace.allowed_origins = [*marketplace.allowed_origins, newcomer]
    marketplace.save()
    again = browser.get(_url(event, marketplace.site_key), headers={"Origin": newcomer})
    assert again["Access-Control-Allow-Origin"] == newcomer


def test_a_change_announced_by_another_process_shows_on_the_next_load(browser, setup, event):
    """What a process remembers is checked against the shared version, which any
    process's change moves (here: a bulk update, which announces itself explicitly)."""
    marketplace, organizer_code, _ = setup
    assert len(browser.get(_url(event, marketplace.site_key)).json()["codes"]) == 2
    EventTrackingCode.objects.filter(pk=organizer_code.pk).update(enabled=False)
    invalidate_client(marketplace.pk)
    codes = browser.get(_url(event, marketplace.site_key)).json()["codes"]
    assert [c["provider"] for c in codes] == ["ga4"]


def test_the_organizer_profile_config_has_defaults_and_marketplace_codes(
    browser, setup, organizer, event
):
    marketplace, *_ = setup
    EventTrackingCodeFactory(
        organizer=organizer,
        event=event,
        provider="tiktok",
        settings={"pixel_code": "COQDA8RC77U2TMR44LI0"},
    )
    url = (
        f"/api/marketplace-client/organizers/{organizer.external_id}/tracking-config"
        f"?site_key={marketplace.site_key}"
    )
    response = browser.get(url, headers={"Origin": ALLOWED})
    assert response.status_code == 200
    body = response.json()
    assert body["organizer"] == {"external_id": organizer.external_id, "name": organizer.name}
    assert [(c["provider"], c["source"]) for c in body["codes"]] == [
        ("meta", "organizer_default"),
        ("ga4", "marketplace"),
    ]
    assert response["Access-Control-Allow-Origin"] == ALLOWED and response.has_header("ETag")
    missing = url.replace(organizer.external_id, "org-missing")
    assert browser.get(missing).status_code == 404


def test_the_same_slug_in_two_marketplaces_stays_apart(browser, setup, event):
    marketplace, *_ = setup
    other_event = EventFactory(slug=event.slug)
    MarketplaceTrackingCodeFactory(client=other_event.client)
    mine = browser.get(_url(event, marketplace.site_key)).json()
    theirs = browser.get(_url(other_event, other_event.client.site_key)).json()
    assert [c["source"] for c in theirs["codes"]] == ["marketplace"]
    assert mine["codes"] != theirs["codes"]


def test_the_marketplace_config_carries_only_the_marketplaces_codes(client, marketplace, organizer):
    from usher.tracking.tests.factories import (
        EventTrackingCodeFactory,
        MarketplaceTrackingCodeFactory,
    )

    own = MarketplaceTrackingCodeFactory(client=marketplace)
    EventTrackingCodeFactory(organizer=organizer)
    response = client.get(
        "/api/marketplace-client/tracking-config", {"site_key": marketplace.site_key}
    )
    assert response.status_code == 200
    body = response.json()
    assert [c["id"] for c in body["codes"]] == [own.tag_id]
    assert {c["source"] for c in body["codes"]} == {"marketplace"}
    assert body["marketplace"]["name"] == marketplace.name


def test_with_the_cache_down_the_config_is_computed_from_the_database(
    browser, setup, event, unreachable_cache, caplog
):
    marketplace, organizer_code, _ = setup
    with caplog.at_level(logging.WARNING, logger="usher.lib.outages"):
        answers = [browser.get(_url(event, marketplace.site_key)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [c["id"] for c in answers[0].json()["codes"]] == [organizer_code.tag_id, "G-PSW1MY7HB4"]
    # One warning for the outage, not one per request.
    assert len([r for r in caplog.records if "cache unreachable" in r.message]) == 1


def test_a_code_edited_during_the_outage_shows_at_once(
    browser, organizer_api, setup, event, unreachable_cache
):
    marketplace, organizer_code, _ = setup
    edited = organizer_api.request(
        "PATCH",
        f"/api/marketplace-client/organizer/tracking-codes/{organizer_code.pk}",
        {"enabled": False},
    )
    assert edited.status_code == 200, edited.content
    codes = browser.get(_url(event, marketplace.site_key)).json()["codes"]
    assert [c["provider"] for c in codes] == ["ga4"]


def test_a_page_served_during_the_outage_is_not_reused_after_an_edit(
    browser, organizer_api, setup, event, unreachable_cache
):
    # No version can be read in an outage, so nothing served then may be reused.
    marketplace, organizer_code, _ = setup
    url = _url(event, marketplace.site_key)
    assert organizer_code.tag_id in [c["id"] for c in browser.get(url).json()["codes"]]
    edited = organizer_api.request(
        "PATCH",
        f"/api/marketplace-client/organizer/tracking-codes/{organizer_code.pk}",
        {"enabled": False},
    )
    assert edited.status_code == 200, edited.content
    assert [c["provider"] for c in browser.get(url).json()["codes"]] == ["ga4"]


def test_once_the_cache_is_back_the_config_is_cached_again(
    browser, setup, event, settings, django_assert_max_num_queries
):
    marketplace, *_ = setup
    down = settings.CACHES
    settings.CACHES = {"default": {"BACKEND": "usher.lib.tests.unreachable_cache.UnreachableCache"}}
    assert browser.get(_url(event, marketplace.site_key)).status_code == 200
    settings.CACHES = down
    assert browser.get(_url(event, marketplace.site_key)).status_code == 200  # cached now
    with django_assert_max_num_queries(0):  # remembered once the cache could check it
        assert browser.get(_url(event, marketplace.site_key)).status_code == 200


# --- the plain views serving these paths (usher.tracking.api.PLAIN_CONFIG_ROUTES) ---

# The API alone, without the plain views in front: what they must answer alike.
urlpatterns = [path("api/", api.urls)]


def _documented(route: str) -> str:
    """A plain route as the OpenAPI schema spells it: `<slug>` is `{slug}`."""
    return "/api/" + re.sub(r"<(\w+)>", r"{\1}", route)


def test_every_plain_route_is_a_documented_get_operation(browser):
    paths = browser.get("/api/openapi.json").json()["paths"]
    for route, _ in PLAIN_CONFIG_ROUTES:
        assert "get" in paths.get(_documented(route), {}), route


def test_the_documented_paths_are_served_by_the_plain_views():
    for route, view in PLAIN_CONFIG_ROUTES:
        assert resolve("/api/" + re.sub(r"<\w+>", "x", route)).func is view, route


def test_methods_but_get_and_options_are_a_405_naming_those_two(setup, event):
    marketplace, *_ = setup
    browser = Client(enforce_csrf_checks=True)  # a POST is told 405, not refused for CSRF
    for method in ["POST", "PUT", "PATCH", "DELETE", "HEAD"]:
        response = browser.generic(method, _url(event, marketplace.site_key))
        assert response.status_code == 405, method
        assert {m.strip() for m in response["Allow"].split(",")} == {"GET", "OPTIONS"}


def test_a_nul_in_the_site_key_header_is_an_unknown_key(browser, setup, event):
    response = browser.get(_url(event), headers={"X-Usher-Site-Key": "ush_site_\x00x"})
    assert response.status_code == 404
    preflight = browser.options(
        _url(event), headers={"X-Usher-Site-Key": "a\x00", "Origin": ALLOWED}
    )
    assert preflight.status_code == 204 and not preflight.has_header("Access-Control-Allow-Origin")


def _answers(browser, requests) -> list[tuple]:
    answers = []
    for method, url, headers in requests:
        response = browser.generic(method, url, headers=headers)
        kept = {k: v for k, v in response.items() if k != "X-Request-ID"}
        if "Allow" in kept:  # ninja lists the methods from a set
            kept["Allow"] = sorted(m.strip() for m in kept["Allow"].split(","))
        answers.append((method, url, headers, response.status_code, response.content, kept))
    return answers


def test_the_plain_routes_answer_every_input_as_the_api_does(setup, organizer, event):
    marketplace, *_ = setup
    browser = Client(enforce_csrf_checks=True)
    pages = [
        f"/api/marketplace-client/events/{slug}/tracking-config"
        for slug in [event.slug, "nope", "a%20b", "%ED%A0%80", "%F0%9F%8E%B8", "x" * 3000]
    ] + [
        f"/api/marketplace-client/organizers/{organizer.external_id}/tracking-config",
        "/api/marketplace-client/organizers/org-missing/tracking-config",
        "/api/marketplace-client/tracking-config",
    ]
    pages += [pages[0] + "/", pages[-1] + "/"]
    origin = {"Origin": ALLOWED}
    keyed = [
        ("", {}),
        (f"?site_key={marketplace.site_key}", {}),
        ("?site_key=", {}),
        ("?site_key=ush_site_unknown", {}),
        ("", {"X-Usher-Site-Key": marketplace.site_key}),
        (f"?site_key=ush_site_unknown&site_key={marketplace.site_key}", {}),
    ]
    preflight = {**origin, "Access-Control-Request-Method": "GET"}
    requests = []
    for page in pages:
        for query, key in keyed:
            requests += [
                ("GET", page + query, {**origin, **key}),
                ("GET", page + query, {**origin, **key, "If-None-Match": "*"}),
                ("OPTIONS", page + query, {**preflight, **key}),
            ]
        for method in ["HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE"]:
            requests.append((method, page + keyed[1][0], origin))

    plain = _answers(browser, requests)
    assert {answer[3] for answer in plain} == {200, 204, 304, 401, 404, 405}
    with override_settings(ROOT_URLCONF=__name__):
        assert resolve(pages[0]).func not in {view for _, view in PLAIN_CONFIG_ROUTES}
        documented = _answers(browser, requests)
    for ours, theirs in zip(plain, documented, strict=True):
        assert ours == theirs
