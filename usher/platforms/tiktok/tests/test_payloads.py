"""TikTok payload builder: pure mapping rules, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from usher.platforms.base import ConversionEvent, Destination
from usher.platforms.tiktok.payloads import build_event, build_request
from usher.sandbox.testing import sha

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(name: str = "purchase", **changes: object) -> ConversionEvent:
    fields: dict[str, object] = {
        "event_id": f"o-1:{name}",
        "event_name": name,
        "event_time": NOW - timedelta(minutes=1),
    }
    return ConversionEvent(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ours", "tiktok"),
    [
        ("page_view", "PageView"),
        ("view_item", "ViewContent"),
        ("add_to_cart", "AddToCart"),
        ("begin_checkout", "InitiateCheckout"),
        ("purchase", "Purchase"),
    ],
)
def test_each_event_name_maps_to_the_tiktok_standard_event(ours: str, tiktok: str) -> None:
    assert build_event(event(ours))["event"] == tiktok


def test_an_already_hashed_email_is_passed_through_not_hashed_again() -> None:
    digest = sha("ana@example.com")

    assert build_event(event(user_data={"email": digest}))["user"]["email"] == [digest]


def test_an_event_without_page_value_or_ids_sends_only_what_it_has() -> None:
    wire = build_event(event("page_view"))

    assert wire["properties"] == {} and wire["user"] == {} and "page" not in wire


def test_money_is_a_float_only_on_the_wire() -> None:
    assert build_event(event(value=Decimal("0.10"), currency="usd"))["properties"] == {
        "value": 0.1,
        "currency": "USD",
    }


def test_the_pixel_code_is_the_event_source_id_of_a_web_source() -> None:
    built = build_request(Destination("tiktok", "CABCDEFGHIJ0123456789", "t"), [event()], NOW)

    assert built.body["event_source"] == "web"
    assert built.body["event_source_id"] == "CABCDEFGHIJ0123456789"
    assert "test_event_code" not in built.body
