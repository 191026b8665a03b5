"""Google Ads click-conversion connector against the sandbox: format, partial failure, errors.

What every connector does (errors, secrets, limits, registry) is in
usher/platforms/tests/test_connectors_common.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import httpx
import pytest

from usher.lib.http import set_transport_for_tests
from usher.platforms.base import (
    ConversionEvent,
    Destination,
    EventOutcome,
    OutcomeStatus,
    PlatformError,
)
from usher.platforms.google_ads.conversions import GoogleAdsConversionsConnector
from usher.platforms.google_ads.payloads import GoogleRequest
from usher.platforms.google_ads.tests.builders import (
    ACTIONS,
    CUSTOMER,
    GCLID,
    destination,
    purchase,
    register_actions,
)
from usher.sandbox.testing import MountedSandbox as Sandbox
from usher.sandbox.testing import sha

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def google(sandbox: Sandbox) -> Sandbox:
    register_actions(sandbox)
    return sandbox


def rows(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The conversions the sandbox received (it logs request bodies in snake_case)."""
    (entry,) = sandbox.requests(platform="google_ads")
    assert entry["body"]["partial_failure"] is True
    return entry["body"]["conversions"]


def test_a_purchase_with_a_gclid_reaches_google_as_a_click_conversion(google: Sandbox) -> None:
    event = purchase()

    result = GoogleAdsConversionsConnector().send_conversions(
        destination(login_customer_id="999-888-7777"), [event]
    )

    assert [(o.event_id, o.status) for o in result.outcomes] == [
        ("order-1001:purchase", OutcomeStatus.DELIVERED)
    ]
    (entry,) = google.requests(platform="google_ads")
    assert entry["path"] == f"/google-ads/v25/customers/{CUSTOMER}:uploadClickConversions"
    assert entry["headers"]["login-customer-id"] == "9998887777"
    assert entry["headers"]["developer-token"].startswith("dev-token-")
    (row,) = rows(google)
    expected_time = event.event_time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00:00")
    assert row == {
        "gclid": GCLID,  # gclid wins; the wbraid is not sent (exactly one click id)
        "conversion_action": f"customers/{CUSTOMER}/conversionActions/111",
        "conversion_date_time": expected_time,
        "order_id": "order-1001",
        "conversion_environment": "WEB",
        "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
        # Google's rules: Gmail dots and +tag removed, phone E.164 with "+".
        "user_identifiers": [
            {"hashed_email": sha("anasilva@gmail.com")},
            {"hashed_phone_number": sha("+49301234567")},
        ],
        "conversion_value": 59.9,
        "currency_code": "EUR",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00", row["conversion_date_time"])
    assert result.request is not None and '"conversionAction"' in (result.request.body or "")
    assert google.events(platform="google_ads")["events"][0]["event_id"] == "order-1001"


def test_a_code_in_test_mode_is_validated_by_google_and_never_recorded(google: Sandbox) -> None:
    good = purchase()
    bad_click = purchase(event_id="o2:purchase", order_id="o2", gclid="short")
    test_mode = dataclasses.replace(destination(), test_event_code="TEST123")

    result = GoogleAdsConversionsConnector().send_conversions(test_mode, [good, bad_click])

    assert [(o.status, o.error_code) for o in result.outcomes] == [
        (OutcomeStatus.DELIVERED, None),
        (OutcomeStatus.REJECTED, "UNPARSEABLE_GCLID"),
    ]
    (entry,) = google.requests(platform="google_ads")
    assert entry["body"]["validate_only"] is True
    assert google.events(platform="google_ads")["received"] == 0
    # The same order sent live afterwards is new to Google: the test left no trace.
    live = GoogleAdsConversionsConnector().send_conversions(destination(), [purchase()])
    assert (live.outcomes[0].status, live.outcomes[0].error_code) == (
        OutcomeStatus.DELIVERED,
        None,
    )
    assert google.events(platform="google_ads")["received"] == 1


def test_unknown_consent_is_sent_as_unspecified(google: Sandbox) -> None:
    event = purchase(ad_user_data=None, ad_personalization=None)

    GoogleAdsConversionsConnector().send_conversions(destination(), [event])

    assert rows(google)[0]["consent"] == {
        "ad_user_data": "UNSPECIFIED",
        "ad_personalization": "UNSPECIFIED",
    }


def test_an_event_without_a_conversion_action_is_rejected_and_not_sent(google: Sandbox) -> None:
    view = purchase(event_id="v-1", event_name="view_item", order_id=None)

    result = GoogleAdsConversionsConnector().send_conversions(destination(), [view, purchase()])

    rejected, delivered = result.outcomes
    assert (rejected.status, rejected.error_code) == (
        OutcomeStatus.REJECTED,
        "no_conversion_action",
    )
    assert "view_item" in (rejected.error_message or "")
    assert delivered.status is OutcomeStatus.DELIVERED
    assert [row["order_id"] for row in rows(google)] == ["order-1001"]


def test_without_a_click_id_user_identifiers_make_an_enhanced_conversion(google: Sandbox) -> None:
    event = purchase(gclid=None, wbraid=None)

    result = GoogleAdsConversionsConnector().send_conversions(destination(), [event])

    assert result.outcomes[0].status is OutcomeStatus.DELIVERED
    (row,) = rows(google)
    assert not {"gclid", "gbraid", "wbraid"} & row.keys()
    assert row["user_identifiers"][0] == {"hashed_email": sha("anasilva@gmail.com")}


def test_without_a_click_id_or_identifiers_the_event_is_rejected_without_a_call(
    google: Sandbox,
) -> None:
    event = purchase(gclid=None, wbraid=None, user_data={"email": "not-an-email"})

    result = GoogleAdsConversionsConnector().send_conversions(destination(), [event])

    assert result.outcomes[0].status is OutcomeStatus.REJECTED
    assert result.outcomes[0].error_code == "no_click_id_or_user_identifiers"
    assert google.requests() == []


def test_denied_ad_user_data_withholds_identifiers_but_keeps_the_click(google: Sandbox) -> None:
    connector = GoogleAdsConversionsConnector()
    clicked = purchase(ad_user_data=False)
    unclicked = purchase(
        event_id="o2:purchase", order_id="o2", gclid=None, wbraid=None, ad_user_data=False
    )

    result = connector.send_conversions(destination(), [clicked, unclicked])

    assert [o.status for o in result.outcomes] == [OutcomeStatus.DELIVERED, OutcomeStatus.REJECTED]
    (row,) = rows(google)
    assert "user_identifiers" not in row and row["gclid"] == GCLID
    assert row["consent"]["ad_user_data"] == "DENIED"


def test_a_braid_is_sent_alone_when_there_is_no_gclid(google: Sandbox) -> None:
    event = purchase(gclid=None, gbraid="GBRAIDgbraid0001", wbraid="WBRAIDwbraid0001")

    GoogleAdsConversionsConnector().send_conversions(destination(), [event])

    (row,) = rows(google)
    assert row["gbraid"] == "GBRAIDgbraid0001"
    assert "wbraid" not in row and "user_identifiers" not in row


def test_partial_failure_gives_each_event_its_own_outcome(google: Sandbox) -> None:
    connector = GoogleAdsConversionsConnector()
    connector.send_conversions(destination(), [purchase()])
    resend = purchase()
    bad_click = purchase(event_id="o2:purchase", order_id="o2", gclid="short")
    unknown_action = purchase(event_id="o3:begin_checkout", event_name="begin_checkout")
    other = destination(conversion_actions=ACTIONS | {"begin_checkout": "333"})

    result = connector.send_conversions(other, [resend, bad_click, unknown_action])

    assert [(o.event_id, o.status, o.error_code) for o in result.outcomes] == [
        ("order-1001:purchase", OutcomeStatus.DELIVERED, "ORDER_ID_ALREADY_IN_USE"),
        ("o2:purchase", OutcomeStatus.REJECTED, "UNPARSEABLE_GCLID"),
        ("o3:begin_checkout", OutcomeStatus.REJECTED, "NO_CONVERSION_ACTION_FOUND"),
    ]
    assert "could not be decoded" in (result.outcomes[1].error_message or "")


def test_every_partial_failure_detail_is_read_and_retryable_rows_retry(sandbox: Sandbox) -> None:
    answer = json.loads((FIXTURES / "upload_partial_failure_response.json").read_text())
    set_transport_for_tests(
        "google_ads", httpx.MockTransport(lambda r: httpx.Response(200, json=answer))
    )
    events = [purchase(event_id=f"e{i}", order_id=f"o{i}") for i in range(5)]

    result = GoogleAdsConversionsConnector().send_conversions(destination(), events)

    assert [(o.status, o.error_code) for o in result.outcomes] == [
        (OutcomeStatus.DELIVERED, None),
        (OutcomeStatus.RETRY, "TOO_RECENT_EVENT"),  # click < 6 h old: later, not never
        (OutcomeStatus.REJECTED, "EXPIRED_EVENT"),  # from the second failure detail
        (OutcomeStatus.DELIVERED, "ORDER_ID_ALREADY_IN_USE"),
        (OutcomeStatus.REJECTED, "PARTIAL_FAILURE"),  # empty result, no indexed error
    ]


def test_a_missing_developer_token_fails_before_any_call(google: Sandbox) -> None:
    with pytest.raises(PlatformError) as caught:
        GoogleAdsConversionsConnector().send_conversions(
            destination(developer_token=""), [purchase()]
        )

    assert caught.value.permanent and "developer_token" in caught.value.message
    assert google.requests() == []


class FakeDataManagerApi:
    """Stands in for a second Google API behind the seam (e.g. the Data Manager API)."""

    http_platform = "google_ads"
    max_events_per_request = 10

    def build_request(
        self, destination: Destination, events: Sequence[ConversionEvent]
    ) -> GoogleRequest:
        body = {"events": [{"transactionId": e.order_id} for e in events]}
        return GoogleRequest("/v1/events:ingest", body, {}, [], events=list(events))

    def outcomes(self, answer: Any, events: Sequence[ConversionEvent]) -> list[EventOutcome]:
        return [EventOutcome(e.event_id, OutcomeStatus.DELIVERED, "ingested") for e in events]


def test_another_google_api_can_sit_behind_the_connector(sandbox: Sandbox) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"requestId": "r1"})

    set_transport_for_tests("google_ads", httpx.MockTransport(handler))
    connector = GoogleAdsConversionsConnector(max_batch_size=10, api=FakeDataManagerApi())

    result = connector.send_conversions(destination(), [purchase()])

    assert seen[0].url.path.endswith("/v1/events:ingest")
    assert json.loads(seen[0].content) == {"events": [{"transactionId": "order-1001"}]}
    assert result.outcomes[0].error_message == "ingested"
