"""Meta Conversions API: valid batches, each kind of rejection, and Meta-style dedup."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from usher.sandbox.tests.conftest import META_PIXEL, TOKEN, FakeClock, capi, meta_event, sha

DAY = 24 * 3600


def test_a_valid_batch_is_accepted_and_counted(client: httpx.Client, clock: FakeClock) -> None:
    events = [
        meta_event(clock),
        meta_event(clock, event_name="ViewContent", event_id="v-1", custom_data={}),
    ]
    response = capi(client, events)
    assert response.status_code == 200
    body = response.json()
    assert body["events_received"] == 2 and body["messages"] == [] and body["fbtrace_id"]
    report = client.get(
        "/_sandbox/events", params={"platform": "meta", "account": META_PIXEL}
    ).json()
    assert [e["event_name"] for e in report["events"]] == ["Purchase", "ViewContent"]


def test_form_encoded_data_and_a_bearer_token_are_accepted(
    client: httpx.Client, clock: FakeClock
) -> None:
    response = client.post(
        f"/meta/v25.0/{META_PIXEL}/events",
        headers={"Authorization": f"Bearer {TOKEN}"},
        data={"data": json.dumps([meta_event(clock)]), "test_event_code": "TEST123"},
    )
    assert response.json()["events_received"] == 1
    assert client.get("/_sandbox/events").json()["events"][0]["test"] is True


def test_a_missing_token_is_refused_with_code_104(client: httpx.Client, clock: FakeClock) -> None:
    response = client.post(f"/meta/v25.0/{META_PIXEL}/events", json={"data": [meta_event(clock)]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 104
    assert response.json()["error"]["type"] == "OAuthException"


def test_an_invalid_token_is_refused_with_code_190(client: httpx.Client, clock: FakeClock) -> None:
    response = capi(client, [meta_event(clock)], token="EAAB-not-a-sandbox-token")
    assert response.json()["error"]["code"] == 190


def test_an_unknown_pixel_is_refused_with_100_subcode_33(
    client: httpx.Client, clock: FakeClock
) -> None:
    client.post(
        "/_sandbox/accounts", json={"platform": "meta", "account_id": META_PIXEL, "known": False}
    )
    error = capi(client, [meta_event(clock)]).json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (
        100,
        33,
        "GraphMethodException",
    )
    assert "does not exist" in error["message"]
    malformed = capi(client, [meta_event(clock)], pixel="12345").json()["error"]
    assert malformed["error_subcode"] == 33


def test_a_deprecated_api_version_is_refused(client: httpx.Client, clock: FakeClock) -> None:
    response = client.post(
        f"/meta/v17.0/{META_PIXEL}/events",
        params={"access_token": TOKEN},
        json={"data": [meta_event(clock)]},
    )
    assert response.json()["error"]["code"] == 2635


def _without(event: dict[str, Any], *path: str) -> dict[str, Any]:
    target = event
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return event


INVALID_EVENTS = {
    "missing event_name": (lambda e: _without(e, "event_name"), "Missing event_name"),
    "missing event_time": (lambda e: _without(e, "event_time"), "Missing event_time"),
    "event_time not a number": (lambda e: {**e, "event_time": "yesterday"}, "Invalid event_time"),
    "missing action_source": (lambda e: _without(e, "action_source"), "Missing action_source"),
    "unknown action_source": (lambda e: {**e, "action_source": "fax"}, "Invalid action_source"),
    "missing user_data": (lambda e: _without(e, "user_data"), "Missing user_data"),
    "no identifier": (
        lambda e: {**e, "user_data": {"country": []}},
        "Missing Customer Information",
    ),
    "unhashed email": (
        lambda e: {**e, "user_data": {**e["user_data"], "em": ["ana@example.com"]}},
        "Unhashed Customer Information",
    ),
    "uppercase hash": (
        lambda e: {**e, "user_data": {**e["user_data"], "ph": sha("1").upper()}},
        "Unhashed Customer Information",
    ),
    "hashed ip address": (
        lambda e: {**e, "user_data": {**e["user_data"], "client_ip_address": sha("1.2.3.4")}},
        "Invalid client_ip_address",
    ),
    "website without user agent": (
        lambda e: _without(e, "user_data", "client_user_agent"),
        "Missing client_user_agent",
    ),
    "website without url": (lambda e: _without(e, "event_source_url"), "Missing event_source_url"),
    "purchase without currency": (
        lambda e: {**e, "custom_data": {"value": 5}},
        "Missing Purchase Value",
    ),
    "value not a number": (
        lambda e: {**e, "custom_data": {"value": "five", "currency": "EUR"}},
        "Invalid value",
    ),
    "event not an object": (lambda e: "Purchase", "Invalid Event"),
}


@pytest.mark.parametrize("case", INVALID_EVENTS, ids=list(INVALID_EVENTS))
def test_an_invalid_event_rejects_the_whole_batch_with_code_100(
    client: httpx.Client, clock: FakeClock, case: str
) -> None:
    mutate, title = INVALID_EVENTS[case]
    good = meta_event(clock, event_id="good")
    response = capi(client, [good, mutate(meta_event(clock))])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100 and error["error_user_title"] == title
    assert error["error_data"]["blame_field_specs"][0][:2] == ["data", 1]
    assert client.get("/_sandbox/events").json()["received"] == 0  # all-or-nothing


def test_an_event_older_than_7_days_rejects_the_whole_batch_with_subcode_2804003(
    client: httpx.Client, clock: FakeClock
) -> None:
    stale = meta_event(clock, event_time=int(clock.now) - 7 * DAY - 1)
    error = capi(client, [meta_event(clock), stale]).json()["error"]
    assert (error["code"], error["error_subcode"]) == (100, 2804003)
    assert (
        capi(client, [meta_event(clock, event_time=int(clock.now) - 7 * DAY + 60)]).status_code
        == 200
    )


def test_an_event_in_the_future_is_rejected(client: httpx.Client, clock: FakeClock) -> None:
    error = capi(client, [meta_event(clock, event_time=int(clock.now) + 3600)]).json()["error"]
    assert error["error_user_title"] == "Event Timestamp In Future"
    millis = capi(client, [meta_event(clock, event_time=int(clock.now * 1000))]).json()["error"]
    assert millis["error_user_title"] == "Event Timestamp In Future"


def test_more_than_1000_events_are_rejected(client: httpx.Client, clock: FakeClock) -> None:
    error = capi(client, [meta_event(clock, event_id=str(n)) for n in range(1001)]).json()["error"]
    assert error["code"] == 100 and "1000" in error["error_user_msg"]
    assert (
        capi(client, [meta_event(clock, event_id=str(n)) for n in range(1000)]).json()[
            "events_received"
        ]
        == 1000
    )


def test_missing_or_empty_data_is_rejected(client: httpx.Client) -> None:
    url = f"/meta/v25.0/{META_PIXEL}/events"
    assert client.post(url, params={"access_token": TOKEN}, json={}).json()["error"]["code"] == 100
    assert (
        client.post(url, params={"access_token": TOKEN}, json={"data": []}).json()["error"]["code"]
        == 100
    )
    broken = client.post(
        url,
        params={"access_token": TOKEN},
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert broken.json()["error"]["code"] == 100


def test_dedup_counts_the_same_event_name_and_id_within_48_hours_once(
    client: httpx.Client, clock: FakeClock
) -> None:
    capi(client, [meta_event(clock)])
    clock.advance(3600)
    capi(client, [meta_event(clock)])  # same name + id: duplicate
    capi(client, [meta_event(clock, event_name="AddToCart", custom_data={})])  # same id, other name
    capi(client, [meta_event(clock, event_id=None)])  # no id: never deduplicated
    capi(client, [meta_event(clock, event_id=None)])
    report = client.get(
        "/_sandbox/events", params={"platform": "meta", "account": META_PIXEL}
    ).json()
    assert (report["received"], report["unique"], report["duplicates"]) == (5, 4, 1)
    assert report["events"][1]["duplicate_of"] == report["events"][0]["seq"]

    clock.advance(48 * 3600)  # 49 h after the first: outside the window, a new original
    capi(client, [meta_event(clock)])
    later = client.get("/_sandbox/events", params={"platform": "meta"}).json()
    assert later["events"][-1]["duplicate"] is False


def test_an_unknown_graph_path_answers_2500(client: httpx.Client) -> None:
    response = client.get(f"/meta/v25.0/{META_PIXEL}/nonsense/edge", params={"access_token": TOKEN})
    assert response.json()["error"]["code"] == 2500
    assert (
        client.get(f"/meta/v25.0/{META_PIXEL}/events", params={"access_token": TOKEN}).json()[
            "error"
        ]["code"]
        == 100
    )


def test_a_pixel_can_be_read_to_check_its_id_and_token(
    client: httpx.Client, clock: FakeClock
) -> None:
    fields = {"access_token": TOKEN, "fields": "name,last_fired_time"}
    assert client.get(f"/meta/v25.0/{META_PIXEL}", params=fields).json() == {
        "id": META_PIXEL,
        "name": f"Sandbox pixel {META_PIXEL}",
    }
    capi(client, [meta_event(clock)])
    assert (
        client.get(f"/meta/v25.0/{META_PIXEL}", params=fields).json()["last_fired_time"]
        == "2026-01-01T12:00:00+0000"
    )
    assert (
        client.get(f"/meta/v25.0/{META_PIXEL}", params={**fields, "access_token": "bad"}).json()[
            "error"
        ]["code"]
        == 190
    )
    client.post(
        "/_sandbox/accounts", json={"platform": "meta", "account_id": META_PIXEL, "known": False}
    )
    assert (
        client.get(f"/meta/v25.0/{META_PIXEL}", params=fields).json()["error"]["error_subcode"]
        == 33
    )


def test_a_full_batch_is_logged_as_a_head_but_every_event_is_kept(
    client: httpx.Client, clock: FakeClock
) -> None:
    events = [meta_event(clock, event_id=f"order-{n}:Purchase") for n in range(1000)]
    assert capi(client, events).json()["events_received"] == 1000
    logged = client.get("/_sandbox/requests").json()["requests"][0]["body"]
    assert logged["truncated"] is True and logged["bytes"] > 256 * 1024
    assert client.get("/_sandbox/events").json()["unique"] == 1000


def test_contents_with_quantity_and_price_are_accepted(
    client: httpx.Client, clock: FakeClock
) -> None:
    custom = {
        "currency": "EUR",
        "value": 90.0,
        "num_items": 2,
        "contents": [{"id": "gala", "quantity": 2, "item_price": 45.0, "title": "VIP"}],
    }
    assert capi(client, [meta_event(clock, custom_data=custom)]).json()["events_received"] == 1


@pytest.mark.parametrize(
    ("custom", "field"),
    [
        ({"contents": {"id": "gala"}}, ["custom_data", "contents"]),
        ({"contents": [{"quantity": 1}]}, ["custom_data", "contents", "0"]),
        (
            {"contents": [{"id": "gala", "quantity": 1.5}]},
            ["custom_data", "contents", "0", "quantity"],
        ),
        (
            {"contents": [{"id": "gala", "quantity": 1, "item_price": "x"}]},
            ["custom_data", "contents", "0", "item_price"],
        ),
        ({"num_items": "many"}, ["custom_data", "num_items"]),
    ],
)
def test_malformed_contents_or_item_counts_are_refused(
    client: httpx.Client, clock: FakeClock, custom: dict[str, Any], field: list[str]
) -> None:
    event = meta_event(clock, custom_data={"currency": "EUR", "value": 1.0, **custom})
    error = capi(client, [event]).json()["error"]
    assert error["code"] == 100
    assert error["error_data"]["blame_field_specs"][0] == ["data", 0, *field]
    assert client.get("/_sandbox/events").json()["received"] == 0
