"""GA4 Measurement Protocol: collect never complains; the debug endpoint says what is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from usher.sandbox.state import SandboxState
from usher.sandbox.tests.conftest import GA4_ID, TOKEN, FakeClock

PARAMS = {"measurement_id": GA4_ID, "api_secret": TOKEN}


def hit(**overrides: Any) -> dict[str, Any]:
    return {
        "client_id": "123.456",
        "events": [
            {
                "name": "purchase",
                "params": {
                    "transaction_id": "order-1",
                    "currency": "EUR",
                    "value": 50.0,
                    "session_id": "1",
                    "engagement_time_msec": 100,
                },
            }
        ],
        **overrides,
    }


def test_collect_records_a_valid_hit_and_answers_204(client: httpx.Client) -> None:
    response = client.post("/ga4/mp/collect", params=PARAMS, json=hit())
    assert response.status_code == 204 and response.content == b""
    events = client.get("/_sandbox/events", params={"platform": "ga4", "account": GA4_ID}).json()[
        "events"
    ]
    assert [(e["event_name"], e["event_id"]) for e in events] == [("purchase", "order-1")]


def ga4_counts(client: httpx.Client) -> tuple[int, int]:
    report = client.get("/_sandbox/events", params={"platform": "ga4"}).json()
    return report["received"], report["unique"]


def test_a_purchase_resent_by_the_same_user_counts_once(client: httpx.Client) -> None:
    for _ in range(3):
        client.post("/ga4/mp/collect", params=PARAMS, json=hit())
    assert ga4_counts(client) == (3, 1)


def test_the_same_transaction_id_from_another_user_counts_again(client: httpx.Client) -> None:
    client.post("/ga4/mp/collect", params=PARAMS, json=hit())
    client.post("/ga4/mp/collect", params=PARAMS, json=hit(client_id="789.012"))
    assert ga4_counts(client) == (2, 2)


def test_resent_non_purchase_events_and_purchases_without_transaction_id_all_count(
    client: httpx.Client,
) -> None:
    view = {"name": "view_item", "params": {"event_id": "e-1", "transaction_id": "order-1"}}
    bare_purchase = {"name": "purchase", "params": {"currency": "EUR", "value": 5.0}}
    for _ in range(2):
        client.post("/ga4/mp/collect", params=PARAMS, json=hit(events=[view, bare_purchase]))
    assert ga4_counts(client) == (4, 4)


def test_purchase_deduplication_survives_a_saved_and_reloaded_state(tmp_path: Path) -> None:
    state = SandboxState()
    first = state.record_event("ga4", GA4_ID, "purchase", "o-1", 0.0, {}, 1.0, dedup_scope="a")
    state.save(tmp_path / "state.json")
    reloaded = SandboxState.load(tmp_path / "state.json")
    again = reloaded.record_event("ga4", GA4_ID, "purchase", "o-1", 0.0, {}, 1e9, dedup_scope="a")
    other = reloaded.record_event("ga4", GA4_ID, "purchase", "o-1", 0.0, {}, 1e9, dedup_scope="b")
    assert again["duplicate_of"] == first["seq"] and other["duplicate_of"] is None


def test_collect_answers_204_but_drops_an_invalid_hit_and_says_why_in_the_log(
    client: httpx.Client,
) -> None:
    response = client.post("/ga4/mp/collect", params=PARAMS, json={"events": []})
    assert response.status_code == 204
    assert client.get("/_sandbox/events").json()["received"] == 0
    notes = client.get("/_sandbox/requests", params={"platform": "ga4"}).json()["requests"][0][
        "notes"
    ]
    assert notes[0].startswith("dropped") and any(
        "VALUE_REQUIRED client_id" in note for note in notes
    )


def test_collect_drops_hits_with_a_wrong_api_secret(client: httpx.Client) -> None:
    client.post(
        "/_sandbox/accounts",
        json={"platform": "ga4", "account_id": GA4_ID, "api_secrets": ["s3cr3t"]},
    )
    assert client.post("/ga4/mp/collect", params=PARAMS, json=hit()).status_code == 204
    assert client.get("/_sandbox/events").json()["received"] == 0
    client.post("/ga4/mp/collect", params={**PARAMS, "api_secret": "s3cr3t"}, json=hit())
    assert client.get("/_sandbox/events").json()["received"] == 1


def test_debug_collect_is_empty_for_a_valid_hit_and_records_nothing(client: httpx.Client) -> None:
    response = client.post("/ga4/debug/mp/collect", params=PARAMS, json=hit())
    assert response.json() == {"validationMessages": []}
    assert client.get("/_sandbox/events").json()["received"] == 0


def _long_params() -> dict[str, Any]:
    return {f"p{n}": n for n in range(26)}


INVALID = {
    "no client_id": ({"client_id": None}, "client_id", "VALUE_REQUIRED"),
    "client_id not a string": ({"client_id": 123}, "client_id", "VALUE_INVALID"),
    "no events": ({"events": []}, "events", "VALUE_REQUIRED"),
    "26 events": ({"events": [{"name": "page_view"}] * 26}, "events", "EXCEEDED_MAX_ENTITIES"),
    "bad event name": ({"events": [{"name": "2-fast"}]}, "events[0].name", "NAME_INVALID"),
    "reserved event name": (
        {"events": [{"name": "session_start"}]},
        "events[0].name",
        "NAME_RESERVED",
    ),
    "reserved prefix": (
        {"events": [{"name": "google_purchase"}]},
        "events[0].name",
        "NAME_RESERVED",
    ),
    "26 params": (
        {"events": [{"name": "purchase", "params": _long_params()}]},
        "events[0].params",
        "EXCEEDED_MAX_ENTITIES",
    ),
    "long param value": (
        {"events": [{"name": "purchase", "params": {"note": "x" * 101}}]},
        "events[0].params.note",
        "VALUE_OUT_OF_BOUNDS",
    ),
    "value as text": (
        {"events": [{"name": "purchase", "params": {"value": "50"}}]},
        "events[0].params.value",
        "VALUE_INVALID",
    ),
    "lowercase currency": (
        {"events": [{"name": "purchase", "params": {"currency": "eur"}}]},
        "events[0].params.currency",
        "VALUE_INVALID",
    ),
    "long user property": (
        {"user_properties": {"tier": {"value": "x" * 37}}},
        "user_properties.tier",
        "VALUE_OUT_OF_BOUNDS",
    ),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_debug_collect_reports_each_problem_with_its_validation_code(
    client: httpx.Client, case: str
) -> None:
    overrides, path, code = INVALID[case]
    body = {k: v for k, v in hit(**overrides).items() if v is not None}
    messages = client.post("/ga4/debug/mp/collect", params=PARAMS, json=body).json()[
        "validationMessages"
    ]
    assert {"fieldPath": path, "validationCode": code} in [
        {"fieldPath": m["fieldPath"], "validationCode": m["validationCode"]} for m in messages
    ]


def test_timestamps_can_be_backdated_72_hours_and_no_more(
    client: httpx.Client, clock: FakeClock
) -> None:
    ok = int((clock.now - 71 * 3600) * 1_000_000)
    too_old = int((clock.now - 73 * 3600) * 1_000_000)
    assert (
        client.post("/ga4/debug/mp/collect", params=PARAMS, json=hit(timestamp_micros=ok)).json()[
            "validationMessages"
        ]
        == []
    )
    messages = client.post(
        "/ga4/debug/mp/collect", params=PARAMS, json=hit(timestamp_micros=too_old)
    ).json()["validationMessages"]
    assert messages[0]["validationCode"] == "VALUE_OUT_OF_BOUNDS"


def test_debug_collect_requires_a_measurement_id_and_secret(client: httpx.Client) -> None:
    messages = client.post("/ga4/debug/mp/collect", json=hit()).json()["validationMessages"]
    assert [m["fieldPath"] for m in messages][:2] == ["measurement_id", "api_secret"]


def test_collect_reads_json_whatever_the_content_type(client: httpx.Client) -> None:
    client.post(
        "/ga4/mp/collect",
        params=PARAMS,
        content=json.dumps(hit()),
        headers={"Content-Type": "text/plain"},
    )
    assert client.get("/_sandbox/events").json()["received"] == 1
