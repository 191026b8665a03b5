"""Fan-out: every stored event and paid order becomes one delivery per destination.

A destination is a server-side-capable code resolved for the event's page (the
organizer's event-specific code before its default) or one of the marketplace's own
(dual tracking), and only if its `conversion_events` include the event and its
platform still takes an event that old (a backfill of past orders would otherwise send
each one only to be refused). The unique key (destination, event_id) makes fan-out safe
to run twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from usher.conversions.buyers import buyer_browser_events, order_event_id
from usher.conversions.models import ConversionDelivery
from usher.conversions.policy import SendDecision, decide
from usher.events.models import TrackingEvent
from usher.events.names import StandardEvent
from usher.lib.inserts import Row, insert_ignoring_conflicts
from usher.marketplace.models import (
    MarketplaceClient,
    MarketplaceEvent,
    MarketplaceOrganizer,
    Order,
    OrderStatus,
)
from usher.platforms.base import ConversionsConnector
from usher.platforms.payload_common import past_window
from usher.platforms.registry import get_connector
from usher.tracking.resolved import CodeSource
from usher.tracking.resolver import (
    ServerSideCode,
    marketplace_server_side_codes,
    organizer_server_side_codes,
    server_side_codes,
)

logger = logging.getLogger("usher.conversions")

# Fan-out normally runs within a second of the commit; past this the sweep assumes its
# task was lost (the broker was down, or a killed worker held it). Fanning out twice is
# harmless (unique keys), so the grace is short and a lost event waits under a minute.
STRAGGLER_GRACE_SECONDS = 30
STRAGGLERS_PER_SWEEP = 5000
# Events one fan-out task takes at once; a task that finds more queues another, so that
# a backlog's first deliveries are sent (by another worker) while the rest fan out.
PENDING_EVENTS_PER_FAN_OUT = 500


def _delivery(code: ServerSideCode, *, minimal: bool, **source: object) -> Row:
    """A delivery's row (not a model instance: `insert_ignoring_conflicts` takes rows)."""
    from_marketplace = code.source == CodeSource.MARKETPLACE
    return {
        "destination_key": code.destination_key,
        "provider": code.provider,
        "organizer_code_id": None if from_marketplace else code.code_id,
        "marketplace_code_id": code.code_id if from_marketplace else None,
        "minimal_data": minimal,
        "next_attempt_at": timezone.now(),
        **source,
    }


def _save(deliveries: Iterable[Row]) -> set[str]:
    """Store the deliveries, skipping those that exist (the unique key): one INSERT of
    a JSON document of rows on PostgreSQL, not one compiled by Django per 500 rows."""
    rows = list(deliveries)
    insert_ignoring_conflicts((ConversionDelivery, rows))
    return {row["destination_key"] for row in rows}


class _Platforms:
    """What fan-out asks of each platform's conversions connector, built once per fan-out
    rather than once per event and code."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._connectors: dict[str, ConversionsConnector] = {}
        self.too_old = 0  # deliveries not queued: past their platform's event window

    def _connector(self, provider: str) -> ConversionsConnector:
        if provider not in self._connectors:
            self._connectors[provider] = get_connector(provider)
        return self._connectors[provider]

    def sendable(
        self, code: ServerSideCode, event_name: str, occurred_at: datetime, decision: SendDecision
    ) -> bool:
        """The code wants this event, its platform still takes an event that old, and
        (minimal form) its platform can count an event that carries no identifier."""
        if not code.receives(event_name):
            return False
        connector = self._connector(code.provider)
        if past_window(occurred_at, self.now, connector.max_event_age):
            self.too_old += 1
            return False
        return not decision.minimal or connector.accepts_anonymous_events

    def log_too_old(self, source: str) -> None:
        if self.too_old:
            logger.info(
                "fan-out of %s queued no delivery to %d destinations: past their "
                "platform's event window",
                source,
                self.too_old,
            )


@dataclass(frozen=True)
class _StoredEvent:
    """What fan-out reads of a stored browser event (not a model instance: a fan-out of
    500 events spent half of its time building them with their client and pages)."""

    pk: int
    event_id: str
    name: str
    occurred_at: datetime
    consent: dict
    marketplace_event_id: int | None
    organizer_id: int | None


def _page_codes(
    client_id: int,
    page: tuple[int | None, int | None],
    pages: dict[int, MarketplaceEvent],
    profiles: dict[int, MarketplaceOrganizer],
) -> list[ServerSideCode]:
    """The server-side codes of the page an event happened on, as the page resolved."""
    event_page, profile = page
    if event_page is not None:
        return server_side_codes(pages[event_page])
    if profile is not None:
        return organizer_server_side_codes(profiles[profile])
    return marketplace_server_side_codes(client_id)


def fan_out_tracking_events(client_id: int, event_ids: Sequence[str]) -> set[str]:
    """Deliveries for a client's browser events; returns the destination keys that got work.

    Events go to the codes of the page they happened on: an event's page, an organizer's
    profile (its defaults), or any other page (the marketplace's own accounts only).

    Browser purchases are skipped: the order from the core is the authoritative copy
    (same event id), and it is enriched with the browser event's network data.
    """
    events = [
        _StoredEvent(*row)
        for row in TrackingEvent.objects.filter(client_id=client_id, event_id__in=event_ids)
        .exclude(name=StandardEvent.PURCHASE)
        .values_list(*(field.name for field in fields(_StoredEvent)))
    ]
    rows = []
    platforms = _Platforms(timezone.now())
    if events:
        client = MarketplaceClient.objects.get(pk=client_id)
        pages = MarketplaceEvent.objects.in_bulk({e.marketplace_event_id for e in events} - {None})
        profiles = MarketplaceOrganizer.objects.in_bulk(
            {e.organizer_id for e in events if e.marketplace_event_id is None} - {None}
        )
        # Resolved once per page of the batch, not per event (each is a cache round trip).
        codes_by_page: dict[tuple[int | None, int | None], list[ServerSideCode]] = {}
        for event in events:
            decision = decide(client, event.consent)
            if not decision.send:
                continue
            page = (event.marketplace_event_id, event.organizer_id)
            if page not in codes_by_page:
                codes_by_page[page] = _page_codes(client_id, page, pages, profiles)
            for code in codes_by_page[page]:
                if platforms.sendable(code, event.name, event.occurred_at, decision):
                    rows.append(
                        _delivery(
                            code,
                            minimal=decision.minimal,
                            client_id=client_id,
                            organizer_id=event.organizer_id,
                            event_id=event.event_id,
                            event_name=event.name,
                            tracking_event_id=event.pk,
                        )
                    )
    with transaction.atomic():
        keys = _save(rows)
        TrackingEvent.objects.filter(
            client_id=client_id, event_id__in=event_ids, fanned_out_at__isnull=True
        ).update(fanned_out_at=timezone.now())
    platforms.log_too_old(f"{len(events)} events of client {client_id}")
    return keys


def fan_out_pending_events(client_id: int) -> tuple[set[str], bool]:
    """Fan out the client's stored browser events not fanned out yet, oldest first, up to
    PENDING_EVENTS_PER_FAN_OUT: however many collector requests stored them, one task.
    Returns the destination keys that got work and whether more may be pending.

    Two runs at once (or one beside the sweep) may take the same events: the unique key
    (destination, event_id) stores each delivery once."""
    event_ids = list(
        TrackingEvent.objects.filter(client_id=client_id, fanned_out_at__isnull=True)
        .order_by("received_at")
        .values_list("event_id", flat=True)[:PENDING_EVENTS_PER_FAN_OUT]
    )
    if not event_ids:
        return set(), False
    keys = fan_out_tracking_events(client_id, event_ids)
    return keys, len(event_ids) == PENDING_EVENTS_PER_FAN_OUT


def order_consent(order: Order) -> dict:
    """The buyer's consent: as the core recorded it, else as the buyer's browser said."""
    if order.consent:
        return order.consent
    browser = buyer_browser_events([order]).get(order.pk)
    return browser.consent if browser else {}


def fan_out_order(order_id: int) -> set[str]:
    """Deliveries for a paid order's purchase; returns the destination keys that got work."""
    order = Order.objects.select_related("client", "event").filter(pk=order_id).first()
    if order is None or order.status != OrderStatus.PAID:
        return set()
    decision = decide(order.client, order_consent(order))
    rows = []
    platforms = _Platforms(timezone.now())
    if decision.send:
        rows = [
            _delivery(
                code,
                minimal=decision.minimal,
                client_id=order.client_id,
                organizer_id=order.organizer_id,
                event_id=order_event_id(order),
                event_name=StandardEvent.PURCHASE,
                order_id=order.pk,
            )
            for code in server_side_codes(order.event)
            if platforms.sendable(code, StandardEvent.PURCHASE, order.placed_at, decision)
        ]
    with transaction.atomic():
        keys = _save(rows)
        Order.objects.filter(pk=order.pk).update(fanned_out_at=timezone.now())
    platforms.log_too_old(f"order {order.pk}")
    return keys


def fan_out_stragglers(now: datetime | None = None) -> set[str]:
    """Fan out what the broker never delivered to a worker (it was down, or the task was
    lost): events and paid orders older than a grace period and still not fanned out.

    Both are taken longest-waiting first, ties by id, so a backlog past one sweep's
    share drains in a fixed order and the oldest are never left behind (orders used to
    come in their model's default order, newest placed first: new ones could keep the
    oldest out of every sweep)."""
    cutoff = (now or timezone.now()) - timedelta(seconds=STRAGGLER_GRACE_SECONDS)
    keys: set[str] = set()
    pending = (
        TrackingEvent.objects.filter(fanned_out_at__isnull=True, received_at__lt=cutoff)
        .order_by("received_at", "pk")
        .values_list("client_id", "event_id")[:STRAGGLERS_PER_SWEEP]
    )
    by_client: dict[int, list[str]] = defaultdict(list)
    for client_id, event_id in pending:
        by_client[client_id].append(event_id)
    for client_id, event_ids in by_client.items():
        keys |= fan_out_tracking_events(client_id, event_ids)
    orders = (
        Order.objects.filter(
            fanned_out_at__isnull=True, status=OrderStatus.PAID, updated_at__lt=cutoff
        )
        .order_by("updated_at", "pk")
        .values_list("pk", flat=True)[:STRAGGLERS_PER_SWEEP]
    )
    for order_id in orders:
        keys |= fan_out_order(order_id)
    return keys
