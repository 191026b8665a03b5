"""TikTok catalogs: the event catalog of TikTok's catalog (Video Shopping) ads.

TikTok catalogs belong to a Business Center, so every call names the account's `bc_id`.
A catalog is created with `POST /catalog/create/` (type `ECOM`, the region and currency
of its items, from the account's `catalog_region` and currency) unless the account's
settings name one (`catalog_id`). Products are sent as JSON with
`POST /catalog/product/upload/`: `sku_id` is the content id the pixel and the Events
API send, and a product sent again under the same `sku_id` replaces the first, so an
update is an upload. `POST /catalog/product/delete/` removes products by `sku_ids`.
TikTok validates the request at once and refuses a call with a bad product as a whole
(code 40002 naming it); the product-level review happens later in Catalog Manager.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from usher.platforms.campaigns_base import AdAccount
from usher.platforms.campaigns_common import CallKind, setting, unexpected
from usher.platforms.catalog_common import (
    Availability,
    CatalogConnector,
    CatalogItem,
    ItemOutcome,
    decimal_text,
    refused_as_a_whole,
)
from usher.platforms.tiktok.api import TikTokApi
from usher.platforms.tiktok.payloads import PLATFORM

MAX_ITEMS_PER_CALL = 5000
AVAILABILITY = {Availability.IN_STOCK: "IN_STOCK", Availability.SOLD_OUT: "OUT_OF_STOCK"}
TITLE_MAX_CHARS = 150
DESCRIPTION_MAX_CHARS = 10_000


def product(item: CatalogItem) -> dict[str, Any]:
    """One event as a catalog product: TikTok's required fields (sku_id, title,
    description, availability, brand, image_url, price, landing page)."""
    return {
        "sku_id": item.content_id,
        "title": item.title[:TITLE_MAX_CHARS],
        "description": item.description[:DESCRIPTION_MAX_CHARS],
        "availability": AVAILABILITY[item.availability],
        "condition": "NEW",
        "brand": item.brand,
        "image_url": item.image_url,
        "price_info": {"price": decimal_text(item.price), "currency": item.currency},
        "landing_page": {"landing_page_url": item.url},
        **({"product_type": item.category} if item.category else {}),
    }


class TikTokCatalogConnector(CatalogConnector):
    platform = PLATFORM
    max_items_per_call = MAX_ITEMS_PER_CALL

    def create_catalog(self, account: AdAccount, name: str) -> str:
        data = TikTokApi(account).post(
            "catalog/create",
            {
                "bc_id": self._bc(account),
                "catalog_name": name,
                "catalog_type": "ECOM",
                "catalog_conf": {
                    "region_code": setting(account, "catalog_region", "the catalog's country"),
                    "currency": account.currency,
                },
            },
            CallKind.CATALOG,
        )
        if not data.get("catalog_id"):
            raise unexpected(PLATFORM, "catalog created without a catalog_id")
        return str(data["catalog_id"])

    def upsert_items(
        self,
        account: AdAccount,
        catalog_id: str,
        items: Sequence[CatalogItem],
        refs: Mapping[str, str],
    ) -> list[ItemOutcome]:
        def upload() -> list[ItemOutcome]:
            TikTokApi(account).post(
                "catalog/product/upload",
                {
                    "bc_id": self._bc(account),
                    "catalog_id": catalog_id,
                    "products": [product(item) for item in items],
                },
                CallKind.CATALOG,
            )
            return [ItemOutcome(item.content_id) for item in items]

        return refused_as_a_whole([item.content_id for item in items], upload)

    def delete_items(
        self, account: AdAccount, catalog_id: str, items: Mapping[str, str]
    ) -> list[ItemOutcome]:
        def delete() -> list[ItemOutcome]:
            TikTokApi(account).post(
                "catalog/product/delete",
                {"bc_id": self._bc(account), "catalog_id": catalog_id, "sku_ids": list(items)},
                CallKind.CATALOG,
            )
            return [ItemOutcome(content_id) for content_id in items]

        return refused_as_a_whole(list(items), delete)

    @staticmethod
    def _bc(account: AdAccount) -> str:
        return setting(account, "bc_id", "the Business Center that owns catalogs")
