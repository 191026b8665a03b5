"""TikTok Events API 1.3 connector: batches of our events to one pixel.

TikTok answers HTTP 200 with a `code` (PLATFORMS.md §8.1); `usher.lib.http` turns every
non-success code into a `PlatformError` (40100 throttled, 4010x auth, 5xxxx transient),
so an answer that reaches this module means the batch was accepted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

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
from usher.platforms.tiktok.payloads import MAX_EVENTS_PER_REQUEST, PLATFORM, build_request

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = MAX_EVENTS_PER_REQUEST
# "Partial success" (PEERS.md §1a); which events failed is not documented [U], so the
# batch counts as delivered and the message is kept on every outcome for the admin.
PARTIAL_SUCCESS_CODE = 20001
MAX_RECORDED_RESPONSE_CHARS = 4000


class TikTokConversionsConnector:
    """`ConversionsConnector` for the TikTok Events API: `account_id` is the pixel code.

    Uses `destination.access_token` (sent as the `Access-Token` header) and the optional
    `destination.test_event_code`; `destination.settings` is not read.
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
            raise ValueError(f"TikTok takes at most {MAX_EVENTS_PER_REQUEST} events per request")
        if not events:
            return BatchResult([])
        token = destination.access_token
        if not token:
            raise PlatformError(ErrorKind.AUTH, "no access token for this pixel", platform=PLATFORM)
        built = build_request(destination, events, self._clock())
        outcomes = {id(event): outcome for event, outcome in built.rejected}
        if not built.events:
            return BatchResult([outcomes[id(event)] for event in events])
        response = get_client(PLATFORM).request(
            "POST",
            # The trailing slash is part of TikTok's path: without it the API answers 404.
            f"/open_api/{settings.TIKTOK_API_VERSION}/event/track/",
            json=built.body,
            headers={"Access-Token": token},
            secrets=[token],
        )
        note, code = _partial_success(response, destination)
        for event in built.events:
            outcomes[id(event)] = EventOutcome(event.event_id, OutcomeStatus.DELIVERED, note, code)
        return BatchResult(
            [outcomes[id(event)] for event in events],
            request=response.request,
            response=ResponseRecord(
                status_code=response.status_code,
                body=response.text[:MAX_RECORDED_RESPONSE_CHARS],
                elapsed_ms=response.elapsed_ms,
            ),
        )


def _partial_success(
    response: PlatformResponse, destination: Destination
) -> tuple[str | None, str | None]:
    body = response.json if isinstance(response.json, dict) else {}
    if body.get("code") != PARTIAL_SUCCESS_CODE:
        return None, None
    message = str(body.get("message") or "partial success")
    logger.warning("tiktok events pixel=%s partial success: %s", destination.account_id, message)
    return message, str(PARTIAL_SUCCESS_CODE)
