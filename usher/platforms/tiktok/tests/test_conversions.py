"""TikTok Events API connector against the sandbox: wire format, hashing, partial success.

What every connector does (errors, secrets, limits, registry) is in
usher/platforms/tests/test_connectors_common.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from usher.lib.http import set_transport_for_tests
from usher.platforms.base import OutcomeStatus
from usher.platforms.tests.helpers import sent_body
from usher.platforms.tiktok.conversions import TikTokConversionsConnector
from usher.platforms.tiktok.tests.builders import PIXEL, destination, purchase
from usher.sandbox.testing import MountedSandbox as Sandbox
from usher.sandbox.testing import sha

FIXTURES = Path(__file__).parent / "fixtures"


def test_a_purchase_reaches_tiktok_in_events_api_format_with_hashed_user_data(
    sandbox: Sandbox,
) -> None:
    event = purchase()

    result = TikTokConversionsConnector().send_conversions(destination(), [event])

    assert [(o.event_id, o.status) for o in result.outcomes] == [
        ("order-1001:purchase", OutcomeStatus.DELIVERED)
    ]
    (entry,) = sandbox.requests(platform="tiktok")
    assert entry["path"] == "/tiktok/open_api/v1.3/event/track/" and entry["status"] == 200
    body = entry["body"]
    assert (body["event_source"], body["event_source_id"]) == ("web", PIXEL)
    (wire,) = body["data"]
    assert wire["event"] == "Purchase"
    assert wire["event_id"] == "order-1001:purchase"
    assert wire["event_time"] == int(event.event_time.timestamp())
    # TikTok's rules: email trimmed+lowercased, phone E.164 with "+", external_id hashed;
    # city/state/country in clear; names and zip hashed; click id, cookie, IP, UA raw.
    assert wire["user"] == {
        "email": [sha("ana.silva+tix@gmail.com")],
        "phone": [sha("+49301234567")],
        "external_id": [sha("cust-42")],
        "first_name": sha("ana"),
        "last_name": sha("oneil"),
        "city": "berlin",
        "country": "de",
        "zip_code": sha("10115"),
        "ttclid": "E.C.P.v3qC1aBcDeF",
        "ttp": "2Xk9abcdEFGH.tt.1",
        "ip": "2001:db8::7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    }
    assert wire["properties"] == {
        "value": 59.9,
        "currency": "EUR",
        "content_type": "product",
        "contents": [{"content_id": "evt-77"}],
        "content_ids": ["evt-77"],
        "num_items": 2,
        "order_id": "order-1001",
    }
    assert wire["page"] == {"url": "https://tickets.example/e/gala"}
    assert wire["limited_data_use"] is False
    recorded = sandbox.events(platform="tiktok")["events"]
    assert [(e["event_name"], e["event_id"]) for e in recorded] == [
        ("Purchase", "order-1001:purchase")
    ]


def test_limited_data_use_is_flagged_per_event(sandbox: Sandbox) -> None:
    TikTokConversionsConnector().send_conversions(destination(), [purchase(limited_data_use=True)])

    assert sent_body(sandbox, "tiktok")["data"][0]["limited_data_use"] is True


def test_a_stale_event_is_rejected_alone_and_the_rest_delivered(sandbox: Sandbox) -> None:
    stale = purchase(event_id="old", event_time=datetime.now(UTC) - timedelta(days=8))

    result = TikTokConversionsConnector().send_conversions(destination(), [stale, purchase()])

    assert [(o.event_id, o.status) for o in result.outcomes] == [
        ("old", OutcomeStatus.REJECTED),
        ("order-1001:purchase", OutcomeStatus.DELIVERED),
    ]
    assert [e["event_id"] for e in sent_body(sandbox, "tiktok")["data"]] == ["order-1001:purchase"]


def test_partial_success_counts_as_delivered_and_keeps_the_message(sandbox: Sandbox) -> None:
    answer = json.loads((FIXTURES / "track_partial_success_response.json").read_text())
    set_transport_for_tests(
        "tiktok", httpx.MockTransport(lambda r: httpx.Response(200, json=answer))
    )

    result = TikTokConversionsConnector().send_conversions(destination(), [purchase()])

    (outcome,) = result.outcomes
    assert outcome.status is OutcomeStatus.DELIVERED
    assert (outcome.error_code, outcome.error_message) == ("20001", answer["message"])
