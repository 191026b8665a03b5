"""An order's purchase id, and the buyer's own browser events, as fan-out (for consent)
and delivery (for the browser's network data) both need them.

Only events of the order's visitor count: an event id alone (`order-<id>`) can be posted
by anyone, and must not lend an order its consent or its browser data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from usher.events.collector import ORDER_EVENT_ID_PREFIX
from usher.events.models import TrackingEvent
from usher.marketplace.models import Order


def order_event_id(order: Order) -> str:
    """The event id of an order's purchase; tracker.js derives the same on the thank-you
    page, so the pixel's purchase and the server's are one conversion."""
    return f"{ORDER_EVENT_ID_PREFIX}{order.external_id}"


def buyer_browser_events(
    orders: Sequence[Order], *, since: datetime | None = None
) -> dict[int, TrackingEvent]:
    """Per order (by pk), the buyer's browser event that best describes their browser:
    the checkout's purchase (same event id), else their latest (one query for all)."""
    with_visitor = [order for order in orders if order.visitor_id]
    if not with_visitor:
        return {}
    events = TrackingEvent.objects.filter(
        client_id=with_visitor[0].client_id,
        visitor_id__in={order.visitor_id for order in with_visitor},
    )
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    by_visitor: dict[str, list[TrackingEvent]] = defaultdict(list)
    for event in events.order_by("-occurred_at"):
        by_visitor[event.visitor_id].append(event)
    chosen = {}
    for order in with_visitor:
        candidates = by_visitor.get(order.visitor_id, [])
        checkout_id = order_event_id(order)
        checkout = next((e for e in candidates if e.event_id == checkout_id), None)
        if checkout or candidates:
            chosen[order.pk] = checkout or candidates[0]
    return chosen
