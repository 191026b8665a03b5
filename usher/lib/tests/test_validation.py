"""Inputs PostgreSQL cannot store or read back are refused with a clear 4xx, never a 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from usher.lib.middleware import MAX_JSON_DEPTH, json_depth_exceeds
from usher.marketplace.models import MarketplaceOrganizer
from usher.tracking.models import EventTrackingCode

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1900-01-01T00:00:00Z"]
)
def test_out_of_range_dates_are_422_on_ingest(ingest, organizer, when):
    event = {
        "external_id": "ev",
        "organizer_external_id": organizer.external_id,
        "slug": "ev",
        "name": "Ev",
        "starts_at": when,
    }
    response = ingest.put("/api/ingest/events", event)
    assert response.status_code == 422
    assert "starts_at" in json.dumps(response.json())


def test_out_of_range_times_are_422_on_the_collector(marketplace):
    body = {
        "events": [{"event_id": "e-1", "name": "page_view", "time": "0001-01-01T00:00:00+14:00"}]
    }
    response = Client().post(
        f"/api/collect?site_key={marketplace.site_key}",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/ingest/organizers", {"external_id": "o", "name": "bad\u0000name"}),
        ("/api/ingest/organizers", {"external_id": "o", "name": "ok", "\u0000": 1}),
    ],
)
def test_nul_characters_are_refused_before_any_write(ingest, path, body):
    response = ingest.put(path, body)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_a_nul_on_the_public_collector_is_400(marketplace):
    body = {"events": [{"event_id": "e-1", "name": "page_view", "utm": {"source": "x\u0000"}}]}
    response = Client().post(
        f"/api/collect?site_key={marketplace.site_key}",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 400


def test_a_literal_backslash_u0000_text_is_not_a_nul(ingest):
    body = {"external_id": "o", "name": "C:\\u0000dir"}
    response = ingest.put("/api/ingest/organizers", body)
    assert response.status_code == 200, response.content


def test_a_nul_in_the_query_string_is_400(organizer_api):
    assert (
        organizer_api.get("/api/marketplace-client/organizer/events", x="a\x00b").status_code == 400
    )


def test_a_nul_in_any_value_of_a_repeated_query_parameter_is_400(organizer_api):
    url = "/api/marketplace-client/organizer/events?x=a%00b&x=ok"
    assert organizer_api.get(url).status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/api/marketplace-client/events/a%00b/tracking-config",
        "/api/marketplace-client/organizers/%00/tracking-config",
        "/api/marketplace-client/tracking-config%00",
    ],
)
def test_a_nul_in_the_path_is_400_not_a_failed_lookup(marketplace, path):
    response = Client().get(path, {"site_key": marketplace.site_key})
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "found"),
    [
        ("GET", "/api/marketplace-client/events/e/tracking-config", 404),
        ("GET", "/api/marketplace-client/tracking-config", 404),
        ("POST", "/api/collect", 401),
    ],
)
def test_a_nul_in_the_site_key_header_names_no_client(marketplace, method, path, found):
    key = marketplace.site_key + "\x00"
    response = Client().generic(
        method, path, '{"events": []}', "application/json", headers={"X-Usher-Site-Key": key}
    )
    assert response.status_code == found


@pytest.mark.parametrize("query", [{"offset": "99999999999999999999999"}, {"limit": "1000000000"}])
def test_pagination_is_bounded(organizer_api, query):
    assert organizer_api.get("/api/marketplace-client/organizer/events", **query).status_code == 422


@pytest.mark.parametrize("event", ["²", "9" * 5000, "99999999999999999999999"])
def test_odd_event_filters_are_422_not_500(organizer_api, event):
    response = organizer_api.get("/api/marketplace-client/organizer/tracking-codes", event=event)
    assert response.status_code == 422


DEEP = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"a":' * 2000 + b"1" + b"}" * 2000


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT, b'{"x": "\\u0000", "y": ' + DEEP + b"}"])
@pytest.mark.parametrize(
    "path", ["/api/collect", "/api/ingest/orders/batch", "/api/marketplace-client/tracking-config"]
)
def test_deeply_nested_json_is_400_before_authentication(path, body):
    response = Client().post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested deeper" in response.json()["detail"]


def test_brackets_inside_strings_do_not_count_as_nesting(ingest):
    body = {"external_id": "o", "name": "[" * 100 + "{" * 90}
    assert ingest.put("/api/ingest/organizers", body).status_code == 200


def test_a_lone_surrogate_in_custom_params_is_422_naming_the_field(organizer_api):
    body = (
        '{"provider": "meta", "settings": {"pixel_id": "557085890510243", '
        '"custom_params": {"team": "\\ud800"}}}'
    )
    response = organizer_api.post("/api/marketplace-client/organizer/tracking-codes", body)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "settings", "custom_params", "team"]
    assert "surrogate" in error["msg"]
    assert not EventTrackingCode.objects.exists()


def test_a_lone_surrogate_in_a_key_is_refused_and_a_valid_pair_is_kept(ingest):
    refused = ingest.put("/api/ingest/organizers", '{"external_id": "o", "\\udfff": 1}')
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "\udfff"]
    kept = ingest.put("/api/ingest/organizers", '{"external_id": "o", "name": "\\ud83c\\udfb8"}')
    assert kept.status_code == 200, kept.content
    assert MarketplaceOrganizer.objects.get(external_id="o").name == "\N{GUITAR}"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_utf16_body_is_told_to_send_utf8(marketplace, encoding):
    body = json.dumps({"events": [{"event_id": "e-1", "name": "page_view"}]}).encode(encoding)
    response = Client().post(
        f"/api/collect?site_key={marketplace.site_key}", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "send JSON encoded as UTF-8" in response.json()["detail"]
    assert encoding.split("-")[1] in response.json()["detail"]


def test_invalid_utf8_is_400(ingest):
    response = ingest.put("/api/ingest/organizers", b'{"external_id": "\xff"}')
    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"]


@pytest.mark.parametrize("megabytes", [3, 20])
def test_bodies_over_the_upload_limit_are_a_json_413_everywhere(marketplace, ingest, megabytes):
    body = b'{"events": [], "padding": "' + b"y" * (megabytes << 20) + b'"}'
    for response in (
        Client().post(
            f"/api/collect?site_key={marketplace.site_key}", body, content_type="text/plain"
        ),
        ingest.post("/api/ingest/orders/batch", body),
    ):
        assert response.status_code == 413
        assert "over" in response.json()["detail"]


def _nested(depth: int) -> bytes:
    return json.dumps(json.loads("[" * depth + "]" * depth)).encode()


@pytest.mark.parametrize(
    ("body", "too_deep"),
    [
        (_nested(MAX_JSON_DEPTH), False),
        (_nested(MAX_JSON_DEPTH + 1), True),
        (b'{"a": [' * 20 + b"1" + b"]}" * 20, True),  # 40 levels, mixed
        (b'["' + b"[" * 100 + b'"]', False),  # brackets inside a string
        (json.dumps(["\\", '"' + "[" * 40, []]).encode(), False),  # escaped \\ and "
        (b"[" * 40, False),  # unbalanced: the parser's 400, not a depth verdict
    ],
)
def test_the_depth_check_counts_nesting_outside_strings(body, too_deep):
    assert json_depth_exceeds(body, MAX_JSON_DEPTH) is too_deep
