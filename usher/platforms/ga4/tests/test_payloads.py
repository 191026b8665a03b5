"""GA4 payload rules: client id, timestamps, grouping by request context, the 72 h window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from usher.platforms.base import ConversionEvent
from usher.platforms.ga4.payloads import (
    build_requests,
    check_event,
    client_id,
    timestamp_micros,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(**changes: Any) -> ConversionEvent:
    fields: dict[str, Any] = {
        "event_id": "e-1",
        "event_name": "page_view",
        "event_time": NOW - timedelta(minutes=1),
        "user_data": {"ga_client_id": "111.222"},
    }
    return ConversionEvent(**(fields | changes))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GA1.1.1234567890.1700000000", "1234567890.1700000000"),  # the _ga cookie
        ("GA1.2.99.88", "99.88"),
        ("1234567890.1700000000", "1234567890.1700000000"),
        ("  555.666 ", "555.666"),
    ],
)
def test_the_client_id_is_read_from_the_ga_cookie_or_taken_as_given(
    raw: str, expected: str
) -> None:
    assert client_id(event(user_data={"ga_client_id": raw})) == expected


def test_the_visitor_id_stands_in_when_there_is_no_ga_cookie() -> None:
    assert client_id(event(user_data={"external_id": "v-9f2c"})) == "v-9f2c"
    assert client_id(event(user_data={"external_id": "v-9f2c", "ga_client_id": "1.2"})) == "1.2"
    assert client_id(event(user_data={"email": "ana@example.com"})) is None


def test_timestamps_are_exact_integer_microseconds() -> None:
    moment = datetime(2026, 3, 1, 12, 0, 0, 123_456, tzinfo=UTC)

    assert timestamp_micros(moment) == 1_772_366_400_123_456


def test_events_older_than_72_hours_are_rejected_as_ga4_would_drop_them() -> None:
    outcome = check_event(event(event_time=NOW - timedelta(hours=72, seconds=1)), NOW)

    assert outcome is not None and outcome.error_code == "event_too_old"
    assert check_event(event(event_time=NOW - timedelta(hours=71)), NOW) is None


def test_one_visitor_with_different_consent_needs_separate_requests() -> None:
    events = [event(event_id="a", ad_personalization=True), event(event_id="b")]

    batch = build_requests(events, NOW)

    assert [[e.event_id for e in request.events] for request in batch.requests] == [["a"], ["b"]]
    assert batch.requests[0].body["consent"] == {"ad_personalization": "GRANTED"}
    assert "consent" not in batch.requests[1].body
