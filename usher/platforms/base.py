"""The contract between Usher and its ad-platform connectors.

Connectors exchange plain dataclasses with the rest of the code, never models, so the
conversions, audiences and campaigns apps can be tested without any platform and a
platform can be added without touching them. Every failure a connector or the HTTP
chokepoint (`usher.lib.http`) reports is one `PlatformError`; its `kind` tells the
caller whether to refresh credentials, back off, retry or give up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

MASK = "***"

# Our event names; each connector maps them to the platform's own (docs/platforms.md, Page
# snippets: event names).
EVENT_NAMES = frozenset({"page_view", "view_item", "add_to_cart", "begin_checkout", "purchase"})


class ErrorKind(StrEnum):
    """What the caller should do about a failure (a StrEnum, so it compares to plain str)."""

    AUTH = "auth"  # credentials are invalid or lack permission: ask the organizer to reconnect
    RATE_LIMITED = "rate_limited"  # throttled: retry after `retry_after_seconds` or backoff
    TRANSIENT = "transient"  # network trouble or a platform outage: retry with backoff
    PERMANENT = "permanent"  # the request itself is wrong: retrying cannot help


PERMANENT_KINDS = frozenset({ErrorKind.AUTH, ErrorKind.PERMANENT})


@dataclass(frozen=True)
class RequestRecord:
    """An outbound request as it may be logged or stored: every secret replaced by `***`."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass(frozen=True)
class ResponseRecord:
    """A platform's answer as it may be logged or stored (secrets masked, body truncated)."""

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    elapsed_ms: float = 0.0


class PlatformError(Exception):
    """The one error type for anything that went wrong talking to an ad platform.

    `permanent` is derived from `kind` so the two can never disagree: auth and
    permanent failures are not retried, rate-limited and transient ones are.
    """

    def __init__(
        self,
        kind: ErrorKind | str,
        message: str,
        *,
        status_code: int | None = None,
        platform_code: str | None = None,
        retry_after_seconds: float | None = None,
        platform: str | None = None,
        request: RequestRecord | None = None,
        response: ResponseRecord | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = message
        self.status_code = status_code
        self.platform_code = platform_code
        self.retry_after_seconds = retry_after_seconds
        self.platform = platform
        self.request = request
        self.response = response

    @property
    def permanent(self) -> bool:
        return self.kind in PERMANENT_KINDS

    def __str__(self) -> str:
        status = f" HTTP {self.status_code}" if self.status_code is not None else ""
        code = f" code {self.platform_code}" if self.platform_code else ""
        return f"{self.platform or 'platform'} {self.kind}{status}{code}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments break Exception's default pickling (Celery pickles errors).
        return (_rebuild_platform_error, (self.kind, self.message, self.__dict__.copy()))


def _rebuild_platform_error(kind: str, message: str, state: dict[str, Any]) -> PlatformError:
    error = PlatformError(kind, message)
    error.__dict__.update(state)
    return error


@dataclass(frozen=True)
class ContentLine:
    """One line of a purchase: `content_id` is the event's content id (the one scheme
    pixels and server copies share: the marketplace event's slug), `variant` the ticket
    type's id, `name` its name."""

    content_id: str
    quantity: int
    unit_price: Decimal
    name: str = ""
    variant: str = ""


@dataclass
class ConversionEvent:
    """One conversion to deliver, in our vocabulary; connectors translate it.

    `user_data` uses our field names (email, phone, first_name, ...) with raw or
    already-hashed values; connectors pass it through `normalize_user_data`.
    Consent flags are None when the visitor's choice is unknown (Google: UNSPECIFIED).
    """

    event_id: str
    event_name: str
    event_time: datetime
    event_source_url: str | None = None
    value: Decimal | None = None
    currency: str | None = None
    content_ids: list[str] = field(default_factory=list)
    # The order's ticket lines; empty when only the content ids are known.
    contents: list[ContentLine] = field(default_factory=list)
    num_items: int | None = None
    order_id: str | None = None
    user_data: dict[str, Any] = field(default_factory=dict)
    client_ip: str | None = None
    user_agent: str | None = None
    fbc: str | None = None
    fbp: str | None = None
    gclid: str | None = None
    gbraid: str | None = None
    wbraid: str | None = None
    ttclid: str | None = None
    ttp: str | None = None
    ad_user_data: bool | None = None
    ad_personalization: bool | None = None
    limited_data_use: bool = False

    def __post_init__(self) -> None:
        # Fail where the event is built, not deep inside a connector's payload code.
        if self.event_name not in EVENT_NAMES:
            raise ValueError(f"unknown event_name {self.event_name!r}")
        if self.event_time.tzinfo is None or self.event_time.utcoffset() is None:
            raise ValueError("event_time must be timezone-aware")
        if self.value is not None and not isinstance(self.value, Decimal):
            raise TypeError("value must be a Decimal (money is never a float)")


@dataclass(frozen=True)
class Destination:
    """Where a batch goes: one platform account (pixel, dataset, customer, stream).

    The token and settings (which may hold API secrets or developer tokens) are kept
    out of `repr` so a logged or printed destination never leaks them.
    """

    platform: str
    account_id: str
    access_token: str = field(default="", repr=False)
    test_event_code: str | None = None
    settings: dict[str, Any] = field(default_factory=dict, repr=False)


class OutcomeStatus(StrEnum):
    DELIVERED = "delivered"
    REJECTED = "rejected"  # the platform refused this event; resending it cannot help
    RETRY = "retry"  # not delivered this time; the outbox should try again later


@dataclass(frozen=True)
class EventOutcome:
    event_id: str
    status: OutcomeStatus
    error_message: str | None = None
    error_code: str | None = None


@dataclass
class BatchResult:
    """Per-event outcomes of one send, plus the masked exchange for the delivery log."""

    outcomes: list[EventOutcome]
    request: RequestRecord | None = None
    response: ResponseRecord | None = None

    @classmethod
    def for_error(cls, events: Sequence[ConversionEvent], error: PlatformError) -> BatchResult:
        """Every event shares the batch's fate (Meta and TikTok reject whole batches)."""
        status = OutcomeStatus.REJECTED if error.permanent else OutcomeStatus.RETRY
        outcomes = [
            EventOutcome(event.event_id, status, error.message, error.platform_code or error.kind)
            for event in events
        ]
        return cls(outcomes, request=error.request, response=error.response)

    def with_status(self, status: OutcomeStatus) -> list[EventOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == status]


@runtime_checkable
class ConversionsConnector(Protocol):
    """What the conversions outbox needs from a platform: batches in, outcomes out.

    `send_conversions` returns per-event outcomes when the platform judged events one
    by one, and raises `PlatformError` when the call as a whole failed (network, auth,
    throttling, a rejected batch); the outbox then applies `BatchResult.for_error`.
    """

    max_batch_size: int
    # The oldest event the platform takes: fan-out queues no delivery of an older one.
    max_event_age: timedelta

    def split_calls(self, events: Sequence[ConversionEvent]) -> list[Sequence[ConversionEvent]]:
        """The events of each HTTP call sending `events` makes, so the outbox can send
        and record them one call at a time."""
        ...

    def http_calls_for(self, events: Sequence[ConversionEvent]) -> int:
        """How many HTTP calls sending `events` costs (rate limits, lease length)."""
        ...

    def send_conversions(
        self, destination: Destination, events: Sequence[ConversionEvent]
    ) -> BatchResult: ...
