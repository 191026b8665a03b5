"""GA4 Measurement Protocol payloads: our events -> one `/mp/collect` body per visitor.

An MP request describes one visitor: `client_id`, `consent` and `user_data` sit at the top,
beside up to 25 `events` (docs/platforms.md, GA4 Measurement Protocol). So a batch is split
by visitor and by that request-level context, then into chunks of 25. Pure functions; no
I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from usher.platforms.base import ConversionEvent, EventOutcome
from usher.platforms.normalize import normalize_user_data
from usher.platforms.payload_common import (
    consent_status,
    content_ids,
    money,
    partition,
    present,
    rejection,
    too_old,
    value_and_currency,
)

PLATFORM = "ga4"
MAX_EVENTS_PER_REQUEST = 25  # MP limit (docs/platforms.md, GA4 Measurement Protocol)
# GA4 takes events backdated up to 72 h; older ones are dropped behind a 2xx, so they
# are rejected here rather than reported delivered.
MAX_EVENT_AGE = timedelta(hours=72)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Where the visitor's GA client id travels in `ConversionEvent.user_data` (the contract
# has no field for it): the `_ga` cookie value or the id itself, e.g. "1234.5678".
CLIENT_ID_KEYS = ("ga_client_id", "client_id")
# Without a `_ga` value, Usher's own visitor id (external_id) keeps one visitor's events
# together: GA4 still counts the conversion, it just cannot join the browser session.
FALLBACK_CLIENT_ID_KEY = "external_id"
SESSION_ID_KEY = "ga_session_id"
_GA_COOKIE = re.compile(r"GA\d+\.\d+\.(\d+\.\d+)")

NO_CLIENT_ID = "no_client_id"
NO_TRANSACTION_ID = "no_transaction_id"

# Our names are GA4's recommended ecommerce events already (ga4/snippet.py imports them).
EVENT_NAMES: dict[str, str] = {
    "page_view": "page_view",
    "view_item": "view_item",
    "add_to_cart": "add_to_cart",
    "begin_checkout": "begin_checkout",
    "purchase": "purchase",
}

# Our user_data names -> MP `user_data.address[]` keys (uid-data guide); names hashed.
ADDRESS_KEYS: dict[str, str] = {
    "first_name": "sha256_first_name",
    "last_name": "sha256_last_name",
    "city": "city",
    "state": "region",
    "zip": "postal_code",
    "country": "country",
}


@dataclass
class GA4Request:
    """One `/mp/collect` body and the events it carries, in `events[]` order."""

    body: dict[str, Any]
    events: list[ConversionEvent] = field(default_factory=list)


@dataclass
class GA4Batch:
    requests: list[GA4Request] = field(default_factory=list)
    rejected: list[tuple[ConversionEvent, EventOutcome]] = field(default_factory=list)

    @property
    def events(self) -> list[ConversionEvent]:
        """Every event to send, over all requests (none: no call is made)."""
        return [event for request in self.requests for event in request.events]


def timestamp_micros(moment: datetime) -> int:
    """Exact integer microseconds since the epoch (no float rounding)."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def client_id(event: ConversionEvent) -> str | None:
    """The GA client id: `GA1.1.1234.5678` (the `_ga` cookie) or `1234.5678` -> `1234.5678`.

    Falls back to the visitor's external_id; None when the event has neither.
    """
    for key in CLIENT_ID_KEYS:
        value = event.user_data.get(key)
        if isinstance(value, str) and value.strip():
            match = _GA_COOKIE.fullmatch(value.strip())
            return match.group(1) if match else value.strip()
    fallback = event.user_data.get(FALLBACK_CLIENT_ID_KEY)
    return fallback.strip() if isinstance(fallback, str) and fallback.strip() else None


def consent(event: ConversionEvent) -> dict[str, str]:
    """MP `consent`; GA4 knows only GRANTED/DENIED, so unknown choices are left out."""
    flags = {"ad_user_data": event.ad_user_data, "ad_personalization": event.ad_personalization}
    return {key: consent_status(flag) for key, flag in flags.items() if flag is not None}


def user_data(event: ConversionEvent) -> dict[str, Any]:
    """User-provided data (hashed email/phone/names; address parts in clear).

    Withheld when the visitor denied ad_user_data: that consent governs exactly this.
    """
    if event.ad_user_data is False:
        return {}
    normalized = normalize_user_data(PLATFORM, event.user_data, "conversions")
    data: dict[str, Any] = {}
    if "email" in normalized:
        data["sha256_email_address"] = [normalized["email"]]
    if "phone" in normalized:
        data["sha256_phone_number"] = [normalized["phone"]]
    address = {key: normalized[ours] for ours, key in ADDRESS_KEYS.items() if ours in normalized}
    if address:
        data["address"] = [address]
    return data


def build_event(event: ConversionEvent) -> dict[str, Any]:
    """One entry of `events`, with its own timestamp (events of one request may differ)."""
    params: dict[str, Any] = {"event_id": event.event_id}  # GA4 does not dedupe on it; traces
    if event.event_source_url:
        params["page_location"] = event.event_source_url
    params.update(value_and_currency(event))
    if event.order_id:
        params["transaction_id"] = event.order_id  # GA4 dedupes purchases on it
    items = ga4_items(event)
    if items:
        params["items"] = items
    session_id = event.user_data.get(SESSION_ID_KEY)
    if session_id:
        params["session_id"] = str(session_id)  # joins the browser's session in reports
    return {
        "name": EVENT_NAMES[event.event_name],
        "timestamp_micros": timestamp_micros(event.event_time),
        "params": params,
    }


def ga4_items(event: ConversionEvent) -> list[dict[str, Any]]:
    """GA4 `items`: one per ticket line (the event as item, the ticket type as variant),
    else one per content id; GA4 has no item count but each item's quantity."""
    if event.contents:
        return [
            present(
                {
                    "item_id": line.content_id,
                    "item_variant": line.variant,
                    "item_name": line.name,
                    "price": money(line.unit_price),
                    "quantity": line.quantity,
                }
            )
            for line in event.contents
        ]
    ids = content_ids(event)
    if len(ids) == 1 and event.num_items:
        return [{"item_id": ids[0], "quantity": event.num_items}]
    return [{"item_id": content_id} for content_id in ids]


def check_event(event: ConversionEvent, now: datetime) -> EventOutcome | None:
    if client_id(event) is None:
        return rejection(
            event,
            NO_CLIENT_ID,
            "GA4 needs a client_id (the _ga cookie, or a visitor id); this event has neither",
        )
    if event.event_name == "purchase" and not event.order_id:
        # GA4 deduplicates nothing but purchases with a transaction_id: without one, the
        # pixel's copy and every resend would each count as a sale.
        return rejection(
            event, NO_TRANSACTION_ID, "a GA4 purchase needs the order's id as transaction_id"
        )
    return too_old(
        event,
        now,
        MAX_EVENT_AGE,
        "event_time is more than 72 hours old; GA4 would silently drop it",
    )


def request_context(event: ConversionEvent) -> dict[str, Any]:
    """The top-level fields of the request this event must travel in."""
    context: dict[str, Any] = {"client_id": client_id(event)}
    event_consent = consent(event)
    if event_consent:
        context["consent"] = event_consent
    data = user_data(event)
    if data:
        context["user_data"] = data
    return context


def group_by_request(events: Sequence[ConversionEvent]) -> list[list[ConversionEvent]]:
    """The events of each request: one visitor context, at most 25 events, in first-seen
    order."""
    groups: dict[str, list[ConversionEvent]] = {}
    for event in events:
        groups.setdefault(json.dumps(request_context(event), sort_keys=True), []).append(event)
    return [
        grouped[start : start + MAX_EVENTS_PER_REQUEST]
        for grouped in groups.values()
        for start in range(0, len(grouped), MAX_EVENTS_PER_REQUEST)
    ]


def build_requests(events: Sequence[ConversionEvent], now: datetime) -> GA4Batch:
    """One request per visitor context, at most 25 events each, in first-seen order."""
    accepted, rejected = partition(events, lambda event: check_event(event, now))
    batch = GA4Batch(rejected=rejected)
    for chunk in group_by_request(accepted):
        body = {**request_context(chunk[0]), "events": [build_event(event) for event in chunk]}
        batch.requests.append(GA4Request(body, chunk))
    return batch
