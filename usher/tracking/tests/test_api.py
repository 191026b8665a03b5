"""The organizer's tracking-code API: CRUD, validation, conflicts, tenancy, write-only."""

from __future__ import annotations

import logging

import pytest

from conftest import JsonClient
from usher.events.names import StandardEvent
from usher.marketplace.models import OrganizerApiToken
from usher.marketplace.tests.factories import EventFactory, OrganizerFactory
from usher.tracking.models import EventTrackingCode
from usher.tracking.tests.factories import EventTrackingCodeFactory

pytestmark = pytest.mark.django_db

URL = "/api/marketplace-client/organizer/tracking-codes"
TOKEN = "EAAB-very-secret-access-token-0001"
META = {"pixel_id": "557085890510243"}


def _create(api: JsonClient, **body):
    return api.post(URL, {"provider": "meta", "settings": dict(META), **body})


def test_an_organizer_creates_a_default_code(organizer_api, organizer):
    response = _create(organizer_api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["provider"] == "meta" and body["event"] is None
    assert body["level"] == "organizer_default" and body["enabled"] is True
    assert body["settings"]["pixel_id"] == "557085890510243"
    assert body["settings"]["conversion_events"] == [
        "page_view",
        "view_item",
        "add_to_cart",
        "begin_checkout",
        "purchase",
    ]
    code = EventTrackingCode.objects.get(pk=body["id"])
    assert code.organizer == organizer and code.client == organizer.client


def test_an_organizer_creates_an_event_code(organizer_api, event):
    response = _create(organizer_api, event=event.pk)
    assert response.status_code == 201
    assert response.json()["event"] == event.pk and response.json()["level"] == "event"


@pytest.mark.parametrize(
    ("provider", "settings", "field"),
    [
        ("meta", {"pixel_id": "123"}, "pixel_id"),
        ("ga4", {"measurement_id": "UA-1234-5"}, "measurement_id"),
        ("gtm", {"container_id": "GTM-1"}, "container_id"),
        ("google_ads", {"conversion_id": "AW-12"}, "conversion_id"),
        ("tiktok", {"pixel_code": "short"}, "pixel_code"),
        ("meta", {**META, "conversion_events": ["signup"]}, "conversion_events"),
        ("meta", {**META, "custom_params": {"a": {"b": 1}}}, "custom_params"),
        (
            "google_ads",
            {"conversion_id": "AW-736702401", "conversion_labels": {"purchase": "x"}},
            "conversion_labels",
        ),
    ],
)
def test_invalid_settings_answer_422_naming_the_field(organizer_api, provider, settings, field):
    response = organizer_api.post(URL, {"provider": provider, "settings": settings})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"][:3] == ["body", "settings", field]
    assert EventTrackingCode.objects.count() == 0


def test_an_unknown_provider_answers_422(organizer_api):
    response = organizer_api.post(URL, {"provider": "snapchat", "settings": META})
    assert response.status_code == 422
    assert "provider" in response.json()["detail"][0]["loc"]


def test_a_duplicate_default_answers_409_with_the_existing_id(organizer_api):
    first = _create(organizer_api).json()
    response = organizer_api.post(
        URL, {"provider": "meta", "settings": {"pixel_id": "1994206721399887"}}
    )
    assert response.status_code == 409
    assert response.json()["existing_id"] == first["id"]


def test_a_duplicate_event_code_answers_409_with_the_existing_id(organizer_api, event):
    first = _create(organizer_api, event=event.pk).json()
    response = _create(organizer_api, event=event.pk)
    assert response.status_code == 409 and response.json()["existing_id"] == first["id"]
    # ...while a default for the same provider is fine.
    assert _create(organizer_api).status_code == 201


def test_another_organizers_event_is_a_404(organizer_api, organizer):
    foreign = EventFactory(organizer=OrganizerFactory(client=organizer.client))
    assert _create(organizer_api, event=foreign.pk).status_code == 404
    assert _create(organizer_api, event=999999).status_code == 404
    assert EventTrackingCode.objects.count() == 0


def test_another_organizers_code_is_a_404_everywhere(organizer_api, organizer):
    foreign = EventTrackingCodeFactory(organizer=OrganizerFactory(client=organizer.client))
    path = f"{URL}/{foreign.pk}"
    assert organizer_api.get(path).status_code == 404
    assert organizer_api.put(path, {"provider": "meta", "settings": META}).status_code == 404
    assert organizer_api.delete(path).status_code == 404
    foreign.refresh_from_db()
    assert foreign.settings["pixel_id"] != META["pixel_id"]


def test_the_list_shows_only_own_codes_with_filters_and_pagination(organizer_api, organizer, event):
    own_default = EventTrackingCodeFactory(organizer=organizer)
    own_event = EventTrackingCodeFactory(organizer=organizer, event=event)
    own_ga4 = EventTrackingCodeFactory(
        organizer=organizer,
        provider="ga4",
        enabled=False,
        settings={"measurement_id": "G-PSW1MY7HB4"},
    )
    EventTrackingCodeFactory(organizer=OrganizerFactory(client=organizer.client))

    def ids(**params) -> list[int]:
        body = organizer_api.get(URL, **params).json()
        return sorted(item["id"] for item in body["items"])

    assert ids() == sorted([own_default.pk, own_event.pk, own_ga4.pk])
    assert ids(provider="ga4") == [own_ga4.pk]
    assert ids(event=event.pk) == [own_event.pk]
    assert ids(event="default") == sorted([own_default.pk, own_ga4.pk])
    assert ids(enabled="false") == [own_ga4.pk]
    page = organizer_api.get(URL, limit=2, offset=0).json()
    assert page["count"] == 3 and len(page["items"]) == 2
    assert organizer_api.get(URL, event="abc").status_code == 422


def test_put_replaces_the_code_and_keeps_the_token_when_left_out(organizer_api, event):
    created = _create(organizer_api, settings={**META, "access_token": TOKEN}).json()
    assert created["has_access_token"] is True
    response = organizer_api.put(
        f"{URL}/{created['id']}",
        {
            "provider": "meta",
            "event": event.pk,
            "enabled": False,
            "settings": {"pixel_id": "1994206721399887", "conversion_events": ["purchase"]},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["event"] == event.pk and body["enabled"] is False
    assert body["settings"]["pixel_id"] == "1994206721399887"
    assert body["has_access_token"] is True
    code = EventTrackingCode.objects.get(pk=created["id"])
    assert code.get_secret("access_token") == TOKEN


def test_put_with_a_null_token_removes_it(organizer_api):
    created = _create(organizer_api, settings={**META, "access_token": TOKEN}).json()
    response = organizer_api.put(
        f"{URL}/{created['id']}", {"provider": "meta", "settings": {**META, "access_token": None}}
    )
    assert response.json()["has_access_token"] is False


def test_put_into_a_taken_slot_answers_409(organizer_api, event):
    default = _create(organizer_api).json()
    specific = _create(organizer_api, event=event.pk).json()
    response = organizer_api.put(f"{URL}/{specific['id']}", {"provider": "meta", "settings": META})
    assert response.status_code == 409 and response.json()["existing_id"] == default["id"]


def test_delete_removes_the_code(organizer_api):
    created = _create(organizer_api).json()
    assert organizer_api.delete(f"{URL}/{created['id']}").status_code == 204
    assert not EventTrackingCode.objects.filter(pk=created["id"]).exists()


def test_a_google_ads_refresh_token_is_write_only(organizer_api):
    refresh_token = "1//0g-google-ads-refresh-token"
    ads = {"conversion_id": "AW-736702401", "customer_id": "123-456-7890"}
    response = organizer_api.post(
        URL, {"provider": "google_ads", "settings": {**ads, "refresh_token": refresh_token}}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["has_refresh_token"] is True and body["has_access_token"] is False
    assert refresh_token not in response.content.decode()
    assert refresh_token not in organizer_api.get(f"{URL}/{body['id']}").content.decode()
    assert EventTrackingCode.objects.get(pk=body["id"]).get_secret("refresh_token") == (
        refresh_token
    )


def test_the_access_token_is_write_only_and_never_logged(organizer_api, caplog):
    caplog.set_level(logging.DEBUG)
    created = _create(organizer_api, settings={**META, "access_token": TOKEN})
    code_id = created.json()["id"]
    responses = [
        created,
        organizer_api.get(URL),
        organizer_api.get(f"{URL}/{code_id}"),
        organizer_api.put(
            f"{URL}/{code_id}", {"provider": "meta", "settings": {**META, "access_token": TOKEN}}
        ),
        organizer_api.post(
            URL, {"provider": "meta", "settings": {**META, "access_token": TOKEN}}
        ),  # 409
        organizer_api.post(
            URL,
            {"provider": "gtm", "settings": {"container_id": "GTM-T37L75D", "access_token": TOKEN}},
        ),  # 422
    ]
    for response in responses:
        assert TOKEN not in response.content.decode()
    assert "access_token" not in created.json()["settings"]
    assert created.json()["has_access_token"] is True
    assert TOKEN not in caplog.text
    for record in caplog.records:
        assert TOKEN not in record.getMessage() and TOKEN not in str(record.args)
    assert TOKEN not in str(EventTrackingCode.objects.get(pk=code_id).settings)


def test_the_api_needs_an_organizer_token(organizer):
    assert JsonClient().get(URL).status_code == 401
    assert JsonClient("ush_org_wrong").get(URL).status_code == 401
    _, secret = OrganizerApiToken.issue(organizer)
    assert JsonClient(secret).get(URL).status_code == 200


def test_the_endpoints_are_documented(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert f"{URL}" in paths and f"{URL}/{{code_id}}" in paths
    assert "/api/marketplace-client/events/{slug}/tracking-config" in paths


def _patch(api: JsonClient, code_id: int, body):
    return api.request("PATCH", f"{URL}/{code_id}", body)


def test_patch_changes_only_the_fields_sent(organizer_api, event):
    settings = {**META, "access_token": TOKEN, "custom_params": {"team": "a"}}
    created = _create(organizer_api, event=event.pk, settings=settings).json()
    response = _patch(organizer_api, created["id"], {"enabled": False})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["enabled"] is False
    assert body["event"] == event.pk
    assert body["settings"] == created["settings"]
    assert body["has_access_token"] is True


def test_patch_merges_settings_and_null_resets_a_key_or_removes_a_credential(organizer_api):
    settings = {**META, "access_token": TOKEN, "conversion_events": ["purchase"]}
    created = _create(organizer_api, settings=settings).json()
    response = _patch(
        organizer_api,
        created["id"],
        {"settings": {"advanced_matching": True, "conversion_events": None, "access_token": None}},
    )
    body = response.json()
    assert body["settings"]["pixel_id"] == META["pixel_id"]
    assert body["settings"]["advanced_matching"] is True
    assert body["settings"]["conversion_events"] == list(StandardEvent.values)
    assert body["has_access_token"] is False


def test_patch_checks_like_put(organizer_api, event, organizer):
    default = _create(organizer_api).json()
    event_code = _create(organizer_api, event=event.pk).json()
    conflict = _patch(organizer_api, event_code["id"], {"event": None})
    assert conflict.status_code == 409
    assert conflict.json()["existing_id"] == default["id"]
    invalid = _patch(organizer_api, default["id"], {"settings": {"pixel_id": "nope"}})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "settings", "pixel_id"]
    null = _patch(organizer_api, default["id"], {"enabled": None})
    assert null.status_code == 422
    assert null.json()["detail"][0]["loc"] == ["body", "enabled"]
    other = EventTrackingCodeFactory(organizer=OrganizerFactory(client=organizer.client))
    assert _patch(organizer_api, other.pk, {"enabled": False}).status_code == 404
    assert EventTrackingCode.objects.get(pk=default["id"]).enabled is True
