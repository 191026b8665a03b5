"""Meta product catalogs: create one under a Business, and the Catalog Batch API.

`POST /{business_id}/owned_product_catalogs` (`name`, `vertical`) answers `{"id"}`.
`POST /{catalog_id}/items_batch` takes `item_type` (PRODUCT_ITEM), `allow_upsert`
(default true) and up to 5,000 `requests` of `{method: CREATE|UPDATE|DELETE, data}`.
A malformed request fails as a whole (Graph error #100); an item with a missing or
malformed field is refused alone, listed in `validation_status` with its `retailer_id`
and `errors`, while the others are applied, which is how Meta reports item problems.
Every answer carries `handles` (what `check_batch_request_status` would poll; the
sandbox applies a batch at once).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.meta_common import (
    META,
    META_OBJECT_ID_BASE,
    MetaProblem,
    enum_param,
    graph_params,
    required_str,
    unknown_object,
)
from usher.sandbox.platform import Call, json_response
from usher.sandbox.state import SandboxState

MAX_REQUESTS_PER_BATCH = 5000
VERTICALS = frozenset({"commerce", "hotels", "flights", "destinations", "home_listings"})
METHODS = frozenset({"CREATE", "UPDATE", "DELETE"})
ITEM_TYPES = frozenset({"PRODUCT_ITEM"})
REQUIRED_ITEM_FIELDS = (
    "id",
    "title",
    "description",
    "availability",
    "condition",
    "price",
    "link",
    "image_link",
)
AVAILABILITY = frozenset(
    {"in stock", "out of stock", "preorder", "available for order", "discontinued"}
)
CONDITIONS = frozenset({"new", "refurbished", "used"})
# "9.99 USD": a number with at most two decimals, a space, an ISO 4217 code.
PRICE = re.compile(r"^[0-9]+(\.[0-9]{1,2})? [A-Z]{3}$")
URL = re.compile(r"^https?://\S+$")
TITLE_MAX_CHARS = 200
DESCRIPTION_MAX_CHARS = 9999


def create_catalog(state: SandboxState, call: Call) -> Response:
    """POST /{business_id}/owned_product_catalogs."""
    fields = graph_params(call)
    try:
        name = required_str(fields, "name", "product catalog")
        vertical = enum_param(fields.get("vertical", "commerce"), "vertical", VERTICALS)
    except MetaProblem as problem:
        return problem.response()
    catalog_id = state.next_id(META, META_OBJECT_ID_BASE)
    state.put_object(
        META,
        catalog_id,
        {
            "id": catalog_id,
            "type": "product_catalog",
            "account": call.params["object_id"],
            "name": name,
            "vertical": vertical,
            "items": {},
        },
    )
    return json_response({"id": catalog_id})


def items_batch(state: SandboxState, call: Call) -> Response:
    """POST /{catalog_id}/items_batch."""
    catalog_id = call.params["object_id"]
    catalog = state.get_object(META, catalog_id)
    if catalog is None or catalog.get("type") != "product_catalog":
        return unknown_object(catalog_id, call.request.method)
    fields = graph_params(call)
    try:
        enum_param(fields.get("item_type"), "item_type", ITEM_TYPES)
        requests = _requests(fields.get("requests"))
    except MetaProblem as problem:
        return problem.response()
    allow_upsert = fields.get("allow_upsert", True) not in (False, "false", "0", 0)
    statuses = []
    with state.lock:
        items = catalog["items"]
        for request in requests:
            retailer_id, errors = _apply(items, request, allow_upsert)
            if errors:
                statuses.append(
                    {"retailer_id": retailer_id, "errors": [{"message": e} for e in errors]}
                )
        state.put_object(META, catalog_id, catalog)
    return json_response({"handles": [uuid.uuid4().hex], "validation_status": statuses})


def _requests(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise MetaProblem("Invalid Requests", "requests must be a non-empty array.")
    if len(value) > MAX_REQUESTS_PER_BATCH:
        raise MetaProblem(
            "Too Many Requests",
            f"requests can hold at most {MAX_REQUESTS_PER_BATCH} items; this one has {len(value)}.",
        )
    for position, request in enumerate(value):
        if not isinstance(request, dict) or request.get("method") not in METHODS:
            raise MetaProblem(
                "Invalid Method",
                f"requests[{position}].method must be one of CREATE, UPDATE, DELETE.",
            )
        data = request.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise MetaProblem("Missing Id", f"requests[{position}].data needs an id.")
    return value


def _apply(
    items: dict[str, dict[str, Any]], request: dict[str, Any], allow_upsert: bool
) -> tuple[str, list[str]]:
    """Apply one request to the catalog's items; its retailer id and any errors."""
    data = request["data"]
    retailer_id = data["id"]
    method = request["method"]
    if method == "DELETE":
        items.pop(retailer_id, None)
        return retailer_id, []
    existing = items.get(retailer_id)
    if method == "UPDATE" and existing is None and not allow_upsert:
        return retailer_id, [f"Item {retailer_id} does not exist and allow_upsert is false."]
    if method == "CREATE" and existing is not None:
        return retailer_id, [f"Item {retailer_id} already exists."]
    merged = {**(existing or {}), **data}
    errors = item_errors(merged)
    if not errors:
        items[retailer_id] = merged
    return retailer_id, errors


def item_errors(item: dict[str, Any]) -> list[str]:
    """What Meta's item validation says about a PRODUCT_ITEM (empty: accepted)."""
    errors = [
        f"Missing required field: {name}" for name in REQUIRED_ITEM_FIELDS if not item.get(name)
    ]
    if not (item.get("brand") or item.get("gtin") or item.get("mpn")):
        errors.append("Missing required field: one of brand, gtin or mpn")
    if errors:
        return errors
    if not PRICE.match(str(item["price"])):
        errors.append("Invalid price: use a number and an ISO 4217 code, e.g. 9.99 USD")
    if item["availability"] not in AVAILABILITY:
        errors.append(f"Invalid availability: {item['availability']}")
    if item["condition"] not in CONDITIONS:
        errors.append(f"Invalid condition: {item['condition']}")
    for name in ("link", "image_link"):
        if not URL.match(str(item[name])):
            errors.append(f"Invalid URL in {name}")
    if len(str(item["title"])) > TITLE_MAX_CHARS:
        errors.append(f"title is longer than {TITLE_MAX_CHARS} characters")
    if len(str(item["description"])) > DESCRIPTION_MAX_CHARS:
        errors.append(f"description is longer than {DESCRIPTION_MAX_CHARS} characters")
    return errors
