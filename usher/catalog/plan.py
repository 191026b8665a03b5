"""What a sync must send: pure, from the items wanted now and what the platform has."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from usher.catalog.items import item_hash
from usher.platforms.catalog_common import CatalogItem


class KnownItem(Protocol):
    """What is remembered of an item on the platform (a `CatalogItemState`)."""

    ref: str
    synced_hash: str
    refused_hash: str


@dataclass
class SyncPlan:
    upserts: list[CatalogItem] = field(default_factory=list)
    deletes: dict[str, str] = field(default_factory=dict)  # content id -> ref
    forget: list[str] = field(default_factory=list)  # never on the platform, not wanted
    unchanged: int = 0


def plan_sync(wanted: Mapping[str, CatalogItem], known: Mapping[str, KnownItem]) -> SyncPlan:
    """Upsert the items that are new or changed since the platform last took them (an
    item it refused is not sent again until it changes); delete what the platform has
    but the catalog no longer wants."""
    plan = SyncPlan()
    for content_id, item in wanted.items():
        state = known.get(content_id)
        digest = item_hash(item)
        if state is not None and digest in (state.synced_hash, state.refused_hash):
            plan.unchanged += 1
        else:
            plan.upserts.append(item)
    for content_id, state in known.items():
        if content_id in wanted:
            continue
        if state.synced_hash:
            plan.deletes[content_id] = state.ref
        else:
            plan.forget.append(content_id)
    return plan
