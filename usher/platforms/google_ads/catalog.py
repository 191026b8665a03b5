"""Google Ads dynamic remarketing: the event catalog as a `DYNAMIC_CUSTOM` asset set.

Why this path: Google's retail route (a Merchant Center feed) is for physical products
under Shopping policies, and the legacy "business data" feeds left the API with the
Feed services; dynamic remarketing for other verticals is now assets. The "custom"
vertical fits events (id, title, subtitle, address, category, price, image, final URL)
and matches the tag's `items[].id` with `google_business_vertical: "custom"`.

So the catalog is an asset set (`assetSets:mutate`, `type: DYNAMIC_CUSTOM`), each event
a `DynamicCustomAsset` (`assets:mutate`; `id` is the content id, `item_title` required,
`price` as `12.00 EUR`, `final_urls` the event page) linked into the set
(`assetSetAssets:mutate`). Changes update the asset in place (`update_mask`), and a
removal unlinks it from the set (`customers/{id}/assetSetAssets/{set}~{asset}`): assets
themselves cannot be deleted. The asset id is the item's `ref`. Mutates are
all-or-nothing, so a refused item fails its whole call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from usher.platforms.campaigns_base import AdAccount
from usher.platforms.campaigns_common import CallKind
from usher.platforms.catalog_common import (
    CatalogConnector,
    CatalogItem,
    ItemOutcome,
    price_text,
    refused_as_a_whole,
)
from usher.platforms.google_ads.api import GoogleAdsApi, last_id
from usher.platforms.google_ads.payloads import PLATFORM

# Two mutates per batch (assets, then their links), each well inside Google's 10,000
# operations per request.
MAX_ITEMS_PER_CALL = 1000
ASSET_FIELDS = "final_urls,dynamic_custom_asset"


def dynamic_asset(item: CatalogItem) -> dict[str, Any]:
    """One event as an asset with its `dynamic_custom_asset` (Google's field names)."""
    custom: dict[str, Any] = {
        "id": item.content_id,
        "item_title": item.title,
        "item_subtitle": item.starts_at.date().isoformat(),
        "item_description": item.description,
        "price": price_text(item.price, item.currency),
        "image_url": item.image_url,
    }
    address = ", ".join(part for part in (item.venue, item.city, item.country) if part)
    if address:
        custom["item_address"] = address
    if item.category:
        custom["item_category"] = item.category
    if item.price_max is not None and item.price_max > item.price:
        custom["formatted_price"] = (
            f"{price_text(item.price, item.currency)} - {price_text(item.price_max, item.currency)}"
        )
    return {"final_urls": [item.url], "dynamic_custom_asset": custom}


class GoogleAdsCatalogConnector(CatalogConnector):
    platform = PLATFORM
    max_items_per_call = MAX_ITEMS_PER_CALL
    existing_catalog_setting = "asset_set_id"

    def create_catalog(self, account: AdAccount, name: str) -> str:
        api = GoogleAdsApi(account)
        names = api.mutate(
            "assetSets", [{"create": {"name": name, "type": "DYNAMIC_CUSTOM"}}], CallKind.CATALOG
        )
        return last_id(names[0])

    def upsert_items(
        self,
        account: AdAccount,
        catalog_id: str,
        items: Sequence[CatalogItem],
        refs: Mapping[str, str],
    ) -> list[ItemOutcome]:
        return refused_as_a_whole(
            [item.content_id for item in items],
            lambda: self._upsert(GoogleAdsApi(account), catalog_id, items, refs),
        )

    def _upsert(
        self,
        api: GoogleAdsApi,
        catalog_id: str,
        items: Sequence[CatalogItem],
        refs: Mapping[str, str],
    ) -> list[ItemOutcome]:
        new = [item for item in items if not refs.get(item.content_id)]
        known = [item for item in items if refs.get(item.content_id)]
        created: dict[str, str] = {}
        if new:
            names = api.mutate(
                "assets", [{"create": dynamic_asset(item)} for item in new], CallKind.CATALOG
            )
            api.mutate(
                "assetSetAssets",
                [
                    {"create": {"asset_set": api.resource("assetSets", catalog_id), "asset": name}}
                    for name in names
                ],
                CallKind.CATALOG,
            )
            created = {
                item.content_id: last_id(name) for item, name in zip(new, names, strict=True)
            }
        if known:
            api.mutate(
                "assets",
                [
                    {
                        "update": {
                            "resource_name": api.resource("assets", refs[item.content_id]),
                            **dynamic_asset(item),
                        },
                        "update_mask": ASSET_FIELDS,
                    }
                    for item in known
                ],
                CallKind.CATALOG,
            )
        return [
            ItemOutcome(item.content_id, ref=created.get(item.content_id) or refs[item.content_id])
            for item in items
        ]

    def delete_items(
        self, account: AdAccount, catalog_id: str, items: Mapping[str, str]
    ) -> list[ItemOutcome]:
        def unlink() -> list[ItemOutcome]:
            api = GoogleAdsApi(account)
            links = [
                {"remove": api.resource("assetSetAssets", f"{catalog_id}~{ref}")}
                for ref in items.values()
                if ref
            ]
            if links:
                api.mutate("assetSetAssets", links, CallKind.CATALOG)
            return [ItemOutcome(content_id) for content_id in items]

        return refused_as_a_whole(list(items), unlink)
