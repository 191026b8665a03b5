"""Catalog items from events: pure rules, no database (unsaved model instances)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from usher.catalog.items import build_item, item_hash
from usher.marketplace.content_ids import event_content_id
from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer
from usher.platforms.catalog_common import Availability

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def event(**overrides: object) -> MarketplaceEvent:
    fields: dict[str, object] = {
        "external_id": "core-4411",
        "slug": "rock-night",
        "name": "Rock Night",
        "starts_at": NOW + timedelta(days=10),
        "venue": "Arenele Romane",
        "city": "Bucharest",
        "country": "RO",
        "genre": "rock",
        "public_url": "https://tix.example/e/rock-night",
        "image_url": "https://tix.example/img/rock.jpg",
        "price_min": Decimal("80.00"),
        "price_max": Decimal("250.00"),
        "tickets_left": 120,
        "currency": "RON",
        "status": "published",
    }
    fields.update(overrides)
    return MarketplaceEvent(organizer=MarketplaceOrganizer(name="Live Nation RO"), **fields)


def test_a_published_upcoming_event_becomes_an_item_under_its_content_id():
    item = build_item(event(), now=NOW).item
    assert item is not None
    assert item.content_id == event_content_id(event()) == "core-4411"
    assert (item.title, item.price, item.price_max, item.currency) == (
        "Rock Night",
        Decimal("80.00"),
        Decimal("250.00"),
        "RON",
    )
    assert item.availability == Availability.IN_STOCK
    assert (item.brand, item.category, item.venue) == ("Live Nation RO", "rock", "Arenele Romane")
    assert "Arenele Romane" in item.description  # a summary when the core sent none


def test_a_sold_out_event_stays_in_the_catalog_as_sold_out():
    item = build_item(event(tickets_left=0), now=NOW).item
    assert item is not None and item.availability == Availability.SOLD_OUT


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"status": "draft"}, "draft"),
        ({"status": "cancelled"}, "cancelled"),
        ({"starts_at": NOW - timedelta(hours=1)}, "over"),
        (
            {"starts_at": NOW - timedelta(days=2), "ends_at": NOW - timedelta(minutes=1)},
            "over",
        ),
        ({"public_url": ""}, "public page"),
        ({"image_url": ""}, "image"),
        ({"price_min": None}, "price"),
    ],
)
def test_an_event_that_cannot_be_sold_is_not_an_item(overrides, reason):
    decision = build_item(event(**overrides), now=NOW)
    assert decision.item is None and reason in decision.reason


def test_a_running_event_with_an_end_is_still_an_item():
    running = event(starts_at=NOW - timedelta(hours=1), ends_at=NOW + timedelta(hours=3))
    assert build_item(running, now=NOW).item is not None


def test_without_a_price_from_the_core_the_cheapest_ticket_sold_is_the_price():
    item = build_item(event(price_min=None), now=NOW, lowest_sold_price=Decimal("95.50")).item
    assert item is not None and item.price == Decimal("95.50")


def test_the_hash_moves_with_what_platforms_see_and_not_with_the_slug():
    item = build_item(event(), now=NOW).item
    assert item is not None
    assert item_hash(item) == item_hash(build_item(event(slug="rock-night-2027"), now=NOW).item)
    assert item_hash(item) != item_hash(replace(item, price=Decimal("85.00")))
    assert item_hash(item) != item_hash(replace(item, availability=Availability.SOLD_OUT))
