"""Builders and helpers shared by the TikTok audience and campaign tests."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from usher.sandbox.tests.conftest import TIKTOK_ADVERTISER, TIKTOK_PIXEL, TOKEN

API = "/tiktok/open_api/v1.3"
HEADERS = {"Access-Token": TOKEN}


def post(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        f"{API}{path}", headers=HEADERS, json={"advertiser_id": TIKTOK_ADVERTISER, **body}
    )
    assert response.status_code == 200
    return response.json()


def get(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    encoded = {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in params.items()}
    return client.get(
        f"{API}{path}", headers=HEADERS, params={"advertiser_id": TIKTOK_ADVERTISER, **encoded}
    ).json()


LOOKALIKE_SPEC = {
    "audience_size": "BALANCED",
    "location_ids": ["798549"],
    "include_source": False,
    "mobile_os": "ALL",
    "placements": ["TIKTOK"],
}


def upload(
    client: httpx.Client, lines: list[str], name: str = "buyers.csv", signature: str | None = None
) -> dict[str, Any]:
    content = "\n".join(lines).encode()
    form = {
        "advertiser_id": TIKTOK_ADVERTISER,
        "calculate_type": "EMAIL_SHA256",
        "file_signature": signature or hashlib.md5(content).hexdigest(),
    }
    return client.post(
        f"{API}/dmp/custom_audience/file/upload/",
        headers=HEADERS,
        data=form,
        files={"file": (name, content)},
    ).json()


def new_campaign(client: httpx.Client, **overrides: Any) -> str:
    body = post(
        client,
        "/campaign/create/",
        {
            "campaign_name": "Concert",
            "objective_type": "WEB_CONVERSIONS",
            "budget_mode": "BUDGET_MODE_DAY",
            "budget": 50.0,
            "operation_status": "DISABLE",
            **overrides,
        },
    )
    assert body["code"] == 0, body
    return body["data"]["campaign_id"]


def adgroup_body(campaign: str, **overrides: Any) -> dict[str, Any]:
    return {
        "campaign_id": campaign,
        "adgroup_name": "RO 18-45",
        "location_ids": ["798549"],
        "schedule_type": "SCHEDULE_FROM_NOW",
        "schedule_start_time": "2026-01-02 00:00:00",
        "optimization_goal": "CONVERT",
        "billing_event": "OCPM",
        "pixel_id": TIKTOK_PIXEL,
        "optimization_event": "COMPLETE_PAYMENT",
        "budget_mode": "BUDGET_MODE_DAY",
        "budget": 20.0,
        "pacing": "PACING_MODE_SMOOTH",
        **overrides,
    }
