"""TikTok catalogs: create one in a Business Center, upload products as JSON, delete them.

`POST /catalog/create/` (`bc_id`, `catalog_name`, `catalog_type`, `catalog_conf` with
`region_code` and `currency`) answers `data.catalog_id`. `POST /catalog/product/upload/`
takes `bc_id`, `catalog_id` and up to 5,000 `products`; a product whose `sku_id` is
already in the catalog replaces it. TikTok checks the request at once: a missing or
malformed product field refuses the whole call with code 40002 naming the product, as
its parameter validation does. `POST /catalog/product/delete/` takes `sku_ids`
(unknown ones are ignored). A catalog of another Business Center answers 40001.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from werkzeug.wrappers import Response

from usher.sandbox.platform import Call, Handler
from usher.sandbox.state import SandboxState
from usher.sandbox.tiktok_common import (
    CODE_NO_PERMISSION,
    TIKTOK,
    TIKTOK_ID_BASE,
    TikTokProblem,
    enum,
    param,
    required,
    tiktok_ok,
)
from usher.sandbox.validation import as_number

MAX_PRODUCTS_PER_CALL = 5000
CATALOG_TYPES = frozenset({"ECOM", "HOTEL", "FLIGHT", "DESTINATION", "ENTERTAINMENT"})
AVAILABILITY = frozenset(
    {"IN_STOCK", "AVAILABLE_FOR_PREORDER", "PREORDER", "OUT_OF_STOCK", "DISCONTINUED"}
)
REQUIRED_PRODUCT_FIELDS = ("sku_id", "title", "description", "availability", "brand", "image_url")
REGION = re.compile(r"^[A-Z]{2}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
URL = re.compile(r"^https?://\S+$")
TITLE_MAX_CHARS = 150


def answered(handler: Handler) -> Handler:
    """The handler's answer, or TikTok's error answer for the problem it raised."""

    @functools.wraps(handler)
    def run(state: SandboxState, call: Call) -> Response:
        try:
            return handler(state, call)
        except TikTokProblem as problem:
            return problem.response()

    return run


@answered
def create_catalog(state: SandboxState, call: Call) -> Response:
    """POST /catalog/create/."""
    bc_id = str(required(call, "bc_id"))
    name = required(call, "catalog_name")
    catalog_type = enum(param(call, "catalog_type", "ECOM"), "catalog_type", CATALOG_TYPES)
    conf = required(call, "catalog_conf")
    if not isinstance(conf, dict) or not REGION.match(str(conf.get("region_code", ""))):
        raise TikTokProblem("catalog_conf.region_code: must be a two-letter region code.")
    if not CURRENCY.match(str(conf.get("currency", ""))):
        raise TikTokProblem("catalog_conf.currency: must be an ISO 4217 code.")
    catalog_id = state.next_id(TIKTOK, TIKTOK_ID_BASE)
    state.put_object(
        TIKTOK,
        catalog_id,
        {
            "id": catalog_id,
            "type": "catalog",
            "account": call.account,
            "bc_id": bc_id,
            "name": name,
            "catalog_type": catalog_type,
            "currency": conf["currency"],
            "products": {},
        },
    )
    return tiktok_ok({"catalog_id": catalog_id})


@answered
def upload_products(state: SandboxState, call: Call) -> Response:
    """POST /catalog/product/upload/."""
    catalog = _catalog(state, call)
    products = required(call, "products")
    if not isinstance(products, list):
        raise TikTokProblem("products: must be a list.")
    if len(products) > MAX_PRODUCTS_PER_CALL:
        raise TikTokProblem(f"products: at most {MAX_PRODUCTS_PER_CALL} per request.")
    for position, product in enumerate(products):
        _check_product(product, f"products[{position}]", catalog["currency"])
    with state.lock:
        for product in products:
            catalog["products"][str(product["sku_id"])] = product
        state.put_object(TIKTOK, catalog["id"], catalog)
    return tiktok_ok({"feed_log_id": state.next_id(TIKTOK, TIKTOK_ID_BASE)})


@answered
def delete_products(state: SandboxState, call: Call) -> Response:
    """POST /catalog/product/delete/."""
    catalog = _catalog(state, call)
    sku_ids = required(call, "sku_ids")
    if not isinstance(sku_ids, list) or not all(isinstance(s, str) for s in sku_ids):
        raise TikTokProblem("sku_ids: must be a list of strings.")
    if len(sku_ids) > MAX_PRODUCTS_PER_CALL:
        raise TikTokProblem(f"sku_ids: at most {MAX_PRODUCTS_PER_CALL} per request.")
    with state.lock:
        for sku_id in sku_ids:
            catalog["products"].pop(sku_id, None)
        state.put_object(TIKTOK, catalog["id"], catalog)
    return tiktok_ok({})


def _catalog(state: SandboxState, call: Call) -> dict[str, Any]:
    bc_id = str(required(call, "bc_id"))
    catalog_id = str(required(call, "catalog_id"))
    catalog = state.get_object(TIKTOK, catalog_id)
    if catalog is None or catalog.get("type") != "catalog":
        raise TikTokProblem(f"catalog_id: catalog {catalog_id} does not exist.")
    if catalog["bc_id"] != bc_id:
        raise TikTokProblem(
            "No permission to operate this catalog in this Business Center.", CODE_NO_PERMISSION
        )
    return catalog


def _check_product(product: Any, where: str, currency: str) -> None:
    if not isinstance(product, dict):
        raise TikTokProblem(f"{where}: must be an object.")
    for name in REQUIRED_PRODUCT_FIELDS:
        if product.get(name) in (None, ""):
            raise TikTokProblem(f"{where}.{name}: Missing data for required field.")
    if product["availability"] not in AVAILABILITY:
        raise TikTokProblem(
            f"{where}.availability: must be one of {', '.join(sorted(AVAILABILITY))}."
        )
    if len(str(product["title"])) > TITLE_MAX_CHARS:
        raise TikTokProblem(f"{where}.title: at most {TITLE_MAX_CHARS} characters.")
    if not URL.match(str(product["image_url"])):
        raise TikTokProblem(f"{where}.image_url: must be an http(s) URL.")
    price_info = product.get("price_info")
    price = as_number(price_info.get("price")) if isinstance(price_info, dict) else None
    if price is None or price < 0:
        raise TikTokProblem(f"{where}.price_info.price: must be a non-negative number.")
    if price_info.get("currency", currency) != currency:
        raise TikTokProblem(f"{where}.price_info.currency: the catalog's currency is {currency}.")
    landing = product.get("landing_page")
    if not isinstance(landing, dict) or not URL.match(str(landing.get("landing_page_url", ""))):
        raise TikTokProblem(f"{where}.landing_page.landing_page_url: must be an http(s) URL.")
