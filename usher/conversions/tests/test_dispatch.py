"""Batch isolation: one invalid event must not sink the good ones sent with it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from usher.conversions.dispatch import send_isolating
from usher.platforms.base import (
    BatchResult,
    ConversionEvent,
    Destination,
    EventOutcome,
    OutcomeStatus,
    PlatformError,
    RequestRecord,
    ResponseRecord,
)


class WholeBatchRejecter:
    """Behaves like Meta: one bad event in a request rejects the whole request."""

    max_batch_size = 100

    def __init__(self, kind: str = "permanent") -> None:
        self.kind = kind
        self.calls: list[int] = []

    def send_conversions(
        self, destination: Destination, events: Sequence[ConversionEvent]
    ) -> BatchResult:
        self.calls.append(len(events))
        if any(event.event_id.startswith("bad") for event in events):
            raise PlatformError(
                self.kind, "Invalid parameter", status_code=400, platform_code="100"
            )
        return BatchResult([EventOutcome(e.event_id, OutcomeStatus.DELIVERED) for e in events])


def events(*ids: str) -> list[ConversionEvent]:
    return [
        ConversionEvent(event_id=i, event_name="view_item", event_time=datetime.now(UTC))
        for i in ids
    ]


DESTINATION = Destination(platform="meta", account_id="111111111111111", access_token="sandbox-x")


def test_an_invalid_event_is_isolated_and_the_others_delivered():
    connector = WholeBatchRejecter()
    batch = events("e1", "e2", "bad3", "e4", "e5", "e6", "e7", "e8")
    result, error = send_isolating(connector, DESTINATION, batch)
    statuses = {o.event_id: o.status for o in result.outcomes}
    assert statuses.pop("bad3") == OutcomeStatus.REJECTED
    assert set(statuses.values()) == {OutcomeStatus.DELIVERED}
    assert error is not None and error.platform_code == "100"
    assert len(connector.calls) <= 1 + 2 * 3  # a binary search, not one call per event


def test_transient_failures_are_not_split_but_retried_whole():
    connector = WholeBatchRejecter(kind="transient")
    result, _ = send_isolating(connector, DESTINATION, events("bad1", "e2", "e3"))
    assert connector.calls == [3]
    assert {o.status for o in result.outcomes} == {OutcomeStatus.RETRY}


def test_auth_failures_reject_everything_at_once():
    connector = WholeBatchRejecter(kind="auth")
    result, _ = send_isolating(connector, DESTINATION, events("bad1", "e2"))
    assert connector.calls == [2]
    assert {o.status for o in result.outcomes} == {OutcomeStatus.REJECTED}


def test_an_account_level_refusal_is_not_chased_event_by_event():
    class RefusesEverything(WholeBatchRejecter):
        def send_conversions(self, destination, events):
            self.calls.append(len(events))
            raise PlatformError(
                "permanent", "Unsupported post request: object does not exist", platform_code="100"
            )

    connector = RefusesEverything()
    result, _ = send_isolating(connector, DESTINATION, events(*[f"e{i}" for i in range(64)]))
    assert connector.calls == [64, 32, 32]
    assert {o.status for o in result.outcomes} == {OutcomeStatus.REJECTED}


def test_every_call_of_an_isolation_goes_to_the_destination_after_its_renewal():
    """Each call of the search carries the destination it was given, and the lease is
    renewed before it for exactly the events it sends (a renewal for other events would
    check the wrong rows)."""
    sent: list[tuple[Destination, list[str]]] = []
    renewed: list[list[str]] = []

    class RecordingRejecter(WholeBatchRejecter):
        def send_conversions(self, destination, events):
            sent.append((destination, [event.event_id for event in events]))
            return super().send_conversions(destination, events)

    batch = events("e1", "bad2", "e3", "e4")
    send_isolating(
        RecordingRejecter(),
        DESTINATION,
        batch,
        before_call=lambda call: renewed.append([event.event_id for event in call]),
    )
    assert all(destination is DESTINATION for destination, _ in sent)
    assert renewed == [ids for _, ids in sent]
    assert renewed == [["e1", "bad2", "e3", "e4"], ["e1", "bad2"], ["e3", "e4"], ["e1"], ["bad2"]]


def test_an_isolated_batch_keeps_the_refused_requests_exchange_for_the_log():
    request = RequestRecord("POST", "https://graph.example/events", body="{}")
    response = ResponseRecord(400, body='{"error": "Invalid parameter"}')

    class LoggedRejecter(WholeBatchRejecter):
        def send_conversions(self, destination, events):
            try:
                return super().send_conversions(destination, events)
            except PlatformError as exc:
                exc.request, exc.response = request, response
                raise

    result, _ = send_isolating(LoggedRejecter(), DESTINATION, events("e1", "bad2"))
    assert (result.request, result.response) == (request, response)
