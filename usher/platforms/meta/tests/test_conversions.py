"""Meta CAPI connector against the sandbox: wire format, hashing, LDU, errors, secrets."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from usher.platforms.base import (
    ConversionEvent,
    ConversionsConnector,
    Destination,
    ErrorKind,
    OutcomeStatus,
    PlatformError,
)
from usher.platforms.meta.conversions import MetaConversionsConnector
from usher.platforms.meta.payloads import EVENT_NAMES, MAX_EVENTS_PER_REQUEST
from usher.platforms.registry import get_connector
from usher.sandbox.testing import MountedSandbox as Sandbox
from usher.sandbox.testing import sha

PIXEL = "1234567890123456"
TOKEN = "sandbox-meta-system-user-token-7f3a9c"
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
    return Destination(**{"platform": "meta", "account_id": PIXEL, "access_token": TOKEN} | changes)


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
        "client_ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "fbc": "fb.1.1700000000000.IwAR2xYz",
        "fbp": "fb.1.1700000000000.123456789",
    }
    return ConversionEvent(**(fields | changes))


def sent_body(sandbox: Sandbox) -> dict[str, Any]:
    (entry,) = sandbox.requests(platform="meta")
    return entry["body"]


def test_a_purchase_reaches_meta_in_capi_format_with_normalized_hashed_user_data(
    sandbox: Sandbox,
) -> None:
    event = purchase()

    result = MetaConversionsConnector().send_conversions(destination(), [event])

    assert [(o.event_id, o.status) for o in result.outcomes] == [
        ("order-1001:purchase", OutcomeStatus.DELIVERED)
    ]
    (entry,) = sandbox.requests(platform="meta")
    assert entry["path"] == f"/meta/v25.0/{PIXEL}/events" and entry["status"] == 200
    (wire,) = entry["body"]["data"]
    assert wire["event_name"] == "Purchase"
    assert wire["event_id"] == "order-1001:purchase"  # the pixel's id, for dedup
    assert wire["event_time"] == int(event.event_time.timestamp())
    assert wire["action_source"] == "website"
    assert wire["event_source_url"] == "https://tickets.example/e/gala"
    # Meta's rules: email trimmed+lowercased (Gmail dots and +tag kept), phone digits with
    # the country code and no "+", names/city without punctuation, country lowercase.
    assert wire["user_data"] == {
        "em": [sha("ana.silva+tix@gmail.com")],
        "ph": [sha("49301234567")],
        "fn": [sha("ana")],
        "ln": [sha("oneil")],
        "ct": [sha("berlin")],
        "zp": [sha("10115")],
        "country": [sha("de")],
        "external_id": [sha("cust-42")],
        "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "fbc": "fb.1.1700000000000.IwAR2xYz",
        "fbp": "fb.1.1700000000000.123456789",
    }
    assert wire["custom_data"] == {
        "value": 59.9,
        "currency": "EUR",
        "content_ids": ["evt-77"],
        "content_type": "product",
        "num_items": 2,
        "order_id": "order-1001",
    }
    assert isinstance(wire["custom_data"]["value"], float)
    assert "data_processing_options" not in wire and "test_event_code" not in entry["body"]
    recorded = sandbox.events(platform="meta")["events"]
    assert [(e["event_name"], e["event_id"]) for e in recorded] == [
        ("Purchase", "order-1001:purchase")
    ]


def test_limited_data_use_sends_ldu_and_lets_meta_geolocate(sandbox: Sandbox) -> None:
    MetaConversionsConnector().send_conversions(destination(), [purchase(limited_data_use=True)])

    (wire,) = sent_body(sandbox)["data"]
    assert wire["data_processing_options"] == ["LDU"]
    assert wire["data_processing_options_country"] == 0
    assert wire["data_processing_options_state"] == 0


def test_the_test_event_code_is_sent_when_the_destination_has_one(sandbox: Sandbox) -> None:
    MetaConversionsConnector().send_conversions(
        destination(test_event_code="TEST4711"), [purchase()]
    )

    assert sent_body(sandbox)["test_event_code"] == "TEST4711"
    assert sandbox.events(platform="meta")["events"][0]["test"] is True


def test_a_placeholder_phone_is_dropped_without_failing_the_batch(sandbox: Sandbox) -> None:
    events = [purchase(user_data=USER | {"phone": "+0000000000"}), purchase(event_id="o2:p")]

    result = MetaConversionsConnector().send_conversions(destination(), events)

    assert [o.status for o in result.outcomes] == [OutcomeStatus.DELIVERED] * 2
    first, second = sent_body(sandbox)["data"]
    assert "ph" not in first["user_data"] and first["user_data"]["em"]
    assert second["user_data"]["ph"] == [sha("49301234567")]


def test_an_event_meta_would_refuse_is_rejected_alone_and_the_rest_delivered(
    sandbox: Sandbox,
) -> None:
    events = [purchase(event_id="no-ua", user_agent=None), purchase(event_id="ok")]

    result = MetaConversionsConnector().send_conversions(destination(), events)

    rejected, delivered = result.outcomes
    assert (rejected.event_id, rejected.status) == ("no-ua", OutcomeStatus.REJECTED)
    assert rejected.error_code == "missing_user_agent" and "client_user_agent" in (
        rejected.error_message or ""
    )
    assert (delivered.event_id, delivered.status) == ("ok", OutcomeStatus.DELIVERED)
    assert [e["event_id"] for e in sent_body(sandbox)["data"]] == ["ok"]


def test_a_batch_of_only_refused_events_makes_no_call(sandbox: Sandbox) -> None:
    stale = purchase(event_time=datetime.now(UTC) - timedelta(days=8))

    result = MetaConversionsConnector().send_conversions(destination(), [stale])

    assert result.outcomes[0].status is OutcomeStatus.REJECTED
    assert result.outcomes[0].error_code == "event_too_old"
    assert result.request is None and sandbox.requests() == []


def test_a_full_batch_of_1000_goes_in_one_request_and_1001_is_refused(sandbox: Sandbox) -> None:
    connector = MetaConversionsConnector(max_batch_size=MAX_EVENTS_PER_REQUEST)
    events = [
        purchase(event_id=f"e{i}", event_name="view_item", user_data={}, value=None)
        for i in range(MAX_EVENTS_PER_REQUEST + 1)
    ]

    with pytest.raises(ValueError, match="at most 1000"):
        connector.send_conversions(destination(), events)
    assert sandbox.requests() == []
    result = connector.send_conversions(destination(), events[:MAX_EVENTS_PER_REQUEST])

    assert len(result.with_status(OutcomeStatus.DELIVERED)) == MAX_EVENTS_PER_REQUEST
    assert len(sandbox.requests(platform="meta")) == 1  # (its body is too big to log)
    assert sandbox.events(platform="meta")["received"] == MAX_EVENTS_PER_REQUEST


def test_an_invalid_token_raises_a_permanent_auth_error(sandbox: Sandbox) -> None:
    with pytest.raises(PlatformError) as caught:
        MetaConversionsConnector().send_conversions(
            destination(access_token="EAAB-revoked-token-0000"), [purchase()]
        )

    assert caught.value.kind is ErrorKind.AUTH and caught.value.permanent
    assert caught.value.platform_code == "190"


@pytest.mark.parametrize(
    ("mode", "kind"), [("5xx", ErrorKind.TRANSIENT), ("429", ErrorKind.RATE_LIMITED)]
)
def test_injected_outages_and_throttling_raise_retryable_errors(
    sandbox: Sandbox, mode: str, kind: ErrorKind
) -> None:
    sandbox.fault(platform="meta", mode=mode)

    with pytest.raises(PlatformError) as caught:
        MetaConversionsConnector().send_conversions(destination(), [purchase()])

    assert caught.value.kind is kind and not caught.value.permanent
    assert sandbox.events(platform="meta")["received"] == 0


def test_the_token_never_reaches_the_request_log_records_or_logs(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connector = MetaConversionsConnector()
    result = connector.send_conversions(destination(), [purchase()])
    sandbox.fault(platform="meta", mode="5xx")
    with pytest.raises(PlatformError) as caught:
        connector.send_conversions(destination(), [purchase()])

    stored = [result.request, result.response, caught.value.request, caught.value.response]
    assert TOKEN not in repr(stored)
    assert TOKEN not in json.dumps(sandbox.requests())
    assert TOKEN not in caplog.text
    assert result.request is not None and result.request.headers["authorization"] == "***"


def test_a_destination_without_a_token_fails_before_any_call(sandbox: Sandbox) -> None:
    with pytest.raises(PlatformError) as caught:
        MetaConversionsConnector().send_conversions(destination(access_token=""), [purchase()])

    assert caught.value.kind is ErrorKind.AUTH and sandbox.requests() == []


def test_the_registry_builds_the_meta_connector() -> None:
    connector = get_connector("meta")

    assert isinstance(connector, MetaConversionsConnector)
    assert isinstance(connector, ConversionsConnector)
    assert connector.max_batch_size == 500


def test_event_names_match_the_pixel_so_meta_can_deduplicate() -> None:
    from usher.platforms.meta import snippet

    assert snippet.EVENT_NAMES == EVENT_NAMES
