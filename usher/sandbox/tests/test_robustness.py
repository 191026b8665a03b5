"""Malformed input never crashes the sandbox: every route answers in its platform's shape."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from usher.sandbox.app import PLATFORM_PREFIXES, SandboxApp
from usher.sandbox.tests.conftest import (
    GA4_ID,
    GOOGLE_CUSTOMER,
    META_AD_ACCOUNT,
    META_PIXEL,
    TIKTOK_ADVERTISER,
    TOKEN,
    configure,
    google_headers,
)

GROUP_VALUES = {
    "pixel_id": META_PIXEL,
    "ad_account": META_AD_ACCOUNT,
    "object_id": "120210000000000001",
    "customer_id": GOOGLE_CUSTOMER,
    "job_id": "20000000001",
    "collection": "campaigns",
    "kind": "campaign",
}
VERSIONS = {"meta": "v25.0", "google_ads": "v25", "tiktok": "v1.3", "ga4": ""}
JUNK_BODIES: list[Any] = [
    None,
    [],
    "text",
    42,
    {},
    {"data": [1, None, "x", {"event_time": {}, "user_data": []}]},
    {"data": "not-json", "payload": "x", "session": [], "targeting": "x", "name": 1},
    {
        "operations": [
            None,
            1,
            {"create": 1},
            {"update": 1},
            {"remove": 1},
            {"create": {"name": {}}},
        ]
    },
    {"conversions": [None, 1, {"gclid": 1, "userIdentifiers": "x", "consent": []}]},
    {"query": 1, "job": 1, "events": [1, {"name": 5, "params": []}], "client_id": []},
    {
        "event_source": "web",
        "event_source_id": "C0QDA8RC77U2TMR44LI0",
        "data": [{"event": "x", "event_time": 1, "user": []}],
    },
    {
        "advertiser_id": TIKTOK_ADVERTISER,
        "campaign_ids": "x",
        "creatives": [1],
        "lookalike_spec": [],
        "filtering": "[",
        "batch_data": [1],
        "id_schema": "x",
    },
    {
        "advertiser_id": TIKTOK_ADVERTISER,
        "lookalike_spec": {"source_audience_id": []},
        "file_paths": [[]],
        "dimensions": "x",
        "metrics": [[]],
    },
    {
        "origin_audience_id": [],
        "subtype": "LOOKALIKE",
        "lookalike_spec": [],
        "object_story_spec": {"page_id": 1, "link_data": {"link": "x", "call_to_action": 3}},
    },
    {
        "time_range": "x",
        "effective_status": "x",
        "fields": 3,
        "limit": "x",
        "creative": "x",
        "adset_id": [],
        "promoted_object": [],
    },
]


def concrete_paths(app: SandboxApp) -> list[tuple[str, str, str]]:
    paths = []
    for prefix, platform in PLATFORM_PREFIXES:
        for route in app.apis[platform].routes:
            pattern = route.pattern.pattern.strip("^$")

            def value(match: re.Match[str], platform: str = platform) -> str:
                name = match.group(1)
                if name == "version":
                    return VERSIONS[platform]
                if name == "edge":
                    return match.group(2).split("|")[0]
                return GROUP_VALUES[name]

            path = re.sub(r"\(\?P<(\w+)>([^)]*)\)", value, pattern).replace("\\", "")
            paths.append((platform, route.method, prefix + path))
    return paths


def auth(platform: str) -> dict[str, Any]:
    if platform == "meta":
        return {"params": {"access_token": TOKEN}}
    if platform in ("google_ads", "data_manager"):
        return {"headers": google_headers()}
    if platform == "tiktok":
        return {"headers": {"Access-Token": TOKEN}, "params": {"advertiser_id": TIKTOK_ADVERTISER}}
    return {"params": {"measurement_id": GA4_ID, "api_secret": TOKEN}}


def test_every_route_survives_junk_bodies(app: SandboxApp, client: httpx.Client) -> None:
    routes = concrete_paths(app)
    assert len(routes) > 30
    for platform, method, path in routes:
        for body in JUNK_BODIES:
            kwargs = auth(platform)
            content = None if body is None else json.dumps(body).encode()
            headers = {**kwargs.get("headers", {}), "Content-Type": "application/json"}
            params = dict(kwargs.get("params", {}))
            if method == "GET" and isinstance(body, dict):
                params.update(
                    {k: json.dumps(v) if not isinstance(v, str) else v for k, v in body.items()}
                )
                content = None
            response = client.request(method, path, params=params, headers=headers, content=content)
            assert response.status_code < 500, (platform, method, path, body, response.text)


@pytest.mark.parametrize("prefix", [prefix for prefix, _ in PLATFORM_PREFIXES])
def test_unknown_paths_answer_in_the_platforms_way(client: httpx.Client, prefix: str) -> None:
    response = client.post(f"{prefix}/no/such/endpoint", json={})
    assert response.status_code in (400, 404)


def test_junk_deep_inside_valid_requests_is_answered_not_crashed(client: httpx.Client) -> None:
    meta = {"params": {"access_token": TOKEN}}
    act = f"/meta/v25.0/act_{META_AD_ACCOUNT}"
    campaign = client.post(
        f"{act}/campaigns",
        json={
            "name": "c",
            "objective": "OUTCOME_SALES",
            "special_ad_categories": [],
            "is_adset_budget_sharing_enabled": False,
        },
        **meta,
    ).json()["id"]
    adset = {
        "name": "a",
        "campaign_id": campaign,
        "daily_budget": 100,
        "billing_event": "IMPRESSIONS",
        "targeting": {"geo_locations": {"countries": ["RO"]}, "genders": 5},
    }
    assert (
        client.post(f"{act}/adsets", json=adset, **meta).json()["error"]["error_user_title"]
        == "Invalid genders"
    )

    tiktok = {"headers": {"Access-Token": TOKEN}}
    api = "/tiktok/open_api/v1.3"
    advertiser = {"advertiser_id": TIKTOK_ADVERTISER}
    tt_campaign = client.post(
        f"{api}/campaign/create/",
        json={**advertiser, "campaign_name": "c", "objective_type": "TRAFFIC"},
        **tiktok,
    ).json()["data"]["campaign_id"]
    adgroup = {
        **advertiser,
        "campaign_id": tt_campaign,
        "adgroup_name": "g",
        "location_ids": ["1"],
        "schedule_type": "SCHEDULE_FROM_NOW",
        "schedule_start_time": "2026-01-02 00:00:00",
        "optimization_goal": "CLICK",
        "billing_event": "CPC",
        "budget_mode": "BUDGET_MODE_DAY",
        "budget": 20,
        "audience_ids": 5,
    }
    assert client.post(f"{api}/adgroup/create/", json=adgroup, **tiktok).json()["code"] == 40002
    report = {
        **advertiser,
        "report_type": "BASIC",
        "data_level": "AUCTION_CAMPAIGN",
        "dimensions": '["campaign_id"]',
        "metrics": "5",
        "start_date": "2025-12-01",
        "end_date": "2025-12-02",
    }
    assert (
        client.get(f"{api}/report/integrated/get/", params=report, **tiktok).json()["code"] == 40002
    )
    listed = client.get(
        f"{api}/campaign/get/", params={**advertiser, "filtering": '{"campaign_ids": 5}'}, **tiktok
    ).json()
    assert listed["code"] == 0

    google = {"headers": google_headers()}
    base = f"/google-ads/v25/customers/{GOOGLE_CUSTOMER}"
    configure(client, "google_ads", GOOGLE_CUSTOMER, customer_match_allowlisted=True)
    odd_job = client.post(
        f"{base}/offlineUserDataJobs:create",
        json={"job": {"type": "CUSTOMER_MATCH_USER_LIST", "customerMatchUserListMetadata": []}},
        **google,
    )
    assert odd_job.status_code == 400
    user_list = client.post(
        f"{base}/userLists:mutate",
        json={
            "operations": [
                {"create": {"name": "L", "crmBasedUserList": {"uploadKeyType": "CONTACT_INFO"}}}
            ]
        },
        **google,
    ).json()["results"][0]["resourceName"]
    job = client.post(
        f"{base}/offlineUserDataJobs:create",
        json={
            "job": {
                "type": "CUSTOMER_MATCH_USER_LIST",
                "customerMatchUserListMetadata": {"userList": user_list, "consent": "yes"},
            }
        },
        **google,
    ).json()["resourceName"]
    operations = client.post(
        f"/google-ads/v25/{job}:addOperations",
        json={"operations": [{"create": {"userIdentifiers": 5}}]},
        **google,
    )
    assert operations.status_code == 400
    update = client.post(
        f"{base}/userLists:mutate",
        json={
            "operations": [
                {
                    "update": {"resourceName": user_list, "crmBasedUserList": "x"},
                    "updateMask": "crmBasedUserList.uploadKeyType",
                }
            ]
        },
        **google,
    )
    assert update.status_code in (200, 400)
