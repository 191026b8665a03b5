"""Meta's Advantage+ catalog ads as the sandbox checks them: product sets of a catalog,
the campaign promoting the catalog, the ad set one of its product sets with a product
audience, and template creatives of that set."""

from __future__ import annotations

from typing import Any

import httpx

from usher.sandbox.tests.meta_helpers import ACT, TARGETING, G, adset_body, get, new_campaign, post
from usher.sandbox.tests.test_catalogs import items_batch, meta_catalog, meta_item

PAGE = "1029384756"
DAY = 86_400


def product_set(client: httpx.Client, catalog: str, rule: Any) -> httpx.Response:
    return post(client, f"{G}/{catalog}/product_sets", {"name": "Rock Night", "filter": rule})


def new_product_set(client: httpx.Client, catalog: str, retailer_id: str = "core-1") -> str:
    answer = product_set(client, catalog, {"retailer_id": {"eq": retailer_id}})
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def user_title(answer: httpx.Response) -> str:
    assert answer.status_code == 400, answer.text
    return answer.json()["error"]["error_user_title"]


def audience_specs(product_set_id: str, seconds: int = 30 * DAY) -> list[dict[str, Any]]:
    return [
        {
            "product_set_id": product_set_id,
            "inclusions": [{"retention_seconds": seconds, "rule": {"event": {"eq": "AddToCart"}}}],
            "exclusions": [{"retention_seconds": seconds, "rule": {"event": {"eq": "Purchase"}}}],
        }
    ]


def catalog_adset(campaign: str, product_set_id: str, **overrides: Any) -> dict[str, Any]:
    return adset_body(
        campaign,
        promoted_object={"product_set_id": product_set_id, "custom_event_type": "PURCHASE"},
        targeting={**TARGETING, "product_audience_specs": audience_specs(product_set_id)},
        **overrides,
    )


def template_creative(product_set_id: str | None, **template: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Rock Night template",
        "object_story_spec": {
            "page_id": PAGE,
            "template_data": {
                "name": "{{product.name}}",
                "link": "https://tix.example/e/rock",
                "call_to_action": {"type": "BUY_TICKETS"},
                **template,
            },
        },
    }
    if product_set_id is not None:
        body["product_set_id"] = product_set_id
    return body


def test_a_product_set_keeps_its_filter_and_counts_the_items_it_matches(client):
    catalog = meta_catalog(client)
    items_batch(
        client,
        catalog,
        [{"method": "UPDATE", "data": meta_item(id=i)} for i in ("core-1", "core-2", "core-3")],
    )
    one = new_product_set(client, catalog)
    many = product_set(client, catalog, {"retailer_id": {"is_any": ["core-2", "core-3", "gone"]}})
    assert many.status_code == 200
    listed = {s["id"]: s for s in get(client, f"{G}/{catalog}/product_sets").json()["data"]}
    assert listed[one]["filter"] == {"retailer_id": {"eq": "core-1"}}
    assert (listed[one]["product_count"], listed[many.json()["id"]]["product_count"]) == (1, 2)


def test_product_sets_need_a_known_catalog_and_a_valid_filter(client):
    catalog = meta_catalog(client)
    assert product_set(client, "99999", {"retailer_id": {"eq": "core-1"}}).status_code == 400
    for rule in (
        None,
        {"retailer_id": "core-1"},
        {"retailer_id": {"is_any": []}},
        {"retailer_id": {"eq": ["core-1"]}},
        {"price_cents": {"eq": "1"}},
        {"and": []},
    ):
        assert user_title(product_set(client, catalog, rule)) == "Invalid Product Set Filter"


def test_a_catalog_campaign_publishes_with_its_product_set_and_template_ads(client, state):
    catalog = meta_catalog(client)
    set_id = new_product_set(client, catalog)
    campaign = new_campaign(client, promoted_object={"product_catalog_id": catalog})
    adset = post(client, f"{ACT}/adsets", catalog_adset(campaign, set_id))
    assert adset.status_code == 200, adset.text
    creative = post(client, f"{ACT}/adcreatives", template_creative(set_id))
    assert creative.status_code == 200, creative.text
    ad = post(
        client,
        f"{ACT}/ads",
        {
            "name": "Rock Night ad",
            "adset_id": adset.json()["id"],
            "creative": {"creative_id": creative.json()["id"]},
        },
    )
    assert ad.status_code == 200, ad.text
    stored = state.get_object("meta", adset.json()["id"])["fields"]
    assert stored["promoted_object"]["product_set_id"] == set_id


def test_a_campaign_cannot_promote_an_unknown_catalog_or_one_outside_sales(client):
    catalog = meta_catalog(client)
    unknown = post(
        client,
        f"{ACT}/campaigns",
        {
            "name": "Catalog",
            "objective": "OUTCOME_SALES",
            "special_ad_categories": [],
            "is_adset_budget_sharing_enabled": False,
            "promoted_object": {"product_catalog_id": "424242"},
        },
    )
    assert user_title(unknown) == "Invalid Product Catalog"
    traffic = post(
        client,
        f"{ACT}/campaigns",
        {
            "name": "Catalog",
            "objective": "OUTCOME_TRAFFIC",
            "special_ad_categories": [],
            "is_adset_budget_sharing_enabled": False,
            "promoted_object": {"product_catalog_id": catalog},
        },
    )
    assert user_title(traffic) == "Objective Cannot Promote A Catalog"


def test_an_ad_set_refuses_a_product_set_of_another_catalog_or_none(client):
    catalog, other = meta_catalog(client), meta_catalog(client)
    foreign = new_product_set(client, other)
    campaign = new_campaign(client, promoted_object={"product_catalog_id": catalog})
    answer = post(client, f"{ACT}/adsets", catalog_adset(campaign, foreign))
    assert user_title(answer) == "Product Set Not In Catalog"
    missing = post(
        client,
        f"{ACT}/adsets",
        adset_body(campaign, targeting=TARGETING),  # the pixel alone: no product set
    )
    assert user_title(missing) == "Missing Product Set"


def test_product_audiences_need_a_catalog_campaign_and_a_sane_window(client):
    catalog = meta_catalog(client)
    set_id = new_product_set(client, catalog)
    plain = new_campaign(client)
    answer = post(
        client,
        f"{ACT}/adsets",
        adset_body(
            plain, targeting={**TARGETING, "product_audience_specs": audience_specs(set_id)}
        ),
    )
    assert user_title(answer) == "Campaign Promotes No Catalog"
    promoted = post(
        client,
        f"{ACT}/adsets",
        adset_body(
            plain, promoted_object={"product_set_id": set_id, "custom_event_type": "PURCHASE"}
        ),
    )
    assert user_title(promoted) == "Campaign Promotes No Catalog"
    campaign = new_campaign(client, promoted_object={"product_catalog_id": catalog})
    body = catalog_adset(campaign, set_id)
    body["targeting"]["product_audience_specs"] = audience_specs(set_id, seconds=181 * DAY)
    assert user_title(post(client, f"{ACT}/adsets", body)) == "Invalid product_audience_specs"


def test_template_creatives_name_their_product_set_and_match_the_ad_set(client):
    catalog = meta_catalog(client)
    set_id, other_set = new_product_set(client, catalog), new_product_set(client, catalog, "x")
    no_set = post(client, f"{ACT}/adcreatives", template_creative(None))
    assert user_title(no_set) == "Missing Product Set"
    no_link = post(client, f"{ACT}/adcreatives", template_creative(set_id, link=None))
    assert user_title(no_link) == "Missing Link"
    campaign = new_campaign(client, promoted_object={"product_catalog_id": catalog})
    adset = post(client, f"{ACT}/adsets", catalog_adset(campaign, set_id)).json()["id"]
    creative = post(client, f"{ACT}/adcreatives", template_creative(other_set)).json()["id"]
    mismatch = post(
        client,
        f"{ACT}/ads",
        {"name": "ad", "adset_id": adset, "creative": {"creative_id": creative}},
    )
    assert user_title(mismatch) == "Product Set Mismatch"
