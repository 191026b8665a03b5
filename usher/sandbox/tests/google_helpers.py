"""Builders and helpers shared by the Google Ads tests."""

from __future__ import annotations

from typing import Any

import httpx

from usher.sandbox.tests.conftest import GOOGLE_CUSTOMER, google_headers

BASE = f"/google-ads/v25/customers/{GOOGLE_CUSTOMER}"
ACTION = f"customers/{GOOGLE_CUSTOMER}/conversionActions/555"
WHEN = "2026-01-01 11:00:00+00:00"  # an hour before the test clock


def call(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"{BASE}{path}", headers=google_headers(), json=body)


def conversion(**overrides: Any) -> dict[str, Any]:
    return {
        "gclid": "Cj0KCQiA-sandbox-gclid",
        "conversionAction": ACTION,
        "conversionDateTime": WHEN,
        "conversionValue": 50.0,
        "currencyCode": "EUR",
        "orderId": "order-1",
        "consent": {"adUserData": "GRANTED", "adPersonalization": "DENIED"},
        **overrides,
    }


def upload(client: httpx.Client, conversions: list[dict[str, Any]], **body: Any) -> httpx.Response:
    return call(
        client,
        ":uploadClickConversions",
        {"conversions": conversions, "partialFailure": True, **body},
    )


def failure_codes(payload: dict[str, Any]) -> list[dict[str, str]]:
    return [e["errorCode"] for e in payload["details"][0]["errors"]]


def fill(value: Any, names: dict[str, str]) -> Any:
    """Replace placeholder strings (e.g. "BUDGET") with resource names made in the test."""
    if isinstance(value, dict):
        return {key: fill(item, names) for key, item in value.items()}
    return names.get(value, value) if isinstance(value, str) else value


def search(client: httpx.Client, query: str) -> httpx.Response:
    return call(client, "/googleAds:search", {"query": query})


def new_user_list(client: httpx.Client, name: str = "Purchasers") -> str:
    body = {
        "operations": [
            {
                "create": {
                    "name": name,
                    "crmBasedUserList": {"uploadKeyType": "CONTACT_INFO"},
                    "membershipLifeSpan": 30,
                }
            }
        ]
    }
    return call(client, "/userLists:mutate", body).json()["results"][0]["resourceName"]


def new_job(client: httpx.Client, user_list: str) -> str:
    body = {
        "job": {
            "type": "CUSTOMER_MATCH_USER_LIST",
            "customerMatchUserListMetadata": {
                "userList": user_list,
                "consent": {"adUserData": "GRANTED", "adPersonalization": "GRANTED"},
            },
        }
    }
    return call(client, "/offlineUserDataJobs:create", body).json()["resourceName"]


def job_call(client: httpx.Client, job: str, action: str, body: dict[str, Any]) -> httpx.Response:
    return client.post(f"/google-ads/v25/{job}:{action}", headers=google_headers(), json=body)


def new_budget(
    client: httpx.Client, name: str = "Budget A", micros: str = "25000000", shared: bool = False
) -> str:
    response = call(
        client,
        "/campaignBudgets:mutate",
        {
            "operations": [
                {
                    "create": {
                        "name": name,
                        "amountMicros": micros,
                        "deliveryMethod": "STANDARD",
                        "explicitlyShared": shared,
                    }
                }
            ]
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["results"][0]["resourceName"]


def campaign_create(budget: str, name: str = "Search A", **overrides: Any) -> dict[str, Any]:
    return {
        "name": name,
        "advertisingChannelType": "SEARCH",
        "status": "PAUSED",
        "campaignBudget": budget,
        "manualCpc": {},
        "containsEuPoliticalAdvertising": "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING",
        **overrides,
    }


def new_campaign(
    client: httpx.Client, budget: str, name: str = "Search A", **overrides: Any
) -> str:
    create = campaign_create(budget, name, **overrides)
    response = call(client, "/campaigns:mutate", {"operations": [{"create": create}]})
    assert response.status_code == 200, response.text
    return response.json()["results"][0]["resourceName"]
