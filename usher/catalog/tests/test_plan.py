"""What a sync sends: only new or changed items, deletions of what is no longer wanted."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from usher.catalog.items import item_hash
from usher.catalog.plan import plan_sync
from usher.platforms.catalog_common import Availability, CatalogItem


@dataclass
class Known:
    ref: str = ""
    synced_hash: str = ""
    refused_hash: str = ""


def item(content_id: str, price: str = "50.00") -> CatalogItem:
    return CatalogItem(
        content_id=content_id,
        title=f"Event {content_id}",
        description="d",
        url=f"https://tix.example/e/{content_id}",
        image_url="https://tix.example/i.jpg",
        price=Decimal(price),
        currency="EUR",
        availability=Availability.IN_STOCK,
        starts_at=datetime(2027, 1, 1, tzinfo=UTC),
        brand="Organizer",
    )


def test_new_items_are_upserted_and_synced_ones_left_alone():
    synced = item("a")
    plan = plan_sync({"a": synced, "b": item("b")}, {"a": Known(synced_hash=item_hash(synced))})
    assert [i.content_id for i in plan.upserts] == ["b"]
    assert plan.unchanged == 1 and not plan.deletes and not plan.forget


def test_a_changed_item_is_sent_again():
    before = item("a")
    after = replace(before, price=Decimal("60.00"))
    plan = plan_sync({"a": after}, {"a": Known(ref="77", synced_hash=item_hash(before))})
    assert plan.upserts == [after]


def test_a_refused_item_waits_for_a_change():
    refused = item("a")
    known = {"a": Known(refused_hash=item_hash(refused))}
    assert plan_sync({"a": refused}, known).upserts == []
    fixed = replace(refused, price=Decimal("55.00"))
    assert plan_sync({"a": fixed}, known).upserts == [fixed]


def test_items_no_longer_wanted_are_deleted_or_forgotten():
    known = {"gone": Known(ref="900", synced_hash="h1"), "never-sent": Known(refused_hash="h2")}
    plan = plan_sync({}, known)
    assert plan.deletes == {"gone": "900"}
    assert plan.forget == ["never-sent"]
