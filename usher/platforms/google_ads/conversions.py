"""Google Ads server-side conversions: click conversions per configured conversion action.

Which API: the Google Ads API's `UploadClickConversions` (v25, REST). Our organizers
already connect Google Ads accounts with OAuth + the marketplace's developer token for
audiences and campaigns, and its partial-failure answer gives per-event outcomes. Google
points new integrations to the Data Manager API (PEERS.md §4): it can sit behind the
`GoogleConversionsApi` seam below (own base URL, no developer token, fast-fail errors)
without the outbox or this connector's callers changing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from usher.lib.http import get_client
from usher.platforms.base import (
    BatchResult,
    ConversionEvent,
    Destination,
    ErrorKind,
    EventOutcome,
    PlatformError,
    ResponseRecord,
)
from usher.platforms.google_ads.payloads import GoogleAdsUploadApi, GoogleRequest

DEFAULT_BATCH_SIZE = 2000  # UploadClickConversions' limit per request (PLATFORMS.md §6.1)
MAX_RECORDED_RESPONSE_CHARS = 4000


class GoogleConversionsApi(Protocol):
    """What differs between Google's conversion APIs; the connector does the rest.

    `build_request` maps events to one call (locally rejecting what cannot be sent),
    `outcomes` maps the successful answer back to one outcome per sent event.
    `http_platform` names the `usher.lib.http` client (and base URL) to use.
    """

    http_platform: str
    max_events_per_request: int

    def build_request(
        self, destination: Destination, events: Sequence[ConversionEvent]
    ) -> GoogleRequest: ...

    def outcomes(self, answer: Any, events: Sequence[ConversionEvent]) -> list[EventOutcome]: ...


class GoogleAdsConversionsConnector:
    """`ConversionsConnector` for Google Ads: `destination.account_id` is the customer id.

    Uses `destination.access_token` (OAuth, `Authorization: Bearer`) and
    `destination.settings`: `developer_token` (required), `conversion_actions`
    ({our event name: action id or resource name}; events without one are rejected) and
    `login_customer_id` (optional, for access through a manager account).
    """

    def __init__(
        self, max_batch_size: int = DEFAULT_BATCH_SIZE, *, api: GoogleConversionsApi | None = None
    ) -> None:
        self.api: GoogleConversionsApi = api or GoogleAdsUploadApi()
        if not 1 <= max_batch_size <= self.api.max_events_per_request:
            raise ValueError(f"max_batch_size must be 1..{self.api.max_events_per_request}")
        self.max_batch_size = max_batch_size

    def send_conversions(
        self, destination: Destination, events: Sequence[ConversionEvent]
    ) -> BatchResult:
        limit = self.api.max_events_per_request
        if len(events) > limit:
            raise ValueError(f"Google takes at most {limit} conversions per request")
        if not events:
            return BatchResult([])
        if not destination.access_token:
            raise PlatformError(
                ErrorKind.AUTH, "no OAuth access token for this customer", platform="google_ads"
            )
        built = self.api.build_request(destination, events)
        outcomes = {id(event): outcome for event, outcome in built.rejected}
        if not built.events:
            return BatchResult([outcomes[id(event)] for event in events])
        response = get_client(self.api.http_platform).request(
            "POST", built.path, json=built.body, headers=built.headers, secrets=built.secrets
        )
        row_outcomes = self.api.outcomes(response.json, built.events)
        for event, outcome in zip(built.events, row_outcomes, strict=True):
            outcomes[id(event)] = outcome
        return BatchResult(
            [outcomes[id(event)] for event in events],
            request=response.request,
            response=ResponseRecord(
                status_code=response.status_code,
                body=response.text[:MAX_RECORDED_RESPONSE_CHARS],
                elapsed_ms=response.elapsed_ms,
            ),
        )
