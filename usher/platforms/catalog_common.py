"""What every catalog connector shares: the item Usher sends, the per-item outcome it
gets back, and the contract of a platform's catalog capability.

The catalog app hands over plain values (an account, a catalog id, items keyed by the
one content id of `usher.marketplace.content_ids`) and gets ids and per-item outcomes
back; it never sees a request. Calls go through `campaigns_common.management_request`
(or the platform's own API helper over it) with `CallKind.CATALOG`, so catalog syncs
draw from their own management bucket per account and cannot starve publishing or the
optimizer.

A whole call that fails raises `PlatformError` (its `kind` says whether to retry); an
item the platform refuses comes back as an `ItemOutcome` with an `error` (also when the
platform refuses a whole batch for one bad item: `refused_as_a_whole`), so one bad
event never blocks the rest of the catalog.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar

from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_base import AdAccount

ITEM_ERROR_MAX_CHARS = 2000


class Availability(StrEnum):
    """Whether tickets can be bought; each connector maps it to its own enum."""

    IN_STOCK = "in_stock"
    SOLD_OUT = "sold_out"


@dataclass(frozen=True)
class CatalogItem:
    """One event as a catalog item. `content_id` is the item id on every platform (the
    id the pixels and the server send); `price` is the cheapest ticket, in `currency`'s
    major units, and `price_max` the dearest when tickets differ."""

    content_id: str
    title: str
    description: str
    url: str
    image_url: str
    price: Decimal
    currency: str
    availability: Availability
    starts_at: datetime
    brand: str  # the organizer: Meta and TikTok require a brand
    venue: str = ""
    city: str = ""
    country: str = ""
    category: str = ""
    price_max: Decimal | None = None


@dataclass(frozen=True)
class ItemOutcome:
    """What became of one item of a call. `ref` is the platform's own handle of the item
    when it differs from the content id (a Google asset), kept for later updates and
    removals; `error` is the platform's reason when it refused this item."""

    content_id: str
    ref: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


class CatalogConnector(ABC):
    """The catalog capability of one platform."""

    platform: ClassVar[str]
    # The most items one upsert or delete call carries (the platform's own limit).
    max_items_per_call: ClassVar[int]
    # The account setting naming a catalog made outside Usher (used as is, never created).
    existing_catalog_setting: ClassVar[str] = "catalog_id"

    def ensure_catalog(self, account: AdAccount, name: str, current_id: str) -> str:
        """The catalog's id: `current_id` once Usher knows it, else the one the account's
        settings name, else a new catalog made now."""
        if current_id:
            return current_id
        configured = str(account.settings.get(self.existing_catalog_setting) or "")
        return configured or self.create_catalog(account, name)

    @abstractmethod
    def create_catalog(self, account: AdAccount, name: str) -> str:
        """Create an empty catalog for the account's events; its id."""

    @abstractmethod
    def upsert_items(
        self,
        account: AdAccount,
        catalog_id: str,
        items: Sequence[CatalogItem],
        refs: Mapping[str, str],
    ) -> list[ItemOutcome]:
        """Create or replace at most `max_items_per_call` items; `refs` holds the `ref`
        of each item already on the platform. One outcome per item, in order."""

    @abstractmethod
    def delete_items(
        self, account: AdAccount, catalog_id: str, items: Mapping[str, str]
    ) -> list[ItemOutcome]:
        """Remove at most `max_items_per_call` items (content id -> ref)."""


def refused_as_a_whole(
    content_ids: Sequence[str], call: Callable[[], list[ItemOutcome]]
) -> list[ItemOutcome]:
    """`call()`'s outcomes, or, when the platform refuses the whole call as PERMANENT
    (TikTok's 40002 naming a product, a Google mutate naming an operation), each of its
    items refused with that reason: so one bad event never stops the rest of the
    catalog. For platforms that refuse items one by one (Meta), a PERMANENT error is
    about the call itself and is raised as is."""
    try:
        return call()
    except PlatformError as error:
        if error.kind != ErrorKind.PERMANENT:
            raise
        reason = str(error)[:ITEM_ERROR_MAX_CHARS]
        return [ItemOutcome(content_id, error=reason) for content_id in content_ids]


def decimal_text(amount: Decimal) -> str:
    """`12.5` -> `12.50`: the two decimals every catalog's price text uses."""
    return f"{amount.quantize(Decimal('0.01'))}"


def price_text(amount: Decimal, currency: str) -> str:
    """`12.00 EUR`: Meta's and Google's price format (amount, a space, ISO 4217 code)."""
    return f"{decimal_text(amount)} {currency}"
