"""Fan-out: every stored event and paid order becomes one delivery per destination.

A destination is a server-side-capable code resolved for the event's page (the
organizer's event-specific code before its default) or one of the marketplace's own
(dual tracking), and only if its `conversion_events` include the event. The unique key
(destination, event_id) makes fan-out safe to run twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db.models import Q
from django.utils import timezone

from usher.conversions.models import ConversionDelivery
from usher.conversions.policy import decide
from usher.marketplace.models import Order, OrderStatus
from usher.tracking.event_store import TrackingEvent
from usher.tracking.resolved import CodeSource, StandardEvent
from usher.tracking.resolver import ServerSideCode, server_side_codes


def order_event_id(order: Order) -> str:
    """The event id of an order's purchase; tracker.js derives the same on the thank-you
    page, so the pixel's purchase and the server's are one conversion."""
    return f"order-{order.external_id}"


def _delivery(code: ServerSideCode, *, minimal: bool, **source) -> ConversionDelivery:
    from_marketplace = code.source == CodeSource.MARKETPLACE
    return ConversionDelivery(
        destination_key=code.destination_key,
        provider=code.provider,
        organizer_code_id=None if from_marketplace else code.code_id,
        marketplace_code_id=code.code_id if from_marketplace else None,
        minimal_data=minimal,
        next_attempt_at=timezone.now(),
        **source,
    )


def _save(deliveries: Iterable[ConversionDelivery]) -> set[str]:
    rows = list(deliveries)
    ConversionDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return {row.destination_key for row in rows}


def fan_out_tracking_events(client_id: int, event_ids: Sequence[str]) -> set[str]:
    """Deliveries for a client's browser events; returns the destination keys that got work.

    Browser purchases are skipped: the order from the core is the authoritative copy
    (same event id), and it is enriched with the browser event's network data.
    """
    events = (
        TrackingEvent.objects.filter(
            client_id=client_id, event_id__in=event_ids, marketplace_event__isnull=False
        )
        .exclude(name=StandardEvent.PURCHASE)
        .select_related("client", "marketplace_event")
    )
    rows = []
    for tracking_event in events:
        decision = decide(tracking_event.client, tracking_event.consent)
        if not decision.send:
            continue
        for code in server_side_codes(tracking_event.marketplace_event):
            if code.receives(tracking_event.name):
                rows.append(
                    _delivery(
                        code,
                        minimal=decision.minimal,
                        client_id=tracking_event.client_id,
                        organizer_id=tracking_event.marketplace_event.organizer_id,
                        event_id=tracking_event.event_id,
                        event_name=tracking_event.name,
                        tracking_event=tracking_event,
                    )
                )
    return _save(rows)


def order_consent(order: Order) -> dict:
    """The buyer's consent: as the core recorded it, else as the checkout's browser
    event (same event id) or the visitor's latest event carried it."""
    if order.consent:
        return order.consent
    browser = TrackingEvent.objects.filter(client_id=order.client_id).filter(
        Q(event_id=order_event_id(order)) | Q(visitor_id=order.visitor_id) & ~Q(visitor_id="")
    )
    latest = browser.order_by("-occurred_at").values_list("consent", flat=True).first()
    return latest or {}


def fan_out_order(order_id: int) -> set[str]:
    """Deliveries for a paid order's purchase; returns the destination keys that got work."""
    order = Order.objects.select_related("client", "event").filter(pk=order_id).first()
    if order is None or order.status != OrderStatus.PAID:
        return set()
    decision = decide(order.client, order_consent(order))
    if not decision.send:
        return set()
    return _save(
        _delivery(
            code,
            minimal=decision.minimal,
            client_id=order.client_id,
            organizer_id=order.organizer_id,
            event_id=order_event_id(order),
            event_name=StandardEvent.PURCHASE,
            order=order,
        )
        for code in server_side_codes(order.event)
        if code.receives(StandardEvent.PURCHASE)
    )
