"""TikTok Events API connector against the sandbox: wire format, hashing, errors, secrets."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from usher.lib.http import set_transport_for_tests
from usher.platforms.base import (
    ConversionEvent,
    ConversionsConnector,
    Destination,
    ErrorKind,
    OutcomeStatus,
    PlatformError,
)
from usher.platforms.registry import get_connector
from usher.platforms.tiktok.conversions import TikTokConversionsConnector
from usher.platforms.tiktok.payloads import EVENT_NAMES, MAX_EVENTS_PER_REQUEST
from usher.sandbox.testing import MountedSandbox as Sandbox
from usher.sandbox.testing import sha

PIXEL = "C0QDA8RC77U2TMR44LI0"
TOKEN = "sandbox-tiktok-access-token-91b2e4"
FIXTURES = Path(__file__).parent / "fixtures"
USER = {
    "email": " Ana.Silva+tix@GMail.com ",
    "phone": "030 1234567",
    "first_name": "Ana",
    "last_name": "O'Neil",
    "city": "Berlin",
    "zip": "10115",
    "country": "de",
    "external_id": "cust-42",
}


def destination(**changes: Any) -> Destination:
    base = {"platform": "tiktok", "account_id": PIXEL, "access_token": TOKEN}
    return Destination(**(base | changes))


def purchase(**changes: Any) -> ConversionEvent:
    fields: dict[str, Any] = {
        "event_id": "order-1001:purchase",
        "event_name": "purchase",
        "event_time": datetime.now(UTC) - timedelta(minutes=5),
        "event_source_url": "https://tickets.example/e/gala",
        "value": Decimal("59.90"),
        "currency": "eur",
        "content_ids": ["evt-77"],
        "num_items": 2,
        "order_id": "order-1001",
        "user_data": dict(USER),
        "client_ip": "2001:db8::7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "ttclid": "E.C.P.v3qC1aBcDeF",
        "ttp": "2Xk9abcdEFGH.tt.1",
    }
    return ConversionEvent(**(fields | changes))


def sent_body(sandbox: Sandbox) -> dict[str, Any]:
    (entry,) = sandbox.requests(platform="tiktok")
    return entry["body"]


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

    assert sent_body(sandbox)["data"][0]["limited_data_use"] is True


def test_the_test_event_code_is_sent_when_the_destination_has_one(sandbox: Sandbox) -> None:
    TikTokConversionsConnector().send_conversions(
        destination(test_event_code="TEST31415"), [purchase()]
    )

    assert sent_body(sandbox)["test_event_code"] == "TEST31415"
    assert sandbox.events(platform="tiktok")["events"][0]["test"] is True


def test_a_placeholder_phone_is_dropped_without_failing_the_batch(sandbox: Sandbox) -> None:
    events = [purchase(user_data=USER | {"phone": "+0000000000"}), purchase(event_id="o2:p")]

    result = TikTokConversionsConnector().send_conversions(destination(), events)

    assert [o.status for o in result.outcomes] == [OutcomeStatus.DELIVERED] * 2
    first, second = sent_body(sandbox)["data"]
    assert "phone" not in first["user"] and first["user"]["email"]
    assert second["user"]["phone"] == [sha("+49301234567")]


def test_a_stale_event_is_rejected_alone_and_the_rest_delivered(sandbox: Sandbox) -> None:
    stale = purchase(event_id="old", event_time=datetime.now(UTC) - timedelta(days=8))

    result = TikTokConversionsConnector().send_conversions(destination(), [stale, purchase()])

    assert [(o.event_id, o.status) for o in result.outcomes] == [
        ("old", OutcomeStatus.REJECTED),
        ("order-1001:purchase", OutcomeStatus.DELIVERED),
    ]
    assert [e["event_id"] for e in sent_body(sandbox)["data"]] == ["order-1001:purchase"]


def test_a_full_batch_of_1000_goes_in_one_request_and_1001_is_refused(sandbox: Sandbox) -> None:
    connector = TikTokConversionsConnector()
    events = [
        purchase(event_id=f"e{i}", event_name="view_item", user_data={}, value=None)
        for i in range(MAX_EVENTS_PER_REQUEST + 1)
    ]

    with pytest.raises(ValueError, match="at most 1000"):
        connector.send_conversions(destination(), events)
    result = connector.send_conversions(destination(), events[:MAX_EVENTS_PER_REQUEST])

    assert len(result.with_status(OutcomeStatus.DELIVERED)) == MAX_EVENTS_PER_REQUEST
    assert len(sandbox.requests(platform="tiktok")) == 1  # (its body is too big to log)
    assert sandbox.events(platform="tiktok")["received"] == MAX_EVENTS_PER_REQUEST


def test_an_invalid_token_raises_a_permanent_auth_error(sandbox: Sandbox) -> None:
    with pytest.raises(PlatformError) as caught:
        TikTokConversionsConnector().send_conversions(
            destination(access_token="revoked-tiktok-token"), [purchase()]
        )

    assert caught.value.kind is ErrorKind.AUTH and caught.value.permanent
    assert caught.value.platform_code == "40105"


@pytest.mark.parametrize(
    ("mode", "kind"), [("5xx", ErrorKind.TRANSIENT), ("429", ErrorKind.RATE_LIMITED)]
)
def test_injected_outages_and_throttling_raise_retryable_errors(
    sandbox: Sandbox, mode: str, kind: ErrorKind
) -> None:
    sandbox.fault(platform="tiktok", mode=mode)

    with pytest.raises(PlatformError) as caught:
        TikTokConversionsConnector().send_conversions(destination(), [purchase()])

    assert caught.value.kind is kind and not caught.value.permanent
    assert sandbox.events(platform="tiktok")["received"] == 0


def test_partial_success_counts_as_delivered_and_keeps_the_message(sandbox: Sandbox) -> None:
    answer = json.loads((FIXTURES / "track_partial_success_response.json").read_text())
    set_transport_for_tests(
        "tiktok", httpx.MockTransport(lambda r: httpx.Response(200, json=answer))
    )

    result = TikTokConversionsConnector().send_conversions(destination(), [purchase()])

    (outcome,) = result.outcomes
    assert outcome.status is OutcomeStatus.DELIVERED
    assert (outcome.error_code, outcome.error_message) == ("20001", answer["message"])


def test_the_token_never_reaches_the_request_log_records_or_logs(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connector = TikTokConversionsConnector()
    result = connector.send_conversions(destination(), [purchase()])
    sandbox.fault(platform="tiktok", mode="429")
    with pytest.raises(PlatformError) as caught:
        connector.send_conversions(destination(), [purchase()])

    stored = [result.request, result.response, caught.value.request, caught.value.response]
    assert TOKEN not in repr(stored)
    assert TOKEN not in json.dumps(sandbox.requests())
    assert TOKEN not in caplog.text
    assert result.request is not None and result.request.headers["access-token"] == "***"


def test_the_registry_builds_the_tiktok_connector() -> None:
    connector = get_connector("tiktok")

    assert isinstance(connector, TikTokConversionsConnector)
    assert isinstance(connector, ConversionsConnector)
    assert connector.max_batch_size == 1000


def test_event_names_match_the_pixel_so_tiktok_can_deduplicate() -> None:
    from usher.platforms.tiktok import snippet

    assert snippet.EVENT_NAMES == EVENT_NAMES
