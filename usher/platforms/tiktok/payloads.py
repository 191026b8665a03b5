"""TikTok Events API 1.3 payloads: our `ConversionEvent`s -> the `/event/track/` body.

Pure functions (no I/O, the clock passed in). Like Meta, TikTok checks the whole
request before recording any event, so an event it would refuse is rejected here
instead of failing its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from usher.platforms.base import ContentLine, ConversionEvent, Destination, EventOutcome
from usher.platforms.normalize import normalize_user_data
from usher.platforms.payload_common import (
    CONTENT_TYPE_PRODUCT,
    EventsRequest,
    commerce_data,
    events_request,
    money,
    present,
    too_old,
    unix_seconds,
)

PLATFORM = "tiktok"
MAX_EVENTS_PER_REQUEST = 1000  # `data[]` limit (docs/platforms.md, TikTok: Events API)
EVENT_SOURCE = "web"
# TikTok's accepted age is unverified (docs/platforms.md, TikTok: Events API); 7 days as for
# Meta, so a stale event is rejected alone instead of failing the request it travels in.
MAX_EVENT_AGE = timedelta(days=7)

# Our event names -> TikTok standard events; the pixel fires these too (tiktok/snippet.py
# imports them): TikTok deduplicates pixel and API copies on event name + event_id
# (docs/platforms.md, TikTok: deduplication).
# `Purchase` replaced `CompletePayment` in 2025; TikTok converts the legacy name, not the
# reverse.
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


def check_event(event: ConversionEvent, now: datetime) -> EventOutcome | None:
    return too_old(
        event,
        now,
        MAX_EVENT_AGE,
        "event_time is more than 7 days old; TikTok would reject the whole request",
    )


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
    wire.update(present(clear))
    return wire


def properties(event: ConversionEvent) -> dict[str, Any]:
    return commerce_data(event, _contents)


def _contents(ids: list[str], lines: list[ContentLine]) -> dict[str, Any]:
    # `contents` is what TikTok documents for catalog matching; content_ids mirrors it.
    # An order's lines give one entry each, with the ticket type's name, price, quantity.
    contents = [
        present(
            {
                "content_id": line.content_id,
                "content_name": line.name,
                "price": money(line.unit_price),
                "quantity": line.quantity,
            }
        )
        for line in lines
    ] or [{"content_id": content_id} for content_id in ids]
    return {"content_type": CONTENT_TYPE_PRODUCT, "contents": contents, "content_ids": ids}


def build_event(event: ConversionEvent) -> dict[str, Any]:
    """One entry of `data`."""
    wire: dict[str, Any] = {
        "event": EVENT_NAMES[event.event_name],
        "event_time": unix_seconds(event.event_time),
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
) -> EventsRequest:
    """The body for `POST /open_api/{version}/event/track/`; the pixel code is the source id."""
    head = {"event_source": EVENT_SOURCE, "event_source_id": destination.account_id}
    if destination.test_event_code:
        head["test_event_code"] = destination.test_event_code
    return events_request(events, lambda event: check_event(event, now), build_event, head)
