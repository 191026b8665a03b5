"""Google Ads payload rules: ids, actions, times, consent, and the partial-failure reader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from usher.platforms.base import ConversionEvent, Destination, OutcomeStatus
from usher.platforms.google_ads.payloads import (
    GoogleAdsUploadApi,
    conversion_action,
    conversion_date_time,
    customer_id,
)

BERLIN_WINTER = timezone(timedelta(hours=1))


def event(**changes: Any) -> ConversionEvent:
    fields: dict[str, Any] = {
        "event_id": "o-1:purchase",
        "event_name": "purchase",
        "event_time": datetime(2026, 3, 1, 13, 4, 5, 999_000, tzinfo=BERLIN_WINTER),
        "gclid": "EAIaIQobChMIgclid0001",
    }
    return ConversionEvent(**(fields | changes))


def test_the_customer_id_is_digits_only() -> None:
    assert customer_id("123-456-7890") == "1234567890"


@pytest.mark.parametrize(
    ("configured", "expected"),
    [
        ("987", "customers/1234567890/conversionActions/987"),
        (987, "customers/1234567890/conversionActions/987"),
        ("customers/555/conversionActions/9", "customers/555/conversionActions/9"),
        ("", None),
        (None, None),
    ],
)
def test_the_conversion_action_comes_from_the_destination_settings(
    configured: object, expected: str | None
) -> None:
    settings = {"conversion_actions": {"purchase": configured}}
    destination = Destination("google_ads", "1234567890", "t", settings=settings)

    assert conversion_action(destination, "1234567890", "purchase") == expected


def test_conversion_time_is_utc_with_an_explicit_offset_and_no_fraction() -> None:
    assert conversion_date_time(event()) == "2026-03-01 12:04:05+00:00"


def test_the_event_id_is_the_order_id_when_there_is_no_order() -> None:
    destination = Destination(
        "google_ads",
        "1234567890",
        "t",
        settings={"developer_token": "d", "conversion_actions": {"begin_checkout": "2"}},
    )

    built = GoogleAdsUploadApi().build_request(
        destination, [event(event_id="v-9:begin_checkout", event_name="begin_checkout")]
    )

    assert built.body["conversions"][0]["orderId"] == "v-9:begin_checkout"
    assert "conversionValue" not in built.body["conversions"][0]


def test_the_customer_id_setting_wins_over_an_aw_tag_account_id() -> None:
    settings = {"developer_token": "d", "customer_id": "123-456-7890"}
    destination = Destination("google_ads", "AW-736702401", "t", settings=settings)

    built = GoogleAdsUploadApi().build_request(destination, [event()])

    assert built.path.endswith("/customers/1234567890:uploadClickConversions")


def test_an_answer_without_partial_failure_delivers_every_row() -> None:
    events = [event(), event(event_id="o-2:purchase")]

    outcomes = GoogleAdsUploadApi().outcomes({"results": [{"gclid": "a"}, {"gclid": "b"}]}, events)

    assert [o.status for o in outcomes] == [OutcomeStatus.DELIVERED] * 2


def test_a_row_with_several_errors_takes_the_most_severe() -> None:
    error = {
        "details": [
            {
                "errors": [
                    {
                        "errorCode": {"conversionUploadError": code},
                        "message": code.lower(),
                        "location": {
                            "fieldPathElements": [{"fieldName": "conversions", "index": 0}]
                        },
                    }
                    for code in ("TOO_RECENT_EVENT", "UNPARSEABLE_GCLID")
                ]
            }
        ]
    }

    (outcome,) = GoogleAdsUploadApi().outcomes({"partialFailureError": error}, [event()])

    assert (outcome.status, outcome.error_code) == (OutcomeStatus.REJECTED, "UNPARSEABLE_GCLID")
    assert outcome.error_message == "too_recent_event; unparseable_gclid"


def test_conversion_times_are_converted_from_any_zone() -> None:
    moment = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)

    assert conversion_date_time(event(event_time=moment)) == "2026-07-01 00:30:00+00:00"
