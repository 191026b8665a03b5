"""GA4 Measurement Protocol connector: server-side events to one web data stream.

`/mp/collect` answers 2xx with no body, even for malformed payloads (docs/platforms.md, GA4
Measurement Protocol), so a 2xx is all "delivered" can mean; payload mistakes are caught by
the tests against `/debug/mp/collect` (`validate_only=True`). A batch of several visitors
becomes several requests (one per visitor, 25 events each), all sent inside one
`send_conversions`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from usher.lib.http import PlatformResponse, get_client
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
from usher.platforms.conversions_base import BatchConnector, Clock, Delivery, delivered, utc_now
from usher.platforms.ga4.payloads import (
    MAX_EVENT_AGE,
    PLATFORM,
    GA4Batch,
    GA4Request,
    build_requests,
    group_by_request,
)

# Deliveries claimed at once: one call per visitor, and the outbox makes up to eight of
# them at a time (`usher.conversions.dispatch.CALLS_IN_FLIGHT`); a claim of 25 visitors
# spent as long claiming and ramping up as sending.
DEFAULT_BATCH_SIZE = 200
MAX_BATCH_SIZE = 1000  # the connector splits per visitor anyway; this bounds one call's work
COLLECT_PATH = "/mp/collect"
VALIDATE_PATH = "/debug/mp/collect"  # validates only; GA4 records nothing it receives
MAX_RECORDED_CHARS = 64_000


class GA4ConversionsConnector(BatchConnector[GA4Batch]):
    """`ConversionsConnector` for GA4: `destination.account_id` is the measurement id (G-…).

    The credential is the stream's Measurement Protocol API secret:
    `destination.settings["api_secret"]`, or `destination.access_token` when that is
    where the code stores it. Each event needs the visitor's GA client id in
    `user_data["ga_client_id"]`, else its `external_id` stands in (see payloads.py);
    events with neither are rejected.
    """

    platform = PLATFORM
    too_many_events = "at most {limit} events per call"
    missing_credential = "no Measurement Protocol api_secret"
    accepts_anonymous_events = False  # every MP request needs a client id
    max_event_age = MAX_EVENT_AGE

    def split_calls(self, events: Sequence[ConversionEvent]) -> list[Sequence[ConversionEvent]]:
        # The Measurement Protocol takes one visitor (25 events at most) per request.
        return group_by_request(events) or [events]

    default_batch_size = DEFAULT_BATCH_SIZE
    events_per_call = MAX_BATCH_SIZE

    def __init__(
        self,
        max_batch_size: int | None = None,
        *,
        validate_only: bool = False,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(max_batch_size, clock=clock)
        self.validate_only = validate_only

    def credential(self, destination: Destination) -> str:
        return str(destination.settings.get("api_secret") or destination.access_token or "")

    def build(self, destination: Destination, events: Sequence[ConversionEvent]) -> GA4Batch:
        return build_requests(events, self._clock())

    def deliver(self, destination: Destination, credential: str, built: GA4Batch) -> Delivery:
        outcomes: list[tuple[ConversionEvent, EventOutcome]] = []
        exchanges: list[PlatformResponse] = []
        failure: PlatformError | None = None
        for request in built.requests:
            if failure is not None:
                # After a failed call the rest share its fate: the stream or secret is the
                # same for all, and hammering a failing endpoint helps nobody.
                outcomes.extend(_failed(request, failure))
                continue
            try:
                response = self._post(destination, credential, request)
            except PlatformError as error:
                if not exchanges:
                    raise  # nothing went out: the whole call failed, the outbox decides
                failure = error
                outcomes.extend(_failed(request, failure))
                continue
            exchanges.append(response)
            outcomes.extend(self._outcomes(destination, request, response))
        return Delivery(outcomes, *_records(exchanges))

    def validates_only(self, destination: Destination) -> bool:
        """GA4 has no test-events view: a code in test mode (a test code set) goes to the
        validation endpoint, which checks every event and records none of them."""
        return self.validate_only or bool(destination.test_event_code)

    def _post(self, destination: Destination, secret: str, request: GA4Request) -> PlatformResponse:
        return get_client(PLATFORM).request(
            "POST",
            VALIDATE_PATH if self.validates_only(destination) else COLLECT_PATH,
            params={"measurement_id": destination.account_id, "api_secret": secret},
            json=request.body,
            secrets=[secret],
        )

    def _outcomes(
        self, destination: Destination, request: GA4Request, response: PlatformResponse
    ) -> list[tuple[ConversionEvent, EventOutcome]]:
        if not self.validates_only(destination):
            return delivered(request.events)
        verdicts = validation_outcomes(request.events, response.json)
        return list(zip(request.events, verdicts, strict=True))


def validation_outcomes(events: Sequence[ConversionEvent], answer: Any) -> list[EventOutcome]:
    """`{"validationMessages": [{fieldPath, description, validationCode}]}` per event.

    A message pointing into `events[N]` rejects that event; any other rejects them all
    (it is about the request's top-level fields). No message means GA4 would accept it.
    """
    messages = answer.get("validationMessages") if isinstance(answer, dict) else None
    by_event: dict[int, list[dict[str, Any]]] = {}
    general: list[dict[str, Any]] = []
    for message in messages if isinstance(messages, list) else []:
        if not isinstance(message, dict):
            continue
        index = _event_index(str(message.get("fieldPath") or ""))
        if index is not None and index < len(events):
            by_event.setdefault(index, []).append(message)
        else:
            general.append(message)
    outcomes = []
    for index, event in enumerate(events):
        found = by_event.get(index, []) + general
        if not found:
            outcomes.append(EventOutcome(event.event_id, OutcomeStatus.DELIVERED))
            continue
        text = "; ".join(
            f"{m.get('fieldPath') or 'request'}: {m.get('description') or ''}".strip()
            for m in found
        )
        code = str(found[0].get("validationCode") or "VALIDATION_ERROR")
        outcomes.append(EventOutcome(event.event_id, OutcomeStatus.REJECTED, text, code))
    return outcomes


def _event_index(field_path: str) -> int | None:
    prefix = "events["
    if not field_path.startswith(prefix):
        return None
    digits = field_path[len(prefix) :].split("]", 1)[0]
    return int(digits) if digits.isdigit() else None


def _failed(
    request: GA4Request, error: PlatformError
) -> list[tuple[ConversionEvent, EventOutcome]]:
    """The request's events share the failed call's fate, as a whole batch would."""
    return list(
        zip(request.events, BatchResult.for_error(request.events, error).outcomes, strict=True)
    )


def _records(
    exchanges: list[PlatformResponse],
) -> tuple[RequestRecord | None, ResponseRecord | None]:
    """One record for the delivery log: the masked bodies of every call, as a JSON array.

    GA4 needs a call per visitor, but a batch has one request/response slot.
    """
    if not exchanges:
        return None, None
    first = exchanges[0].request
    bodies = ",".join(exchange.request.body or "null" for exchange in exchanges)
    request = RequestRecord(
        first.method, first.url, first.headers, f"[{bodies}]"[:MAX_RECORDED_CHARS]
    )
    answers = [exchange.text for exchange in exchanges]
    response = ResponseRecord(
        status_code=exchanges[-1].status_code,
        body=json.dumps(answers)[:MAX_RECORDED_CHARS] if any(answers) else "",
        elapsed_ms=sum(exchange.elapsed_ms for exchange in exchanges),
    )
    return request, response
