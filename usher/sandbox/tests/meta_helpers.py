"""Builders and helpers shared by the Meta campaign and audience tests."""

from __future__ import annotations

from typing import Any

import httpx

from usher.sandbox.tests.conftest import META_AD_ACCOUNT, META_PIXEL, TOKEN, sha

G = "/meta/v25.0"
ACT = f"{G}/act_{META_AD_ACCOUNT}"
AUTH = {"access_token": TOKEN}
TARGETING = {
    "geo_locations": {"countries": ["RO"]},
    "age_min": 18,
    "age_max": 45,
    "targeting_automation": {"advantage_audience": 0},
}
# Romania is in the EU: its ad sets name who benefits and who pays (DSA).
DSA = {"dsa_beneficiary": "Sunwave Festival SRL", "dsa_payor": "Sunwave Festival SRL"}


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(path, params=AUTH, json=body)


def get(client: httpx.Client, path: str, **params: Any) -> httpx.Response:
    return client.get(path, params={**AUTH, **params})


def new_audience(client: httpx.Client, size: int = 0) -> str:
    audience_id = post(
        client,
        f"{ACT}/customaudiences",
        {"name": "Buyers", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"},
    ).json()["id"]
    if size:
        rows = [sha(f"user{n}@example.com") for n in range(size)]
        post(
            client,
            f"{G}/{audience_id}/users",
            {"payload": {"schema": "EMAIL_SHA256", "data": rows}},
        )
    return audience_id


def new_campaign(client: httpx.Client, **overrides: Any) -> str:
    body = {
        "name": "Concert prospecting",
        "objective": "OUTCOME_SALES",
        "status": "PAUSED",
        "special_ad_categories": [],
        "is_adset_budget_sharing_enabled": False,
        **overrides,
    }
    response = post(client, f"{ACT}/campaigns", body)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def adset_body(campaign: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Romania 18-45",
        "campaign_id": campaign,
        "daily_budget": 2000,
        "billing_event": "IMPRESSIONS",
        "optimization_goal": "OFFSITE_CONVERSIONS",
        "promoted_object": {"pixel_id": META_PIXEL, "custom_event_type": "PURCHASE"},
        "targeting": TARGETING,
        "status": "PAUSED",
        **DSA,
        **overrides,
    }


def new_adset(client: httpx.Client, campaign_id: str, **overrides: Any) -> str:
    response = post(client, f"{ACT}/adsets", adset_body(campaign_id, **overrides))
    assert response.status_code == 200, response.text
    return response.json()["id"]


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    return response.json()["error"]
