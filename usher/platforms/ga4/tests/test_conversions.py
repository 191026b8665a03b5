"""GA4 Measurement Protocol connector against the sandbox: format, per-visitor split, errors.

What every connector does (errors, secrets, limits, registry) is in
usher/platforms/tests/test_connectors_common.py.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import httpx

from usher.lib.http import set_transport_for_tests
from usher.platforms.base import ConversionEvent, OutcomeStatus
from usher.platforms.ga4.conversions import GA4ConversionsConnector
from usher.platforms.ga4.payloads import timestamp_micros
from usher.platforms.ga4.tests.builders import MEASUREMENT_ID, destination, purchase
from usher.sandbox.testing import MountedSandbox as Sandbox
from usher.sandbox.testing import sha

FIXTURES = Path(__file__).parent / "fixtures"


def visitor(client_id: str, index: int) -> ConversionEvent:
    return purchase(
        event_id=f"{client_id}:{index}",
        event_name="view_item",
        order_id=None,
        value=None,
        user_data={"ga_client_id": client_id},
    )


def test_a_purchase_reaches_ga4_in_measurement_protocol_format(sandbox: Sandbox) -> None:
    event = purchase()

    result = GA4ConversionsConnector().send_conversions(destination(), [event])

    assert [(o.event_id, o.status) for o in result.outcomes] == [
        ("order-1001:purchase", OutcomeStatus.DELIVERED)
    ]
    (entry,) = sandbox.requests(platform="ga4")
    assert entry["path"] == "/ga4/mp/collect" and entry["status"] == 204
    assert entry["query"]["measurement_id"] == MEASUREMENT_ID
    assert "notes" not in entry  # the sandbox notes why GA4 would have dropped a hit
    body = entry["body"]
    assert body["client_id"] == "1234567890.1700000000"  # from the _ga cookie
    assert body["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"}
    # Google's rules (as for Ads): Gmail dots and +tag removed, E.164 phone, names hashed,
    # address parts in clear.
    assert body["user_data"] == {
        "sha256_email_address": [sha("anasilva@gmail.com")],
        "sha256_phone_number": [sha("+49301234567")],
        "address": [
            {
                "sha256_first_name": sha("ana"),
                "sha256_last_name": sha("oneil"),
                "city": "berlin",
                "postal_code": "10115",
                "country": "DE",
            }
        ],
    }
    assert body["events"] == [
        {
            "name": "purchase",
            "timestamp_micros": timestamp_micros(event.event_time),
            "params": {
                "event_id": "order-1001:purchase",
                "page_location": "https://tickets.example/e/gala",
                "value": 59.9,
                "currency": "EUR",
                "transaction_id": "order-1001",
                "items": [{"item_id": "evt-77"}],
            },
        }
    ]
    recorded = sandbox.events(platform="ga4")["events"]
    assert [(e["event_name"], e["event_id"]) for e in recorded] == [("purchase", "order-1001")]


def test_events_of_several_visitors_go_in_one_request_per_visitor(sandbox: Sandbox) -> None:
    events = [visitor("111.1", 0), visitor("222.2", 1), visitor("111.1", 2)]

    result = GA4ConversionsConnector().send_conversions(destination(), events)

    assert [o.event_id for o in result.outcomes] == ["111.1:0", "222.2:1", "111.1:2"]
    assert {o.status for o in result.outcomes} == {OutcomeStatus.DELIVERED}
    sent = [
        (entry["body"]["client_id"], [e["params"]["event_id"] for e in entry["body"]["events"]])
        for entry in sandbox.requests(platform="ga4")
    ]
    assert sent == [("111.1", ["111.1:0", "111.1:2"]), ("222.2", ["222.2:1"])]
    assert result.request is not None and len(json.loads(result.request.body or "")) == 2


def test_a_visitor_with_30_events_is_split_at_25_per_request(sandbox: Sandbox) -> None:
    events = [visitor("111.1", i) for i in range(30)]

    result = GA4ConversionsConnector(max_batch_size=30).send_conversions(destination(), events)

    assert len(result.with_status(OutcomeStatus.DELIVERED)) == 30
    assert [len(e["body"]["events"]) for e in sandbox.requests(platform="ga4")] == [25, 5]
    assert sandbox.events(platform="ga4")["received"] == 30


def test_an_event_without_a_client_id_is_rejected_and_not_sent(sandbox: Sandbox) -> None:
    events = [purchase(event_id="anon", user_data={"email": "ana@example.com"}), purchase()]

    result = GA4ConversionsConnector().send_conversions(destination(), events)

    anonymous, delivered = result.outcomes
    assert (anonymous.status, anonymous.error_code) == (OutcomeStatus.REJECTED, "no_client_id")
    assert delivered.status is OutcomeStatus.DELIVERED
    assert len(sandbox.requests(platform="ga4")) == 1


def test_denied_ad_user_data_withholds_user_data_and_unknown_consent_is_left_out(
    sandbox: Sandbox,
) -> None:
    denied = purchase(ad_user_data=False, ad_personalization=None)

    GA4ConversionsConnector().send_conversions(destination(), [denied])

    (entry,) = sandbox.requests(platform="ga4")
    assert entry["body"]["consent"] == {"ad_user_data": "DENIED"}
    assert "user_data" not in entry["body"]


def test_validate_only_asks_the_debug_endpoint_and_records_nothing(sandbox: Sandbox) -> None:
    result = GA4ConversionsConnector(validate_only=True).send_conversions(
        destination(), [purchase()]
    )

    assert result.outcomes[0].status is OutcomeStatus.DELIVERED  # valid: no messages
    (entry,) = sandbox.requests(platform="ga4")
    assert entry["path"] == "/ga4/debug/mp/collect"
    assert entry["response"] == {"validationMessages": []}
    assert sandbox.events(platform="ga4")["received"] == 0


def test_a_code_in_test_mode_is_only_validated_and_never_counted(sandbox: Sandbox) -> None:
    test_mode = dataclasses.replace(destination(), test_event_code="TEST123")

    result = GA4ConversionsConnector().send_conversions(test_mode, [purchase()])

    assert result.outcomes[0].status is OutcomeStatus.DELIVERED  # GA4 found nothing wrong
    assert [e["path"] for e in sandbox.requests(platform="ga4")] == ["/ga4/debug/mp/collect"]
    assert sandbox.events(platform="ga4")["received"] == 0


def test_a_purchase_without_an_order_id_is_rejected_since_ga4_could_not_deduplicate_it(
    sandbox: Sandbox,
) -> None:
    result = GA4ConversionsConnector().send_conversions(destination(), [purchase(order_id=None)])

    assert (result.outcomes[0].status, result.outcomes[0].error_code) == (
        OutcomeStatus.REJECTED,
        "no_transaction_id",
    )
    assert sandbox.requests(platform="ga4") == []


def test_a_purchase_resent_after_a_lost_answer_is_counted_once_by_ga4(sandbox: Sandbox) -> None:
    connector = GA4ConversionsConnector()

    connector.send_conversions(destination(), [purchase()])
    connector.send_conversions(destination(), [purchase()])

    assert {k: sandbox.events(platform="ga4")[k] for k in ("received", "unique")} == {
        "received": 2,
        "unique": 1,
    }


def test_validation_messages_reject_the_events_they_point_at(sandbox: Sandbox) -> None:
    answer = json.loads((FIXTURES / "debug_collect_response.json").read_text())
    set_transport_for_tests("ga4", httpx.MockTransport(lambda r: httpx.Response(200, json=answer)))
    events = [visitor("111.1", 0), visitor("111.1", 1)]

    result = GA4ConversionsConnector(validate_only=True).send_conversions(destination(), events)

    ok, bad = result.outcomes
    assert ok.status is OutcomeStatus.DELIVERED
    assert (bad.status, bad.error_code) == (OutcomeStatus.REJECTED, "VALUE_INVALID")
    assert "events[1].params.currency" in (bad.error_message or "")


def test_a_failure_after_a_delivered_request_keeps_what_was_delivered(sandbox: Sandbox) -> None:
    answers: Iterator[int] = iter([204, 503])
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(next(answers))

    set_transport_for_tests("ga4", httpx.MockTransport(handler))
    events = [visitor("111.1", 0), visitor("222.2", 1), visitor("333.3", 2)]

    result = GA4ConversionsConnector().send_conversions(destination(), events)

    assert [o.status for o in result.outcomes] == [
        OutcomeStatus.DELIVERED,
        OutcomeStatus.RETRY,  # its request failed with a 503
        OutcomeStatus.RETRY,  # not sent after that failure
    ]
    assert len(calls) == 2


def test_a_wrong_api_secret_cannot_be_seen_because_collect_always_answers_2xx(
    sandbox: Sandbox,
) -> None:
    result = GA4ConversionsConnector().send_conversions(
        destination(api_secret="wrong-secret-0000"), [purchase()]
    )

    assert result.outcomes[0].status is OutcomeStatus.DELIVERED
    assert "dropped by GA4" in sandbox.requests(platform="ga4")[0]["notes"][0]
    assert sandbox.events(platform="ga4")["received"] == 0
