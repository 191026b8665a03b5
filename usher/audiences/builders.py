"""Set-based audience builders: one SQL statement per audience, over the event store and
the orders, the same on SQLite and PostgreSQL (the ORM writes it; no Python loop ever
walks the events).

Two kinds of membership, because platforms match two kinds of identity:

- visitors (`visitor_query`): browser ids from the event store: website visitors,
  event viewers, cart abandoners. Only the platform's own pixel can recognise a browser,
  so these become rule-based pixel audiences on the platform; the query gives their
  size and the minimums.
- buyers (`buyer_query`): hashed email/phone from paid orders of buyers who allowed ad
  personalization: ticket buyers and custom segments, uploaded as customer lists. One
  row per identity (the platform's email hash, else its phone hash), carrying the
  identifiers of the buyer's latest order in the platform's audience form.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    RowRange,
    Sum,
    TextField,
    Value,
    Window,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, NullIf, RowNumber

from usher.audiences.criteria import Criteria
from usher.audiences.models import AudienceType, RemarketingAudience
from usher.events.models import TrackingEvent
from usher.marketplace.models import Order, OrderStatus

VISITOR_TYPES = frozenset(
    {AudienceType.WEBSITE_VISITORS, AudienceType.EVENT_VIEWERS, AudienceType.CART_ABANDONERS}
)
BUYER_TYPES = frozenset({AudienceType.TICKET_BUYERS, AudienceType.CUSTOM_SEGMENT})


def personalization_consent() -> Q:
    """Rows whose consent allows ads shown to the person (Consent Mode v2's
    ad_personalization). PostgreSQL estimates JSON containment (`@>`) far better than a
    key comparison, which it guesses at 0.5 % of rows and then plans nested loops over
    thousands of visitors (7x slower, bench/audiences.py); SQLite has no containment."""
    if connection.features.supports_json_field_contains:
        return Q(consent__contains={"ad_personalization": True})
    return Q(consent__ad_personalization=True)


def visitor_query(audience: RemarketingAudience, criteria: Criteria, now: datetime) -> QuerySet:
    """Visitor ids with at least `min_actions` of the source events in the window, on
    the audience's event (or any of the organizer's), minus its buyers if asked."""
    since = now - timedelta(days=criteria.time_window_days)
    events = _scoped_events(audience).filter(
        personalization_consent(),
        name__in=criteria.source_events,
        occurred_at__gte=since,
    )
    if criteria.exclude_purchasers:
        # Buyers of the event (or the organizer's events) at any time: NOT EXISTS, which
        # PostgreSQL runs as an anti-join on the visitor indexes.
        visitor = OuterRef("visitor_id")
        bought = _scoped_events(audience).filter(name="purchase", visitor_id=visitor)
        ordered = _scoped_orders(audience).filter(visitor_id=visitor)
        events = events.filter(~Exists(bought), ~Exists(ordered))
    visitors = events.exclude(visitor_id="").order_by()
    if criteria.min_actions == 1:
        return visitors.values_list("visitor_id", flat=True).distinct()
    return (
        visitors.values("visitor_id")
        .annotate(actions=Count("id"))
        .filter(actions__gte=criteria.min_actions)
        .values_list("visitor_id", flat=True)
    )


def buyer_query(
    audience: RemarketingAudience,
    criteria: Criteria,
    now: datetime,
    identity_fields: tuple[str, ...] = ("email", "phone"),
) -> QuerySet:
    """One row per matchable buyer: `member_key` and `identifiers` (the platform's
    audience form of the buyer's latest order), filtered by the custom filters."""
    key = _identity(audience.platform, identity_fields)

    def per_buyer(aggregate: Any) -> Window:
        # One window for all: partitioned by buyer, latest order first, whole partition
        # framed, so the database sorts the orders once.
        return Window(
            aggregate,
            partition_by=[key],
            order_by=F("id").desc(),
            frame=RowRange(start=None, end=None),
        )

    filters = criteria.custom_filters
    rows = (
        _scoped_orders(audience)
        .filter(
            personalization_consent(),
            placed_at__gte=now - timedelta(days=criteria.time_window_days),
        )
        .annotate(member_key=key)
        .filter(member_key__isnull=False)
        .annotate(position=per_buyer(RowNumber()))
        .filter(position=1)
    )
    if filters.min_spend is not None:
        rows = rows.annotate(spend=per_buyer(Sum("value"))).filter(spend__gte=filters.min_spend)
    if filters.min_orders is not None:
        rows = rows.annotate(orders=per_buyer(Count("id"))).filter(orders__gte=filters.min_orders)
    if filters.max_days_since_last_order is not None:
        recent = now - timedelta(days=filters.max_days_since_last_order)
        rows = rows.annotate(last_at=per_buyer(Max("placed_at"))).filter(last_at__gte=recent)
    return (
        rows.order_by()  # no sort: the rows become a dict
        .annotate(identifiers=F(f"hashed_user_data__audiences__{audience.platform}"))
        .values_list("member_key", "identifiers")
    )


def _identity(platform: str, fields: tuple[str, ...]) -> Any:
    """The first of the platform's hashed `fields` the order has (empty counts as none)."""
    parts = [
        NullIf(
            KT(f"hashed_user_data__audiences__{platform}__{name}"),
            Value(""),
            output_field=TextField(),
        )
        for name in fields
    ]
    return Coalesce(*parts, output_field=TextField()) if len(parts) > 1 else parts[0]


def _scoped_events(audience: RemarketingAudience) -> QuerySet:
    events = TrackingEvent.objects.filter(client_id=audience.client_id)
    if audience.event_id:
        return events.filter(marketplace_event_id=audience.event_id)
    return events.filter(organizer_id=audience.organizer_id)


def _scoped_orders(audience: RemarketingAudience) -> QuerySet:
    orders = Order.objects.filter(
        client_id=audience.client_id, organizer_id=audience.organizer_id, status=OrderStatus.PAID
    )
    if audience.event_id:
        orders = orders.filter(event_id=audience.event_id)
    return orders
