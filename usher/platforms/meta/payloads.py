"""Meta Conversions API payloads: our `ConversionEvent`s -> the `/{pixel_id}/events` body.

Pure functions (no I/O, the clock passed in) so the exact wire format is testable on its
own. Meta rejects a whole request for one invalid event (docs/platforms.md, Meta:
Conversions API requests), so `check_event` finds, before sending, what Meta would refuse;
such events are rejected here with the reason and the rest of the batch still goes out.
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
    rejection,
    too_old,
    unix_seconds,
)

PLATFORM = "meta"
# Meta's limit per /events call (docs/platforms.md, Meta: Conversions API requests).
MAX_EVENTS_PER_REQUEST = 1000
ACTION_SOURCE = "website"
# Meta errors the whole request when one event is older than 7 days (docs/platforms.md, Meta:
# event fields and time window).
MAX_EVENT_AGE = timedelta(days=7)
LDU_OPTIONS = ["LDU"]
# data_processing_options_country/state 0: Meta geolocates by IP (docs/platforms.md,
# Meta: Limited Data Use).
LDU_GEOLOCATE = 0

# Our event names -> Meta standard events; the pixel fires these too (meta/snippet.py
# imports them): Meta deduplicates pixel and server copies on event_name + event_id
# (docs/platforms.md, Meta: deduplication).
EVENT_NAMES: dict[str, str] = {
    "page_view": "PageView",
    "view_item": "ViewContent",
    "add_to_cart": "AddToCart",
    "begin_checkout": "InitiateCheckout",
    "purchase": "Purchase",
}

# Our user_data names -> Meta's user_data keys (customer information parameters,
# docs/platforms.md, Meta: hashing).
USER_DATA_KEYS: dict[str, str] = {
    "email": "em",
    "phone": "ph",
    "first_name": "fn",
    "last_name": "ln",
    "city": "ct",
    "state": "st",
    "zip": "zp",
    "country": "country",
    "external_id": "external_id",
    "gender": "ge",
    "date_of_birth": "db",
}

# Local rejection codes (EventOutcome.error_code) for what Meta would refuse.
MISSING_USER_AGENT = "missing_user_agent"
MISSING_SOURCE_URL = "missing_event_source_url"
MISSING_VALUE = "missing_value_or_currency"


def check_event(event: ConversionEvent, now: datetime) -> EventOutcome | None:
    """The REJECTED outcome for an event Meta would refuse (and fail its batch), else None."""
    if not event.user_agent:
        return rejection(
            event,
            MISSING_USER_AGENT,
            "Meta requires client_user_agent for website events (none stored)",
        )
    if not event.event_source_url:
        return rejection(
            event, MISSING_SOURCE_URL, "Meta requires event_source_url for website events"
        )
    if event.event_name == "purchase" and (event.value is None or not event.currency):
        return rejection(
            event, MISSING_VALUE, "Meta requires value and currency on Purchase events"
        )
    return too_old(
        event,
        now,
        MAX_EVENT_AGE,
        "event_time is more than 7 days old; Meta would reject the whole request",
    )


def user_data(event: ConversionEvent) -> dict[str, Any]:
    """Normalized and hashed customer information, plus the fields Meta wants in clear."""
    wire: dict[str, Any] = {}
    for ours, value in normalize_user_data(PLATFORM, event.user_data, "conversions").items():
        # Lists: Meta takes string or list<string>; lists leave room for several emails.
        wire[USER_DATA_KEYS[ours]] = [value]
    # Never hashed (docs/platforms.md, Meta: hashing): Meta matches them as sent; fbc/fbp
    # are case-sensitive.
    clear = {
        "client_ip_address": event.client_ip,
        "client_user_agent": event.user_agent,
        "fbc": event.fbc,
        "fbp": event.fbp,
    }
    wire.update(present(clear))
    return wire


def custom_data(event: ConversionEvent) -> dict[str, Any]:
    return commerce_data(event, _contents)


def _contents(ids: list[str], lines: list[ContentLine]) -> dict[str, Any]:
    # content_type goes with content_ids so catalog (Advantage+) ads can match them;
    # `contents` adds each ticket line's quantity and price (docs/platforms.md,
    # Meta: event fields and time window).
    data: dict[str, Any] = {"content_ids": ids, "content_type": CONTENT_TYPE_PRODUCT}
    if lines:
        data["contents"] = [
            present(
                {
                    "id": line.content_id,
                    "quantity": line.quantity,
                    "item_price": money(line.unit_price),
                    "title": line.name,
                }
            )
            for line in lines
        ]
    return data


def build_event(event: ConversionEvent) -> dict[str, Any]:
    """One entry of `data`: the server event in Meta's format."""
    wire: dict[str, Any] = {
        "event_name": EVENT_NAMES[event.event_name],
        "event_time": unix_seconds(event.event_time),
        "event_id": event.event_id,  # the id the pixel used: Meta keeps one copy
        "action_source": ACTION_SOURCE,
        "event_source_url": event.event_source_url,
        "user_data": user_data(event),
    }
    custom = custom_data(event)
    if custom:
        wire["custom_data"] = custom
    if event.limited_data_use:
        wire["data_processing_options"] = list(LDU_OPTIONS)
        wire["data_processing_options_country"] = LDU_GEOLOCATE
        wire["data_processing_options_state"] = LDU_GEOLOCATE
    return wire


def build_request(
    destination: Destination, events: Sequence[ConversionEvent], now: datetime
) -> EventsRequest:
    """The body for `POST /{version}/{pixel_id}/events`, with locally rejected events apart."""
    request = events_request(events, lambda event: check_event(event, now), build_event)
    if destination.test_event_code:
        # Routes the events to Events Manager -> Test Events instead of the live data.
        request.body["test_event_code"] = destination.test_event_code
    return request
