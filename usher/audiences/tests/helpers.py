"""Crafted histories for the audience tests: browser events and buyers' orders."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from usher.events.models import TrackingEvent
from usher.marketplace.models import MarketplaceEvent, Order
from usher.marketplace.schemas import CustomerIn
from usher.marketplace.services import hash_customer
from usher.marketplace.tests.factories import OrderFactory

GRANTED = {"ad_storage": True, "ad_user_data": True, "ad_personalization": True}
_ids = itertools.count(1)


def visit(
    event: MarketplaceEvent,
    visitor: str,
    name: str = "view_item",
    days_ago: float = 1,
    consent: dict | None = None,
    now: datetime | None = None,
) -> TrackingEvent:
    """One browser event of `visitor` on `event`'s page, `days_ago` before `now`."""
    return TrackingEvent.objects.create(
        client_id=event.client_id,
        organizer_id=event.organizer_id,
        marketplace_event=event,
        event_id=f"ev-{next(_ids)}",
        name=name,
        occurred_at=(now or timezone.now()) - timedelta(days=days_ago),
        visitor_id=visitor,
        consent=GRANTED if consent is None else consent,
    )


def buy(
    event: MarketplaceEvent,
    email: str | None = None,
    phone: str | None = None,
    *,
    days_ago: float = 1,
    value: str = "100.00",
    visitor: str = "",
    consent: dict | None = None,
    first_name: str | None = None,
) -> Order:
    """A paid order of a buyer with this email/phone, hashed as ingest hashes them."""
    customer = CustomerIn(email=email, phone=phone, first_name=first_name, country="RO")
    return OrderFactory(
        event=event,
        value=Decimal(value),
        placed_at=timezone.now() - timedelta(days=days_ago),
        hashed_user_data=hash_customer(customer),
        visitor_id=visitor,
        consent=GRANTED if consent is None else consent,
    )


def many_buyers(event: MarketplaceEvent, count: int, start: int = 0) -> list[Order]:
    """`count` buyers (buyer{n}@example.com) with consent, written in one statement."""
    now = timezone.now()
    orders = [
        Order(
            client_id=event.client_id,
            organizer_id=event.organizer_id,
            event=event,
            external_id=f"bulk-{n}",
            value=Decimal("100.00"),
            currency="RON",
            placed_at=now - timedelta(days=1),
            hashed_user_data=hash_customer(CustomerIn(email=f"buyer{n}@example.com")),
            consent=GRANTED,
        )
        for n in range(start, start + count)
    ]
    return Order.objects.bulk_create(orders)
