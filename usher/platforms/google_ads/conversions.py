"""Google Ads server-side conversions: click conversions per configured conversion action.

Which API: the Google Ads API's `UploadClickConversions` (v25, REST). Our organizers already
connect Google Ads accounts with OAuth + the marketplace's developer token for audiences and
campaigns, and its partial-failure answer gives per-event outcomes. Google points new
integrations to the Data Manager API (docs/platforms.md, Google Ads: Data Manager API): it
can sit behind the `GoogleConversionsApi` seam below (own base URL, no developer token,
fast-fail errors) without the outbox or this connector's callers changing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from usher.lib.http import get_client
from usher.platforms.base import ConversionEvent, Destination, EventOutcome
from usher.platforms.conversions_base import BatchConnector, Delivery
from usher.platforms.google_ads import oauth
from usher.platforms.google_ads.payloads import (
    MAX_EVENT_AGE,
    PLATFORM,
    GoogleAdsUploadApi,
    GoogleRequest,
)

DEFAULT_BATCH_SIZE = 2000  # limit per request (docs/platforms.md, Google Ads: click conversions)


class GoogleConversionsApi(Protocol):
    """What differs between Google's conversion APIs; the connector does the rest.

    `build_request` maps events to one call (locally rejecting what cannot be sent),
    `outcomes` maps the successful answer back to one outcome per sent event.
    `http_platform` names the `usher.lib.http` client (and base URL) to use. Google's
    APIs all take an OAuth access token (the organizer's grant decides which scopes), so
    the connector adds `Authorization`; the API adds its own headers (`developer-token`).
    """

    http_platform: str
    max_events_per_request: int

    def build_request(
        self, destination: Destination, events: Sequence[ConversionEvent]
    ) -> GoogleRequest: ...

    def outcomes(self, answer: Any, events: Sequence[ConversionEvent]) -> list[EventOutcome]: ...


class GoogleAdsConversionsConnector(BatchConnector[GoogleRequest]):
    """`ConversionsConnector` for Google Ads: `destination.account_id` is the customer id.

    `destination.access_token` holds the organizer's OAuth *refresh token*: each call is
    signed with an access token exchanged for it (cached; oauth.py). Uses
    `destination.settings`: `developer_token` (required), `conversion_actions`
    ({our event name: action id or resource name}; events without one are rejected) and
    `login_customer_id` (optional, for access through a manager account).
    """

    platform = PLATFORM
    too_many_events = "Google takes at most {limit} conversions per request"
    missing_credential = "no OAuth refresh token for this customer"
    # A click conversion matches on a click id or hashed email/phone; without any of
    # them Google has nothing to attribute (payloads.py rejects such rows locally).
    accepts_anonymous_events = False
    max_event_age = MAX_EVENT_AGE

    default_batch_size = DEFAULT_BATCH_SIZE

    def __init__(
        self, max_batch_size: int | None = None, *, api: GoogleConversionsApi | None = None
    ) -> None:
        self.api: GoogleConversionsApi = api or GoogleAdsUploadApi()
        super().__init__(max_batch_size, max_events_per_call=self.api.max_events_per_request)

    def build(self, destination: Destination, events: Sequence[ConversionEvent]) -> GoogleRequest:
        return self.api.build_request(destination, events)

    def deliver(self, destination: Destination, credential: str, built: GoogleRequest) -> Delivery:
        return oauth.with_access_token(
            credential, lambda access_token: self._send(built, credential, access_token)
        )

    def _send(self, built: GoogleRequest, refresh_token: str, access_token: str) -> Delivery:
        headers = {**built.headers, "Authorization": f"Bearer {access_token}"}
        response = get_client(self.api.http_platform).request(
            "POST",
            built.path,
            json=built.body,
            headers=headers,
            secrets=[*built.secrets, access_token, refresh_token],
        )
        row_outcomes = self.api.outcomes(response.json, built.events)
        return Delivery.of(list(zip(built.events, row_outcomes, strict=True)), response)
