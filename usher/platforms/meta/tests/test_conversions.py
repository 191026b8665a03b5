"""Meta CAPI connector against the sandbox: wire format, hashing, LDU, local rejections.

What every connector does (errors, secrets, limits, registry) is in
usher/platforms/tests/test_connectors_common.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from usher.platforms.base import OutcomeStatus
from usher.platforms.meta.conversions import MetaConversionsConnector
from usher.platforms.meta.tests.builders import PIXEL, destination, purchase
from usher.platforms.tests.helpers import sent_body
from usher.sandbox.testing import MountedSandbox as Sandbox
from usher.sandbox.testing import sha


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

    (wire,) = sent_body(sandbox, "meta")["data"]
    assert wire["data_processing_options"] == ["LDU"]
    assert wire["data_processing_options_country"] == 0
    assert wire["data_processing_options_state"] == 0


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
    assert [e["event_id"] for e in sent_body(sandbox, "meta")["data"]] == ["ok"]


def test_a_batch_of_only_refused_events_makes_no_call(sandbox: Sandbox) -> None:
    stale = purchase(event_time=datetime.now(UTC) - timedelta(days=8))

    result = MetaConversionsConnector().send_conversions(destination(), [stale])

    assert result.outcomes[0].status is OutcomeStatus.REJECTED
    assert result.outcomes[0].error_code == "event_too_old"
    assert result.request is None and sandbox.requests() == []
