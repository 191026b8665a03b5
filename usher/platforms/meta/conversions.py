"""Meta Conversions API connector: batches of our events to one pixel (dataset).

Meta processes a request all-or-nothing (docs/platforms.md, Meta: Conversions API requests):
a 2xx means every event in `data` was received, and any error is the whole call's, raised as
`PlatformError` for the outbox. Events Meta would refuse are rejected locally first (see
payloads.py), so one bad event cannot sink the other 499.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from django.conf import settings

from usher.lib.http import get_client
from usher.platforms.base import Destination
from usher.platforms.conversions_base import BatchConnector, Delivery, delivered
from usher.platforms.meta.payloads import (
    MAX_EVENT_AGE,
    MAX_EVENTS_PER_REQUEST,
    PLATFORM,
    build_request,
)
from usher.platforms.payload_common import EventsRequest

logger = logging.getLogger(__name__)

# Below Meta's 1,000: one event Meta still refuses fails its whole request, so smaller
# batches bound the blast radius and the body size (user agents make events ~1 kB); the
# FB SDK's BatchProcessor goes further down, to 50. Meta's own advice is near real time.
DEFAULT_BATCH_SIZE = 500


class MetaConversionsConnector(BatchConnector[EventsRequest]):
    """`ConversionsConnector` for Meta CAPI: `destination.account_id` is the pixel id.

    Settings used: `destination.access_token` (a system-user token with access to the
    pixel) and `destination.test_event_code` (optional); `destination.settings` is not read.
    """

    platform = PLATFORM
    too_many_events = "Meta takes at most {limit} events per request"
    missing_credential = "no access token for this pixel"
    max_event_age = MAX_EVENT_AGE

    default_batch_size = DEFAULT_BATCH_SIZE
    events_per_call = MAX_EVENTS_PER_REQUEST
    build_request = staticmethod(build_request)

    def deliver(self, destination: Destination, credential: str, built: EventsRequest) -> Delivery:
        version = settings.META_GRAPH_API_VERSION
        response = get_client(PLATFORM).request(
            "POST",
            f"/{version}/{quote(destination.account_id, safe='')}/events",
            json=built.body,
            # A header, not the documented access_token param: it stays out of URLs and bodies.
            headers={"Authorization": f"Bearer {credential}"},
            secrets=[credential],
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
        return Delivery.of(delivered(built.events), response)
