"""Small scenarios for the market simulator's tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx

from usher.sandbox.market import Market, Scenario, load_scenario
from usher.sandbox.state import SandboxState
from usher.sandbox.tests.conftest import TOKEN, google_headers

EXAMPLE = Path(__file__).resolve().parents[3] / "bench" / "markets" / "example.json"
START = "2027-03-01T00:00:00Z"  # a Monday


def segment(platform: str = "meta", campaign_type: str = "prospecting", **fields: Any) -> dict:
    base = {
        "platform": platform,
        "campaign_type": campaign_type,
        "cpm": 20,
        "ctr": 0.02,
        "max_daily_conversions": 40,
        "half_saturation_spend": 200,
        "average_order_value": 100,
        "creatives": [{"name": "poster", "performance": 1.0}],
    }
    base.update(fields)
    return base


def scenario_dict(*segments: dict, **fields: Any) -> dict[str, Any]:
    data = {
        "schema_version": 1,
        "name": "test market",
        "seed": 11,
        "currency": "EUR",
        "start": START,
        "days": 14,
        "total_budget": 10_000,
        "segments": list(segments) or [segment()],
    }
    data.update(fields)
    return copy.deepcopy(data)


def scenario(*segments: dict, **fields: Any) -> Scenario:
    return load_scenario(scenario_dict(*segments, **fields))


def example(**changes: Any) -> Scenario:
    loaded = load_scenario(EXAMPLE)
    return loaded.with_changes(**changes) if changes else loaded


def market(*segments: dict, **fields: Any) -> Market:
    return Market(scenario(*segments, **fields), SandboxState())


# --- reading reports through the platforms' endpoints ---


def meta_insights(client: httpx.Client, object_id: str, **params: Any) -> list[dict[str, Any]]:
    answer = client.get(
        f"/meta/v25.0/{object_id}/insights", params={"access_token": TOKEN, **params}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def gaql(client: httpx.Client, customer: str, query: str, **body: Any) -> httpx.Response:
    return client.post(
        f"/google-ads/v25/customers/{customer}/googleAds:search",
        headers=google_headers(),
        json={"query": query, **body},
    )


def tiktok_report(client: httpx.Client, advertiser: str, **params: Any) -> httpx.Response:
    return client.get(
        "/tiktok/open_api/v1.3/report/integrated/get/",
        headers={"Access-Token": TOKEN},
        params={"advertiser_id": advertiser, "report_type": "BASIC", **params},
    )
