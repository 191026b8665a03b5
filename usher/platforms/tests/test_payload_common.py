"""The payload rules every platform shares: consent, money, the event window, rejections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from usher.platforms.base import ContentLine, ConversionEvent, EventOutcome, OutcomeStatus
from usher.platforms.payload_common import (
    EVENT_TOO_OLD,
    commerce_data,
    consent_status,
    partition,
    past_window,
    rejection,
    too_old,
    value_and_currency,
)
from usher.platforms.tests.helpers import order_event

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("flag", "status"), [(True, "GRANTED"), (False, "DENIED"), (None, "UNSPECIFIED")]
)
def test_consent_maps_to_google_consent_status(flag: bool | None, status: str) -> None:
    assert consent_status(flag) == status


def test_an_event_just_past_the_window_is_rejected_and_one_inside_is_not() -> None:
    window = timedelta(days=7)
    stale = order_event(event_time=NOW - window - timedelta(seconds=1))

    outcome = too_old(stale, NOW, window, "too old")

    assert outcome is not None and outcome.status is OutcomeStatus.REJECTED
    assert (outcome.event_id, outcome.error_code, outcome.error_message) == (
        stale.event_id,
        EVENT_TOO_OLD,
        "too old",
    )
    assert too_old(order_event(event_time=NOW - window), NOW, window, "too old") is None


def test_partition_keeps_the_order_of_both_sides() -> None:
    events = [order_event(event_id=f"e{i}") for i in range(4)]

    def check(event: ConversionEvent) -> EventOutcome | None:
        return rejection(event, "odd", "refused") if event.event_id in {"e0", "e2"} else None

    accepted, rejected = partition(events, check)

    assert [event.event_id for event in accepted] == ["e1", "e3"]
    assert [(event.event_id, outcome.error_code) for event, outcome in rejected] == [
        ("e0", "odd"),
        ("e2", "odd"),
    ]


def test_money_is_a_float_and_the_currency_upper_case_only_on_the_wire() -> None:
    assert value_and_currency(order_event(value=Decimal("0.10"), currency="usd")) == {
        "value": 0.1,
        "currency": "USD",
    }
    assert value_and_currency(order_event(value=None, currency=None)) == {}


def test_commerce_data_puts_the_platform_content_fields_between_value_and_count() -> None:
    event = order_event(content_ids=["a", 7], num_items=2)

    data = commerce_data(event, lambda ids, lines: {"ids": ids})

    assert list(data) == ["value", "currency", "ids", "num_items", "order_id"]
    assert data["ids"] == ["a", "7"]


def test_ticket_lines_give_content_ids_once_each_and_the_item_count() -> None:
    lines = [
        ContentLine("gala", 2, Decimal("40"), "General", "ga"),
        ContentLine("gala", 1, Decimal("90"), "VIP", "vip"),
    ]
    event = order_event(content_ids=["gala"], contents=lines)

    data = commerce_data(event, lambda ids, given: {"ids": ids, "lines": given})

    assert data["ids"] == ["gala"] and data["lines"] == lines
    assert data["num_items"] == 3  # no count given: the lines' quantities


def test_an_event_is_past_the_window_only_once_it_is_older_than_the_window() -> None:
    window = timedelta(hours=72)

    assert past_window(NOW - window - timedelta(microseconds=1), NOW, window)
    assert not past_window(NOW - window, NOW, window)
    assert not past_window(NOW, NOW, window)
