"""Meta payload builder: pure mapping rules, no HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from usher.platforms.base import ConversionEvent, Destination, OutcomeStatus
from usher.platforms.meta.payloads import build_event, build_request, check_event
from usher.sandbox.testing import sha

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures"
DESTINATION = Destination("meta", "1234567890123456", "sandbox-token")


def event(name: str = "purchase", **changes: object) -> ConversionEvent:
    fields: dict[str, object] = {
        "event_id": f"o-1:{name}",
        "event_name": name,
        "event_time": NOW - timedelta(minutes=1),
        "event_source_url": "https://tickets.example/e/1",
        "value": Decimal("10.00"),
        "currency": "EUR",
        "user_agent": "UA",
    }
    return ConversionEvent(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ours", "meta"),
    [
        ("page_view", "PageView"),
        ("view_item", "ViewContent"),
        ("add_to_cart", "AddToCart"),
        ("begin_checkout", "InitiateCheckout"),
        ("purchase", "Purchase"),
    ],
)
def test_each_event_name_maps_to_the_meta_standard_event(ours: str, meta: str) -> None:
    assert build_event(event(ours))["event_name"] == meta


def test_an_already_hashed_email_is_passed_through_not_hashed_again() -> None:
    digest = sha("ana@example.com")

    wire = build_event(event(user_data={"email": digest.upper()}))

    assert wire["user_data"]["em"] == [digest]


def test_money_is_a_float_only_on_the_wire() -> None:
    wire = build_event(event(value=Decimal("1234.56")))

    assert wire["custom_data"]["value"] == 1234.56
    assert "content_type" not in wire["custom_data"]  # only with content_ids


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"user_agent": None}, "missing_user_agent"),
        ({"event_source_url": None}, "missing_event_source_url"),
        ({"value": None}, "missing_value_or_currency"),
        ({"currency": None}, "missing_value_or_currency"),
        ({"event_time": NOW - timedelta(days=7, seconds=1)}, "event_too_old"),
    ],
)
def test_events_meta_would_refuse_are_rejected_locally(
    changes: dict[str, object], code: str
) -> None:
    outcome = check_event(event(**changes), NOW)

    assert outcome is not None and outcome.status is OutcomeStatus.REJECTED
    assert outcome.error_code == code


def test_a_page_view_needs_no_value() -> None:
    assert check_event(event("page_view", value=None, currency=None), NOW) is None


def test_the_request_matches_the_captured_fixture() -> None:
    user = {"email": "ana@example.com", "country": "DE"}
    built = build_request(
        Destination("meta", "1234567890123456", "t", test_event_code="TEST1"),
        [event(user_data=user, client_ip="203.0.113.7", order_id="o-1", limited_data_use=True)],
        NOW,
    )

    expected = json.loads((FIXTURES / "capi_purchase_request.json").read_text())
    assert built.body == expected


def test_refused_events_are_kept_apart_from_the_body() -> None:
    built = build_request(DESTINATION, [event(user_agent=None), event("view_item")], NOW)

    assert [e.event_id for e in built.events] == ["o-1:view_item"]
    assert [e.event_id for e, _ in built.rejected] == ["o-1:purchase"]
    assert [d["event_name"] for d in built.body["data"]] == ["ViewContent"]
