"""Catalog items from marketplace events: pure (data in, decisions out).

An event is in the catalog while it can be sold: published, not yet started (or, with
an end, not yet ended), with a public page, an image and a price. A sold-out event stays
as "sold out", so the ids past visitors carry still resolve and the platforms stop
showing it; an event that ends, is cancelled or loses what an item needs is deleted.
The price is the ticket range the core sent, else the cheapest ticket sold so far.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal

from usher.marketplace.content_ids import event_content_id
from usher.marketplace.models import EventStatus, MarketplaceEvent
from usher.platforms.catalog_common import Availability, CatalogItem


@dataclass(frozen=True)
class ItemDecision:
    """The event's item, or None with the reason it is not in the catalog."""

    item: CatalogItem | None
    reason: str = ""


def build_item(
    event: MarketplaceEvent, *, now: datetime, lowest_sold_price: Decimal | None = None
) -> ItemDecision:
    """The catalog item of `event` at `now` (see the module docstring for the rules)."""
    if event.status != EventStatus.PUBLISHED:
        return ItemDecision(None, f"the event is {event.get_status_display().lower()}")
    if (event.ends_at or event.starts_at) <= now:
        return ItemDecision(None, "the event is over")
    if not event.public_url:
        return ItemDecision(None, "the event has no public page")
    if not event.image_url:
        return ItemDecision(None, "the event has no image")
    price = event.price_min if event.price_min is not None else lowest_sold_price
    if price is None:
        return ItemDecision(None, "the event has no ticket price")
    sold_out = event.tickets_left == 0
    return ItemDecision(
        CatalogItem(
            content_id=event_content_id(event),
            title=event.name,
            description=event.description or _summary(event),
            url=event.public_url,
            image_url=event.image_url,
            price=price,
            price_max=event.price_max,
            currency=event.currency,
            availability=Availability.SOLD_OUT if sold_out else Availability.IN_STOCK,
            starts_at=event.starts_at,
            venue=event.venue,
            city=event.city,
            country=event.country,
            category=event.genre or event.category,
            brand=event.organizer.name,
        )
    )


def _summary(event: MarketplaceEvent) -> str:
    """A description when the core sent none (every platform requires one): the date
    and the place."""
    place = ", ".join(part for part in (event.venue, event.city) if part)
    when = event.starts_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"{event.name}: {when}" + (f", {place}" if place else "")


def item_hash(item: CatalogItem) -> str:
    """A digest of everything the platforms see of the item: equal hashes, nothing to send."""
    # The fields are flat values: a shallow dict (asdict's deep copy costs twice as much).
    values = {field.name: getattr(item, field.name) for field in fields(item)}
    canonical = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
