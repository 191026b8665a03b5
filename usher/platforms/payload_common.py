"""Payload rules that are the same on every platform, so they are written once.

Pure functions, like the payload modules that use them: money and time on the wire,
local rejections (what a platform would refuse is kept apart before sending, with a
reason), and consent as Google spells it. What a platform names or nests differently
stays in its own `payloads.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from usher.platforms.base import ContentLine, ConversionEvent, EventOutcome, OutcomeStatus

# Local rejection code (EventOutcome.error_code) for an event past the platform's window.
EVENT_TOO_OLD = "event_too_old"
# The content type that lets catalog ads (Meta Advantage+, TikTok) match content ids.
CONTENT_TYPE_PRODUCT = "product"

EventCheck = Callable[[ConversionEvent], EventOutcome | None]
Rejections = list[tuple[ConversionEvent, EventOutcome]]


@dataclass
class EventsRequest:
    """One call whose body carries the events in `data[]` (Meta, TikTok): the body, the
    events in `data` order, and the events rejected locally."""

    body: dict[str, Any]
    events: list[ConversionEvent] = field(default_factory=list)
    rejected: Rejections = field(default_factory=list)


def money(value: Decimal) -> float:
    """Decimal in Usher, a JSON number on the wire (every platform's value is a double)."""
    return float(value)


def unix_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def rejection(event: ConversionEvent, code: str, message: str) -> EventOutcome:
    """The REJECTED outcome for an event that is not sent: resending cannot help."""
    return EventOutcome(event.event_id, OutcomeStatus.REJECTED, message, code)


def past_window(event_time: datetime, now: datetime, max_age: timedelta) -> bool:
    """Whether an event that happened at `event_time` is older than a platform takes: the
    one rule that fan-out (which then queues no delivery) and `too_old` share."""
    return event_time < now - max_age


def too_old(
    event: ConversionEvent, now: datetime, max_age: timedelta, message: str
) -> EventOutcome | None:
    """The rejection for an event older than the platform's window, else None."""
    if past_window(event.event_time, now, max_age):
        return rejection(event, EVENT_TOO_OLD, message)
    return None


def partition(
    events: Sequence[ConversionEvent], check: EventCheck
) -> tuple[list[ConversionEvent], Rejections]:
    """The events that pass `check`, in order, and the others with their rejection."""
    accepted: list[ConversionEvent] = []
    rejected: Rejections = []
    for event in events:
        problem = check(event)
        if problem is None:
            accepted.append(event)
        else:
            rejected.append((event, problem))
    return accepted, rejected


def events_request(
    events: Sequence[ConversionEvent],
    check: EventCheck,
    build_event: Callable[[ConversionEvent], dict[str, Any]],
    body: Mapping[str, Any] | None = None,
) -> EventsRequest:
    """`body` plus `data`: one built entry per event that passes `check`."""
    accepted, rejected = partition(events, check)
    data = [build_event(event) for event in accepted]
    return EventsRequest({**(body or {}), "data": data}, accepted, rejected)


def present(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that have a value: platforms want absent keys, not nulls or ""."""
    return {key: value for key, value in fields.items() if value}


def value_and_currency(event: ConversionEvent) -> dict[str, Any]:
    """`value` as a number and `currency` in upper case (ISO 4217), when the event has them."""
    fields: dict[str, Any] = {}
    if event.value is not None:
        fields["value"] = money(event.value)
    if event.currency:
        fields["currency"] = event.currency.upper()
    return fields


def commerce_data(
    event: ConversionEvent, content: Callable[[list[str], list[ContentLine]], dict[str, Any]]
) -> dict[str, Any]:
    """Value, currency, content, item count and order id, as Meta's `custom_data` and
    TikTok's `properties` both take them; `content` spells the content ids and the
    order's lines its own way."""
    data = value_and_currency(event)
    ids = content_ids(event)
    if ids:
        data.update(content(ids, event.contents))
    num_items = item_count(event)
    if num_items is not None:
        data["num_items"] = num_items
    if event.order_id:
        data["order_id"] = event.order_id
    return data


def content_ids(event: ConversionEvent) -> list[str]:
    """The event's content ids, with its lines' ids, once each, in first-seen order."""
    ids = [str(content_id) for content_id in event.content_ids]
    ids += [line.content_id for line in event.contents]
    return list(dict.fromkeys(ids))


def item_count(event: ConversionEvent) -> int | None:
    """How many items (tickets) the event is about: its own count, else its lines'."""
    if event.num_items is not None:
        return event.num_items
    return sum(line.quantity for line in event.contents) if event.contents else None


def consent_status(flag: bool | None) -> str:
    """Our tri-state consent flag as Google's ConsentStatus (Ads and GA4 alike)."""
    if flag is None:
        return "UNSPECIFIED"
    return "GRANTED" if flag else "DENIED"
