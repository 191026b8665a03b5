"""TikTok Events API 1.3 payloads: our `ConversionEvent`s -> the `/event/track/` body.

Pure functions (no I/O, the clock passed in). Like Meta, TikTok checks the whole
request before recording any event, so an event it would refuse is rejected here
instead of failing its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from usher.platforms.base import ConversionEvent, Destination, EventOutcome, OutcomeStatus
from usher.platforms.normalize import normalize_user_data

PLATFORM = "tiktok"
MAX_EVENTS_PER_REQUEST = 1000  # Events API 2.0 `data[]` limit (PLATFORMS.md §8.1)
EVENT_SOURCE = "web"
# TikTok's accepted age is unverified (PLATFORMS.md §10); 7 days as for Meta, so a stale
# event is rejected alone instead of failing the request it travels in.
MAX_EVENT_AGE = timedelta(days=7)
CONTENT_TYPE_PRODUCT = "product"
EVENT_TOO_OLD = "event_too_old"

# Our event names -> TikTok standard events, as the pixel fires them (tiktok/snippet.py):
# TikTok deduplicates pixel and API copies on event name + event_id (§8.2). `Purchase`
# replaced `CompletePayment` in 2025; TikTok converts the legacy name, not the reverse.
EVENT_NAMES: dict[str, str] = {
    "page_view": "PageView",
    "view_item": "ViewContent",
    "add_to_cart": "AddToCart",
    "begin_checkout": "InitiateCheckout",
    "purchase": "Purchase",
}

# Our user_data names -> TikTok `user` keys. email/phone/external_id go as lists.
LIST_KEYS: dict[str, str] = {"email": "email", "phone": "phone", "external_id": "external_id"}
SCALAR_KEYS: dict[str, str] = {
    "first_name": "first_name",
    "last_name": "last_name",
    "city": "city",
    "state": "state",
    "country": "country",
    "zip": "zip_code",
}


@dataclass
class TikTokRequest:
    """One `/event/track/` call: the body, the events in `data` order, the local rejections."""

    body: dict[str, Any]
    events: list[ConversionEvent] = field(default_factory=list)
    rejected: list[tuple[ConversionEvent, EventOutcome]] = field(default_factory=list)


def money(value: Decimal) -> float:
    """Decimal in Usher, a JSON number on the wire."""
    return float(value)


def check_event(event: ConversionEvent, now: datetime) -> EventOutcome | None:
    if event.event_time < now - MAX_EVENT_AGE:
        return EventOutcome(
            event.event_id,
            OutcomeStatus.REJECTED,
            "event_time is more than 7 days old; TikTok would reject the whole request",
            EVENT_TOO_OLD,
        )
    return None


def user(event: ConversionEvent) -> dict[str, Any]:
    """Hashed identifiers (normalize.py decides which), click id and cookie, IP and UA."""
    normalized = normalize_user_data(PLATFORM, event.user_data, "conversions")
    wire: dict[str, Any] = {}
    for ours, key in LIST_KEYS.items():
        if ours in normalized:
            wire[key] = [normalized[ours]]
    for ours, key in SCALAR_KEYS.items():
        if ours in normalized:
            wire[key] = normalized[ours]
    # Sent raw: TikTok matches click id, cookie, IP and user agent as observed.
    clear = {
        "ttclid": event.ttclid,
        "ttp": event.ttp,
        "ip": event.client_ip,
        "user_agent": event.user_agent,
    }
    wire.update({key: value for key, value in clear.items() if value})
    return wire


def properties(event: ConversionEvent) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if event.value is not None:
        props["value"] = money(event.value)
    if event.currency:
        props["currency"] = event.currency.upper()
    if event.content_ids:
        ids = [str(content_id) for content_id in event.content_ids]
        props["content_type"] = CONTENT_TYPE_PRODUCT
        # `contents` is what TikTok documents for catalog matching; content_ids mirrors it.
        props["contents"] = [{"content_id": content_id} for content_id in ids]
        props["content_ids"] = ids
    if event.num_items is not None:
        props["num_items"] = event.num_items
    if event.order_id:
        props["order_id"] = event.order_id
    return props


def build_event(event: ConversionEvent) -> dict[str, Any]:
    """One entry of `data`."""
    wire: dict[str, Any] = {
        "event": EVENT_NAMES[event.event_name],
        "event_time": int(event.event_time.timestamp()),
        "event_id": event.event_id,  # the pixel's event_id: TikTok keeps the first copy
        "user": user(event),
        "properties": properties(event),
        # TikTok's per-event counterpart of Meta's LDU; sent either way, as Segment does.
        "limited_data_use": bool(event.limited_data_use),
    }
    if event.event_source_url:
        wire["page"] = {"url": event.event_source_url}
    return wire


def build_request(
    destination: Destination, events: Sequence[ConversionEvent], now: datetime
) -> TikTokRequest:
    """The body for `POST /open_api/{version}/event/track/`; the pixel code is the source id."""
    request = TikTokRequest(
        body={"event_source": EVENT_SOURCE, "event_source_id": destination.account_id}
    )
    if destination.test_event_code:
        request.body["test_event_code"] = destination.test_event_code
    data: list[dict[str, Any]] = []
    for event in events:
        problem = check_event(event, now)
        if problem is not None:
            request.rejected.append((event, problem))
            continue
        data.append(build_event(event))
        request.events.append(event)
    request.body["data"] = data
    return request
