"""Meta Conversions API connector: batches of our events to one pixel (dataset).

Meta processes a request all-or-nothing (PLATFORMS.md §3.1): a 2xx means every event in
`data` was received, and any error is the whole call's, raised as `PlatformError` for
the outbox. Events Meta would refuse are rejected locally first (see payloads.py), so
one bad event cannot sink the other 499.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from django.conf import settings

from usher.lib.http import PlatformResponse, get_client
from usher.platforms.base import (
    BatchResult,
    ConversionEvent,
    Destination,
    ErrorKind,
    EventOutcome,
    OutcomeStatus,
    PlatformError,
    ResponseRecord,
)
from usher.platforms.meta.payloads import MAX_EVENTS_PER_REQUEST, PLATFORM, build_request

logger = logging.getLogger(__name__)

# Below Meta's 1,000: one event Meta still refuses fails its whole request, so smaller
# batches bound the blast radius and the body size (user agents make events ~1 kB); the
# FB SDK's BatchProcessor goes further down, to 50. Meta's own advice is near real time.
DEFAULT_BATCH_SIZE = 500
MAX_RECORDED_RESPONSE_CHARS = 4000


class MetaConversionsConnector:
    """`ConversionsConnector` for Meta CAPI: `destination.account_id` is the pixel id.

    Settings used: `destination.access_token` (a system-user token with access to the
    pixel) and `destination.test_event_code` (optional); `destination.settings` is not read.
    """

    def __init__(
        self,
        max_batch_size: int = DEFAULT_BATCH_SIZE,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not 1 <= max_batch_size <= MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"max_batch_size must be 1..{MAX_EVENTS_PER_REQUEST}")
        self.max_batch_size = max_batch_size
        self._clock = clock

    def send_conversions(
        self, destination: Destination, events: Sequence[ConversionEvent]
    ) -> BatchResult:
        if len(events) > MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"Meta takes at most {MAX_EVENTS_PER_REQUEST} events per request")
        if not events:
            return BatchResult([])
        token = destination.access_token
        if not token:
            raise PlatformError(ErrorKind.AUTH, "no access token for this pixel", platform=PLATFORM)
        built = build_request(destination, events, self._clock())
        outcomes = {id(event): outcome for event, outcome in built.rejected}
        if not built.events:
            return BatchResult(_in_order(events, outcomes))
        version = settings.META_GRAPH_API_VERSION
        response = get_client(PLATFORM).request(
            "POST",
            f"/{version}/{quote(destination.account_id, safe='')}/events",
            json=built.body,
            # A header, not the documented access_token param: it stays out of URLs and bodies.
            headers={"Authorization": f"Bearer {token}"},
            secrets=[token],
        )
        received = response.json.get("events_received") if isinstance(response.json, dict) else None
        if received != len(built.events):
            # Meta has no per-event answer; a short count is logged, not guessed at.
            logger.warning(
                "meta capi pixel=%s sent=%d events_received=%s",
                destination.account_id,
                len(built.events),
                received,
            )
        for event in built.events:
            outcomes[id(event)] = EventOutcome(event.event_id, OutcomeStatus.DELIVERED)
        return BatchResult(
            _in_order(events, outcomes), request=response.request, response=_record(response)
        )


def _in_order(
    events: Sequence[ConversionEvent], outcomes: dict[int, EventOutcome]
) -> list[EventOutcome]:
    return [outcomes[id(event)] for event in events]


def _record(response: PlatformResponse) -> ResponseRecord:
    return ResponseRecord(
        status_code=response.status_code,
        body=response.text[:MAX_RECORDED_RESPONSE_CHARS],
        elapsed_ms=response.elapsed_ms,
    )
