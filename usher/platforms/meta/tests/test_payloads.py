"""Meta payload builder: pure mapping rules, no HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from usher.platforms.base import ContentLine, ConversionEvent, Destination, OutcomeStatus
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


def test_a_purchase_is_built_as_metas_documented_example() -> None:
    """The fixture is Meta's own example, not a capture of this builder: the request body of
    "Conversions API > Using the API > Send requests" (Graph API v21.0), plus the two
    parameters its deduplication guide and custom_data reference add (`event_id`,
    `content_ids`). The event below carries the example's inputs; every documented field
    must come out as Meta wrote it, except where noted."""
    documented = json.loads((FIXTURES / "meta_documented_purchase.json").read_text())["data"][0]
    doc_user, doc_custom = documented["user_data"], documented["custom_data"]
    event_time = datetime.fromtimestamp(documented["event_time"], UTC)
    purchase = event(
        event_id=documented["event_id"],
        event_time=event_time,
        event_source_url=documented["event_source_url"],
        value=Decimal("123.45"),
        currency="usd",
        contents=[ContentLine("product123", 1, Decimal("123.45"))],
        # Meta's example e-mail is only given hashed; a hashed e-mail passes through as is.
        user_data={"email": doc_user["em"][0], "phone": "+1 234 567 8901"},
        client_ip=doc_user["client_ip_address"],
        user_agent=doc_user["client_user_agent"],
        fbc=doc_user["fbc"],
        fbp=doc_user["fbp"],
    )

    built = build_request(DESTINATION, [purchase], event_time + timedelta(minutes=1))

    assert built.body.keys() == {"data"}  # no test_event_code without one configured
    (wire,) = built.body["data"]
    for field in ("event_name", "event_time", "event_id", "event_source_url", "action_source"):
        assert wire[field] == documented[field], field
    user = wire["user_data"]
    assert user["em"] == doc_user["em"]
    # Meta's "12345678901" (digits with the country code, no "+"), hashed; an event
    # carries one phone, the example two.
    assert user["ph"] == doc_user["ph"][:1]
    for field in ("client_ip_address", "client_user_agent", "fbc", "fbp"):
        assert user[field] == doc_user[field], field
    custom = wire["custom_data"]
    assert custom["value"] == doc_custom["value"]
    assert custom["currency"] == doc_custom["currency"].upper()  # ISO 4217, as Meta's reference
    assert custom["content_ids"] == doc_custom["content_ids"]
    # delivery_category is for shipped goods; a ticket has none.
    assert [(line["id"], line["quantity"]) for line in custom["contents"]] == [
        (line["id"], line["quantity"]) for line in doc_custom["contents"]
    ]
    assert custom["contents"][0]["item_price"] == 123.45
    assert wire.keys() == documented.keys()


def test_refused_events_are_kept_apart_from_the_body() -> None:
    built = build_request(DESTINATION, [event(user_agent=None), event("view_item")], NOW)

    assert [e.event_id for e in built.events] == ["o-1:view_item"]
    assert [e.event_id for e, _ in built.rejected] == ["o-1:purchase"]
    assert [d["event_name"] for d in built.body["data"]] == ["ViewContent"]
