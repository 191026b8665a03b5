"""TikTok Events API 1.3 connector: batches of our events to one pixel.

TikTok answers HTTP 200 with a `code` (docs/platforms.md, TikTok: errors); `usher.lib.http`
turns every non-success code into a `PlatformError` (40100 throttled, 4010x auth, 5xxxx
transient), so an answer that reaches this module means the batch was accepted.
"""

from __future__ import annotations

import logging

from django.conf import settings

from usher.lib.http import PlatformResponse, get_client
from usher.platforms.base import Destination
from usher.platforms.conversions_base import BatchConnector, Delivery, delivered
from usher.platforms.payload_common import EventsRequest
from usher.platforms.tiktok.payloads import (
    MAX_EVENT_AGE,
    MAX_EVENTS_PER_REQUEST,
    PLATFORM,
    build_request,
)

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = MAX_EVENTS_PER_REQUEST
# "Partial success" (docs/platforms.md, TikTok: Events API); which events failed is not
# documented [U], so the batch counts as delivered and the message is kept on every outcome
# for the admin.
PARTIAL_SUCCESS_CODE = 20001


class TikTokConversionsConnector(BatchConnector[EventsRequest]):
    """`ConversionsConnector` for the TikTok Events API: `account_id` is the pixel code.

    Uses `destination.access_token` (sent as the `Access-Token` header) and the optional
    `destination.test_event_code`; `destination.settings` is not read.
    """

    platform = PLATFORM
    too_many_events = "TikTok takes at most {limit} events per request"
    missing_credential = "no access token for this pixel"
    max_event_age = MAX_EVENT_AGE

    default_batch_size = DEFAULT_BATCH_SIZE
    events_per_call = MAX_EVENTS_PER_REQUEST
    build_request = staticmethod(build_request)

    def deliver(self, destination: Destination, credential: str, built: EventsRequest) -> Delivery:
        response = get_client(PLATFORM).request(
            "POST",
            # The trailing slash is part of TikTok's path: without it the API answers 404.
            f"/open_api/{settings.TIKTOK_API_VERSION}/event/track/",
            json=built.body,
            headers={"Access-Token": credential},
            secrets=[credential],
        )
        note, code = _partial_success(response, destination)
        return Delivery.of(delivered(built.events, note, code), response)


def _partial_success(
    response: PlatformResponse, destination: Destination
) -> tuple[str | None, str | None]:
    body = response.json if isinstance(response.json, dict) else {}
    if body.get("code") != PARTIAL_SUCCESS_CODE:
        return None, None
    message = str(body.get("message") or "partial success")
    logger.warning("tiktok events pixel=%s partial success: %s", destination.account_id, message)
    return message, str(PARTIAL_SUCCESS_CODE)
