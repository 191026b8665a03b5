"""What every conversions connector does before and after its platform's own call.

The four connectors were written apart and grew the same prologue: a bounded batch
size, a clock for event-age checks, the per-call limit, the empty batch, the missing
credential, the locally rejected events and putting outcomes back in input order.
`BatchConnector` owns that prologue once, so a fix to it (or a new platform) cannot
miss a copy; each connector keeps only what is its own: the credential it reads,
how it builds the request and how it sends it and reads the answer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from usher.lib.http import PlatformResponse
from usher.platforms.base import (
    BatchResult,
    ConversionEvent,
    Destination,
    ErrorKind,
    EventOutcome,
    OutcomeStatus,
    PlatformError,
    RequestRecord,
    ResponseRecord,
)

# The delivery log keeps the head of an answer; platforms' error bodies fit in it.
MAX_RECORDED_RESPONSE_CHARS = 4000

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class BuiltBatch(Protocol):
    """What a connector's builder hands back: what will be sent, what was refused here."""

    @property
    def events(self) -> Sequence[ConversionEvent]: ...

    @property
    def rejected(self) -> Sequence[tuple[ConversionEvent, EventOutcome]]: ...


BuiltT = TypeVar("BuiltT", bound=BuiltBatch)


@dataclass
class Delivery:
    """The outcome of the events a connector sent, and the masked exchange for the log."""

    outcomes: list[tuple[ConversionEvent, EventOutcome]]
    request: RequestRecord | None = None
    response: ResponseRecord | None = None

    @classmethod
    def of(
        cls, outcomes: list[tuple[ConversionEvent, EventOutcome]], response: PlatformResponse
    ) -> Delivery:
        """Outcomes of one call, with that call's masked request and the head of its answer."""
        return cls(outcomes, response.request, response_record(response))


def delivered(
    events: Sequence[ConversionEvent], message: str | None = None, code: str | None = None
) -> list[tuple[ConversionEvent, EventOutcome]]:
    """Every event delivered (with a note, when the platform attached one to the batch)."""
    return [
        (event, EventOutcome(event.event_id, OutcomeStatus.DELIVERED, message, code))
        for event in events
    ]


def response_record(response: PlatformResponse) -> ResponseRecord:
    return ResponseRecord(
        status_code=response.status_code,
        body=response.text[:MAX_RECORDED_RESPONSE_CHARS],
        elapsed_ms=response.elapsed_ms,
    )


def in_order(
    events: Sequence[ConversionEvent], outcomes: dict[int, EventOutcome]
) -> list[EventOutcome]:
    """One outcome per event, in the caller's order (keyed by identity: ids may repeat)."""
    return [outcomes[id(event)] for event in events]


class BatchConnector(ABC, Generic[BuiltT]):
    """A `ConversionsConnector` that sends each batch in one `send_conversions` call.

    Subclasses set `platform`, `too_many_events` (a message with `{limit}`),
    `missing_credential`, `max_event_age`, `default_batch_size` and `events_per_call`,
    and implement
    `deliver`; `build` calls the platform's `build_request(destination, events, now)`
    unless overridden, and `credential` reads `destination.access_token`.
    """

    platform: ClassVar[str]
    too_many_events: ClassVar[str]
    missing_credential: ClassVar[str]
    # Whether an event without any identifier (the minimal form sent without marketing
    # consent) can count on this platform; where it cannot, the outbox does not queue it.
    accepts_anonymous_events: ClassVar[bool] = True
    # The oldest event the platform still takes. Fan-out queues no delivery of an older
    # one to it (importing past orders would only earn rejections), and a delivery that
    # aged past it in the outbox is rejected by the payload check, not sent.
    max_event_age: ClassVar[timedelta]

    # The batch size when none is given, and the most events one call may carry.
    default_batch_size: ClassVar[int]
    events_per_call: ClassVar[int]

    def __init__(
        self,
        max_batch_size: int | None = None,
        *,
        clock: Clock = utc_now,
        max_events_per_call: int | None = None,
    ) -> None:
        size = self.default_batch_size if max_batch_size is None else max_batch_size
        limit = self.events_per_call if max_events_per_call is None else max_events_per_call
        if not 1 <= size <= limit:
            raise ValueError(f"max_batch_size must be 1..{limit}")
        self.max_batch_size = size
        self.max_events_per_call = limit
        self._clock = clock

    def split_calls(self, events: Sequence[ConversionEvent]) -> list[Sequence[ConversionEvent]]:
        """The events of each HTTP call sending `events` makes: one call, unless the
        platform takes fewer per request (GA4: one visitor)."""
        return [events]

    def http_calls_for(self, events: Sequence[ConversionEvent]) -> int:
        """How many HTTP calls sending `events` costs (the outbound rate limit, leases)."""
        return len(self.split_calls(events))

    def send_conversions(
        self, destination: Destination, events: Sequence[ConversionEvent]
    ) -> BatchResult:
        if len(events) > self.max_events_per_call:
            raise ValueError(self.too_many_events.format(limit=self.max_events_per_call))
        if not events:
            return BatchResult([])
        credential = self.credential(destination)
        if not credential:
            # Before any call: without it the platform can only answer 401.
            raise PlatformError(ErrorKind.AUTH, self.missing_credential, platform=self.platform)
        built = self.build(destination, events)
        outcomes = {id(event): outcome for event, outcome in built.rejected}
        if not built.events:
            return BatchResult(in_order(events, outcomes))
        delivery = self.deliver(destination, credential, built)
        outcomes.update((id(event), outcome) for event, outcome in delivery.outcomes)
        return BatchResult(in_order(events, outcomes), delivery.request, delivery.response)

    def credential(self, destination: Destination) -> str:
        """The secret this platform needs; empty means the destination cannot be sent to."""
        return destination.access_token

    # The platform's pure builder (payloads.py), as a staticmethod.
    build_request: ClassVar[Callable[[Destination, Sequence[ConversionEvent], datetime], Any]]

    def build(self, destination: Destination, events: Sequence[ConversionEvent]) -> BuiltT:
        """The request(s) for `events`, refusing locally what the platform would refuse."""
        return self.build_request(destination, events, self._clock())

    @abstractmethod
    def deliver(self, destination: Destination, credential: str, built: BuiltT) -> Delivery:
        """Send `built` and judge every event in `built.events`; raise `PlatformError`
        when the call as a whole failed."""
