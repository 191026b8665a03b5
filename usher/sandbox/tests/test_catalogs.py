"""The platforms' catalog APIs as the sandbox models them: Meta's Catalog Batch API,
TikTok's catalog products and Google Ads' dynamic custom assets, with their checks."""

from __future__ import annotations

from typing import Any

import httpx

from usher.sandbox.tests import google_helpers, meta_helpers, tiktok_helpers
from usher.sandbox.tests.conftest import GOOGLE_CUSTOMER

BUSINESS = "5550001112"
BC = "7001234567890123456"


def meta_item(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "core-1",
        "title": "Rock Night",
        "description": "Arenele Romane, Bucharest",
        "availability": "in stock",
        "condition": "new",
        "price": "80.00 RON",
        "link": "https://tix.example/e/rock",
        "image_link": "https://tix.example/i/rock.jpg",
        "brand": "Live Nation RO",
        **overrides,
    }


def meta_catalog(client: httpx.Client) -> str:
    answer = meta_helpers.post(
        client, f"{meta_helpers.G}/{BUSINESS}/owned_product_catalogs", {"name": "Events"}
    )
    assert answer.status_code == 200
    return answer.json()["id"]


def items_batch(client: httpx.Client, catalog: str, requests: Any, **body: Any) -> httpx.Response:
    return meta_helpers.post(
        client,
        f"{meta_helpers.G}/{catalog}/items_batch",
        {"item_type": "PRODUCT_ITEM", "requests": requests, **body},
    )


def test_meta_applies_good_items_and_lists_refused_ones(client, state):
    catalog = meta_catalog(client)
    answer = items_batch(
        client,
        catalog,
        [
            {"method": "UPDATE", "data": meta_item()},
            {"method": "CREATE", "data": meta_item(id="core-2", price="80 euro")},
            {"method": "CREATE", "data": meta_item(id="core-3", image_link="")},
        ],
    )
    assert answer.status_code == 200
    body = answer.json()
    assert len(body["handles"]) == 1
    refused = {s["retailer_id"]: s["errors"][0]["message"] for s in body["validation_status"]}
    assert set(refused) == {"core-2", "core-3"}
    assert "price" in refused["core-2"] and "image_link" in refused["core-3"]
    assert set(state.get_object("meta", catalog)["items"]) == {"core-1"}


def test_meta_updates_merge_and_deletes_remove(client, state):
    catalog = meta_catalog(client)
    items_batch(client, catalog, [{"method": "CREATE", "data": meta_item()}])
    items_batch(
        client,
        catalog,
        [{"method": "UPDATE", "data": {"id": "core-1", "availability": "out of stock"}}],
    )
    assert state.get_object("meta", catalog)["items"]["core-1"]["availability"] == "out of stock"
    items_batch(client, catalog, [{"method": "DELETE", "data": {"id": "core-1"}}])
    assert state.get_object("meta", catalog)["items"] == {}


def test_meta_refuses_a_malformed_batch_as_a_whole(client):
    catalog = meta_catalog(client)
    for requests in ([], [{"method": "PATCH", "data": meta_item()}], [{"method": "CREATE"}]):
        answer = items_batch(client, catalog, requests)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == 100
    too_many = [{"method": "DELETE", "data": {"id": str(n)}} for n in range(5001)]
    assert items_batch(client, catalog, too_many).status_code == 400
    no_type = meta_helpers.post(
        client, f"{meta_helpers.G}/{catalog}/items_batch", {"requests": [meta_item()]}
    )
    assert no_type.status_code == 400


def test_meta_upsert_needs_allow_upsert_for_unknown_items(client):
    catalog = meta_catalog(client)
    answer = items_batch(
        client, catalog, [{"method": "UPDATE", "data": meta_item()}], allow_upsert=False
    )
    assert "does not exist" in answer.json()["validation_status"][0]["errors"][0]["message"]


def tiktok_catalog(client: httpx.Client) -> str:
    answer = tiktok_helpers.post(
        client,
        "/catalog/create/",
        {
            "bc_id": BC,
            "catalog_name": "Events",
            "catalog_type": "ECOM",
            "catalog_conf": {"region_code": "RO", "currency": "RON"},
        },
    )
    assert answer["code"] == 0
    return answer["data"]["catalog_id"]


def tiktok_product(**overrides: Any) -> dict[str, Any]:
    return {
        "sku_id": "core-1",
        "title": "Rock Night",
        "description": "Arenele Romane",
        "availability": "IN_STOCK",
        "brand": "Live Nation RO",
        "image_url": "https://tix.example/i/rock.jpg",
        "price_info": {"price": "80.00", "currency": "RON"},
        "landing_page": {"landing_page_url": "https://tix.example/e/rock"},
        **overrides,
    }


def test_tiktok_uploads_replace_by_sku_and_deletes_remove(client, state):
    catalog = tiktok_catalog(client)
    for title in ("Rock Night", "Rock Night (moved)"):
        answer = tiktok_helpers.post(
            client,
            "/catalog/product/upload/",
            {"bc_id": BC, "catalog_id": catalog, "products": [tiktok_product(title=title)]},
        )
        assert answer["code"] == 0 and answer["data"]["feed_log_id"]
    products = state.get_object("tiktok", catalog)["products"]
    assert products["core-1"]["title"] == "Rock Night (moved)"
    deleted = tiktok_helpers.post(
        client,
        "/catalog/product/delete/",
        {"bc_id": BC, "catalog_id": catalog, "sku_ids": ["core-1", "unknown"]},
    )
    assert deleted["code"] == 0 and state.get_object("tiktok", catalog)["products"] == {}


def test_tiktok_refuses_a_bad_product_or_another_business_center(client, state):
    catalog = tiktok_catalog(client)
    bad = tiktok_helpers.post(
        client,
        "/catalog/product/upload/",
        {
            "bc_id": BC,
            "catalog_id": catalog,
            "products": [tiktok_product(), tiktok_product(sku_id="core-2", title="")],
        },
    )
    assert bad["code"] == 40002 and "products[1].title" in bad["message"]
    assert state.get_object("tiktok", catalog)["products"] == {}  # nothing applied
    wrong_currency = tiktok_helpers.post(
        client,
        "/catalog/product/upload/",
        {
            "bc_id": BC,
            "catalog_id": catalog,
            "products": [tiktok_product(price_info={"price": "1.00", "currency": "EUR"})],
        },
    )
    assert wrong_currency["code"] == 40002
    other_bc = tiktok_helpers.post(
        client,
        "/catalog/product/upload/",
        {"bc_id": "1", "catalog_id": catalog, "products": [tiktok_product()]},
    )
    assert other_bc["code"] == 40001
    no_region = tiktok_helpers.post(
        client,
        "/catalog/create/",
        {"bc_id": BC, "catalog_name": "E", "catalog_conf": {"currency": "RON"}},
    )
    assert no_region["code"] == 40002


def google_asset(**custom: Any) -> dict[str, Any]:
    return {
        "create": {
            "final_urls": ["https://tix.example/e/rock"],
            "dynamic_custom_asset": {"id": "core-1", "item_title": "Rock Night", **custom},
        }
    }


def test_google_links_dynamic_custom_assets_into_an_asset_set(client, state):
    asset_set = google_helpers.call(
        client,
        "/assetSets:mutate",
        {"operations": [{"create": {"name": "Events", "type": "DYNAMIC_CUSTOM"}}]},
    ).json()["results"][0]["resourceName"]
    asset = google_helpers.call(
        client, "/assets:mutate", {"operations": [google_asset(price="80.00 RON")]}
    ).json()["results"][0]["resourceName"]
    link = {"create": {"assetSet": asset_set, "asset": asset}}
    linked = google_helpers.call(client, "/assetSetAssets:mutate", {"operations": [link]})
    set_id, asset_id = asset_set.rsplit("/", 1)[1], asset.rsplit("/", 1)[1]
    assert linked.json()["results"][0]["resourceName"] == (
        f"customers/{GOOGLE_CUSTOMER}/assetSetAssets/{set_id}~{asset_id}"
    )
    again = google_helpers.call(client, "/assetSetAssets:mutate", {"operations": [link]})
    assert again.status_code == 400 and "DUPLICATE_ASSET_SET_ASSET" in again.text
    removed = google_helpers.call(
        client,
        "/assetSetAssets:mutate",
        {
            "operations": [
                {"remove": f"customers/{GOOGLE_CUSTOMER}/assetSetAssets/{set_id}~{asset_id}"}
            ]
        },
    )
    assert removed.status_code == 200


def test_google_refuses_a_dynamic_asset_without_its_required_fields(client):
    for operation, reason in (
        (google_asset(price="80 lei"), "INVALID_PRICE"),
        ({"create": {"dynamic_custom_asset": {"id": "x", "item_title": "t"}}}, "FINAL_URLS"),
        (google_asset(item_title=""), "REQUIRED"),
    ):
        answer = google_helpers.call(client, "/assets:mutate", {"operations": [operation]})
        assert answer.status_code == 400 and reason in answer.text
    wrong_type = google_helpers.call(
        client, "/assetSets:mutate", {"operations": [{"create": {"name": "E", "type": "FEED"}}]}
    )
    assert wrong_type.status_code == 400
