"""Meta product catalogs: the event catalog of Advantage+ catalog (dynamic) ads.

A catalog belongs to a Business, so one is created under the account's `business_id`
(`POST /{business_id}/owned_product_catalogs`, vertical `commerce`) unless the account's
settings name one already (`catalog_id`). Items go through the Catalog Batch API,
`POST /{catalog_id}/items_batch` with `item_type=PRODUCT_ITEM` and up to 5,000
`requests` a call, each `{method, data}`: Usher sends `UPDATE` with `allow_upsert`, so
one call creates new events and replaces changed ones alike, and `DELETE` with the id.
`data.id` is the content id (Meta's retailer id), which is what the pixel's and the
Conversions API's `content_ids` name. Refused items come back in `validation_status`
(`retailer_id` and `errors`) while the rest of the batch is taken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings

from usher.platforms.campaigns_base import AdAccount
from usher.platforms.campaigns_common import (
    CallKind,
    management_request,
    require_token,
    setting,
    unexpected,
)
from usher.platforms.catalog_common import (
    Availability,
    CatalogConnector,
    CatalogItem,
    ItemOutcome,
    price_text,
)
from usher.platforms.meta.payloads import PLATFORM

MAX_ITEMS_PER_CALL = 5000
AVAILABILITY = {Availability.IN_STOCK: "in stock", Availability.SOLD_OUT: "out of stock"}
# Meta's limits on the text fields (characters).
TITLE_MAX_CHARS = 200
DESCRIPTION_MAX_CHARS = 9999


def item_data(item: CatalogItem) -> dict[str, Any]:
    """One event as a PRODUCT_ITEM's `data`: Meta's required fields (id, title,
    description, availability, condition, price, link, image_link, brand) and the date,
    city and kind as custom labels that product sets can filter on."""
    data: dict[str, Any] = {
        "id": item.content_id,
        "title": item.title[:TITLE_MAX_CHARS],
        "description": item.description[:DESCRIPTION_MAX_CHARS],
        "availability": AVAILABILITY[item.availability],
        "condition": "new",
        "price": price_text(item.price, item.currency),
        "link": item.url,
        "image_link": item.image_url,
        "brand": item.brand,
        "custom_label_0": item.starts_at.date().isoformat(),
    }
    if item.city:
        data["custom_label_1"] = item.city
    if item.category:
        data["product_type"] = item.category
    return data


class MetaCatalogConnector(CatalogConnector):
    platform = PLATFORM
    max_items_per_call = MAX_ITEMS_PER_CALL

    def create_catalog(self, account: AdAccount, name: str) -> str:
        business = setting(account, "business_id", "the Business that owns catalogs")
        answer = self._call(
            account, f"{business}/owned_product_catalogs", {"name": name, "vertical": "commerce"}
        )
        if not answer.get("id"):
            raise unexpected(PLATFORM, "catalog created without an id")
        return str(answer["id"])

    def upsert_items(
        self,
        account: AdAccount,
        catalog_id: str,
        items: Sequence[CatalogItem],
        refs: Mapping[str, str],
    ) -> list[ItemOutcome]:
        requests = [{"method": "UPDATE", "data": item_data(item)} for item in items]
        refused = self._batch(account, catalog_id, requests)
        return [
            ItemOutcome(item.content_id, error=refused.get(item.content_id, "")) for item in items
        ]

    def delete_items(
        self, account: AdAccount, catalog_id: str, items: Mapping[str, str]
    ) -> list[ItemOutcome]:
        requests = [{"method": "DELETE", "data": {"id": content_id}} for content_id in items]
        refused = self._batch(account, catalog_id, requests)
        return [ItemOutcome(content_id, error=refused.get(content_id, "")) for content_id in items]

    def _batch(
        self, account: AdAccount, catalog_id: str, requests: list[dict[str, Any]]
    ) -> dict[str, str]:
        """Send one items_batch; the refused items' reasons by retailer id."""
        answer = self._call(
            account,
            f"{catalog_id}/items_batch",
            {"item_type": "PRODUCT_ITEM", "allow_upsert": True, "requests": requests},
        )
        if not isinstance(answer.get("handles"), list):
            raise unexpected(PLATFORM, "items_batch answered without handles")
        refused: dict[str, str] = {}
        for status in answer.get("validation_status") or []:
            if not isinstance(status, dict) or not status.get("errors"):
                continue
            messages = [
                str(error.get("message", ""))
                for error in status["errors"]
                if isinstance(error, dict)
            ]
            refused[str(status.get("retailer_id", ""))] = "; ".join(messages) or "refused"
        return refused

    def _call(self, account: AdAccount, path: str, body: dict[str, Any]) -> dict[str, Any]:
        token = require_token(account)
        answer = management_request(
            account,
            CallKind.CATALOG,
            "POST",
            f"/{settings.META_GRAPH_API_VERSION}/{path}",
            headers={"Authorization": f"Bearer {token}"},
            secrets=[token],
            json=body,
        ).json
        if not isinstance(answer, dict):
            raise unexpected(PLATFORM, f"{path} answered no JSON object")
        return answer
