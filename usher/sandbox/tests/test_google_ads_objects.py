"""Google Ads REST: Customer Match jobs, budgets/campaigns/ad groups, GAQL search."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from usher.sandbox.tests.conftest import GOOGLE_CUSTOMER, configure, sha
from usher.sandbox.tests.google_helpers import (
    call,
    failure_codes,
    fill,
    job_call,
    new_budget,
    new_campaign,
    new_job,
    new_user_list,
    search,
)

# --- Customer Match ---


def test_customer_match_job_adds_members_after_it_runs(client: httpx.Client) -> None:
    configure(client, "google_ads", GOOGLE_CUSTOMER, customer_match_allowlisted=True)
    user_list = new_user_list(client)
    job = new_job(client, user_list)
    operations = [
        {
            "create": {
                "userIdentifiers": [
                    {"hashedEmail": sha("a@example.com")},
                    {"hashedPhoneNumber": sha("+40712345678")},
                ]
            }
        },
        {"create": {"userIdentifiers": [{"hashedEmail": "b@example.com"}]}},
        {
            "create": {
                "userIdentifiers": [
                    {
                        "addressInfo": {
                            "hashedFirstName": sha("ana"),
                            "countryCode": "RO",
                            "postalCode": "010101",
                        }
                    }
                ]
            }
        },
    ]
    added = job_call(
        client, job, "addOperations", {"operations": operations, "enablePartialFailure": True}
    ).json()
    assert failure_codes(added["partialFailureError"]) == [
        {"offlineUserDataJobError": "INVALID_SHA256_FORMAT"}
    ]
    assert (
        job_call(client, job, "run", {})
        .json()["name"]
        .startswith(f"customers/{GOOGLE_CUSTOMER}/operations/")
    )
    rows = search(client, "SELECT user_list.id, user_list.size_for_search FROM user_list").json()[
        "results"
    ]
    assert rows[0]["userList"]["sizeForSearch"] == "3"
    status = search(
        client, "SELECT offline_user_data_job.status FROM offline_user_data_job"
    ).json()["results"]
    assert status[0]["offlineUserDataJob"]["status"] == "SUCCESS"
    again = job_call(client, job, "addOperations", {"operations": operations[:1]})
    assert failure_codes(again.json()["error"]) == [
        {"offlineUserDataJobError": "JOB_ALREADY_STARTED"}
    ]


def test_customer_match_rejects_bad_jobs_and_operations(client: httpx.Client) -> None:
    configure(client, "google_ads", GOOGLE_CUSTOMER, customer_match_allowlisted=True)
    unknown_list = call(
        client,
        "/offlineUserDataJobs:create",
        {
            "job": {
                "type": "CUSTOMER_MATCH_USER_LIST",
                "customerMatchUserListMetadata": {
                    "userList": f"customers/{GOOGLE_CUSTOMER}/userLists/1"
                },
            }
        },
    )
    assert failure_codes(unknown_list.json()["error"]) == [
        {"offlineUserDataJobError": "INVALID_USER_LIST_ID"}
    ]
    job = new_job(client, new_user_list(client))
    too_many = [{"create": {"userIdentifiers": [{"hashedEmail": sha(str(n))} for n in range(21)]}}]
    whole = job_call(client, job, "addOperations", {"operations": too_many})
    assert whole.status_code == 400
    assert failure_codes(whole.json()["error"]) == [
        {"offlineUserDataJobError": "TOO_MANY_USER_IDENTIFIERS"}
    ]
    late_remove_all = [
        {"create": {"userIdentifiers": [{"hashedEmail": sha("x")}]}},
        {"removeAll": True},
    ]
    order = job_call(client, job, "addOperations", {"operations": late_remove_all})
    assert failure_codes(order.json()["error"]) == [
        {"offlineUserDataJobError": "INVALID_OPERATION_ORDER"}
    ]


# --- budgets and campaigns ---


def test_campaigns_and_budgets_keep_their_status_and_amount(client: httpx.Client) -> None:
    budget = new_budget(client)
    campaign = new_campaign(client, budget)
    enable = {
        "operations": [
            {"update": {"resourceName": campaign, "status": "ENABLED"}, "updateMask": "status"}
        ]
    }
    assert call(client, "/campaigns:mutate", enable).json() == {
        "results": [{"resourceName": campaign}]
    }
    raise_budget = {
        "operations": [
            {
                "update": {"resourceName": budget, "amountMicros": "40000000"},
                "updateMask": "amountMicros",
            }
        ]
    }
    assert call(client, "/campaignBudgets:mutate", raise_budget).status_code == 200
    row = search(
        client, "SELECT campaign.id, campaign.status, campaign_budget.amount_micros FROM campaign"
    ).json()["results"][0]
    assert row["campaign"] == {
        "resourceName": campaign,
        "id": campaign.rsplit("/", 1)[1],
        "status": "ENABLED",
    }
    assert row["campaignBudget"] == {"resourceName": budget, "amountMicros": "40000000"}


@pytest.mark.parametrize(
    ("collection", "operation", "code"),
    [
        (
            "campaignBudgets",
            {"create": {"name": "B", "amountMicros": "1234567"}},
            {"campaignBudgetError": "NON_MULTIPLE_OF_MINIMUM_CURRENCY_UNIT"},
        ),
        (
            "campaignBudgets",
            {"create": {"name": "B", "amountMicros": "0"}},
            {"rangeError": "TOO_LOW"},
        ),
        ("campaignBudgets", {"create": {"amountMicros": "1000000"}}, {"fieldError": "REQUIRED"}),
        (
            "campaignBudgets",
            {"create": {"name": "Budget A", "amountMicros": "1000000"}},
            {"campaignBudgetError": "DUPLICATE_NAME"},
        ),
        (
            "campaigns",
            {
                "create": {
                    "name": "C",
                    "advertisingChannelType": "SEARCH",
                    "campaignBudget": "BUDGET",
                    "status": "PAUSED",
                }
            },
            {"fieldError": "REQUIRED"},
        ),
        (
            "campaigns",
            {
                "create": {
                    "name": "C",
                    "advertisingChannelType": "TELEVISION",
                    "campaignBudget": "BUDGET",
                    "manualCpc": {},
                }
            },
            {"fieldError": "INVALID_VALUE"},
        ),
        (
            "campaigns",
            {
                "create": {
                    "name": "C",
                    "advertisingChannelType": "SEARCH",
                    "campaignBudget": f"customers/{GOOGLE_CUSTOMER}/campaignBudgets/9",
                    "manualCpc": {},
                }
            },
            {"mutateError": "RESOURCE_NOT_FOUND"},
        ),
        (
            "campaigns",
            {"update": {"resourceName": "CAMPAIGN", "status": "PAUSED"}},
            {"fieldMaskError": "FIELD_MASK_MISSING"},
        ),
        (
            "campaigns",
            {"remove": f"customers/{GOOGLE_CUSTOMER}/campaigns/1"},
            {"mutateError": "RESOURCE_NOT_FOUND"},
        ),
        (
            "userLists",
            {"create": {"name": "L", "membershipLifeSpan": 541}},
            {"rangeError": "TOO_HIGH"},
        ),
    ],
)
def test_invalid_mutate_operations_fail_with_googles_codes(
    client: httpx.Client, collection: str, operation: dict[str, Any], code: dict[str, str]
) -> None:
    budget = new_budget(client)
    campaign = new_campaign(client, budget)
    operation = fill(operation, {"BUDGET": budget, "CAMPAIGN": campaign})
    response = call(client, f"/{collection}:mutate", {"operations": [operation]})
    assert response.status_code == 400
    assert failure_codes(response.json()["error"]) == [code]


def test_partial_failure_mutates_keep_the_good_operations(client: httpx.Client) -> None:
    body = {
        "operations": [
            {"create": {"name": "Good", "amountMicros": "5000000"}},
            {"create": {"name": "Bad", "amountMicros": "5"}},
        ],
        "partialFailure": True,
    }
    answer = call(client, "/campaignBudgets:mutate", body).json()
    assert answer["results"][1] == {} and answer["results"][0]["resourceName"].startswith(
        f"customers/{GOOGLE_CUSTOMER}/campaignBudgets/"
    )
    assert answer["partialFailureError"]["code"] == 3


def test_removed_campaigns_stay_readable_with_status_removed(client: httpx.Client) -> None:
    campaign = new_campaign(client, new_budget(client))
    call(client, "/campaigns:mutate", {"operations": [{"remove": campaign}]})
    rows = search(
        client, "SELECT campaign.status FROM campaign WHERE campaign.status = 'REMOVED'"
    ).json()["results"]
    assert rows[0]["campaign"]["status"] == "REMOVED"
    assert (
        "results"
        not in search(
            client, "SELECT campaign.status FROM campaign WHERE campaign.status != 'REMOVED'"
        ).json()
    )


# --- GAQL search ---


def test_search_answers_zero_metrics_per_day_with_int64_as_strings(client: httpx.Client) -> None:
    new_campaign(client, new_budget(client))
    query = "SELECT campaign.id, metrics.impressions, metrics.cost_micros, metrics.conversions, segments.date FROM campaign WHERE segments.date DURING LAST_7_DAYS"
    body = search(client, query).json()
    assert (
        body["fieldMask"]
        == "campaign.id,metrics.impressions,metrics.costMicros,metrics.conversions,segments.date"
    )
    assert [r["segments"]["date"] for r in body["results"]] == [
        f"2025-12-{d}" for d in range(25, 32)
    ]
    assert body["results"][0]["metrics"] == {
        "impressions": "0",
        "costMicros": "0",
        "conversions": 0.0,
    }


def test_search_filters_orders_and_limits(client: httpx.Client) -> None:
    budget = new_budget(client)
    for name in ("Alpha", "Bravo", "Charlie"):
        new_campaign(client, budget, name=name)
    query = "SELECT campaign.name FROM campaign WHERE campaign.status IN ('PAUSED', 'ENABLED') AND campaign.name LIKE '%a%' ORDER BY campaign.name DESC LIMIT 2"
    names = [r["campaign"]["name"] for r in search(client, query).json()["results"]]
    assert names == ["Charlie", "Bravo"]
    stream = call(
        client, "/googleAds:searchStream", {"query": "SELECT campaign.name FROM campaign"}
    ).json()
    assert isinstance(stream, list) and len(stream[0]["results"]) == 3


def test_search_reads_customer_settings(client: httpx.Client) -> None:
    rows = search(
        client,
        "SELECT customer.id, customer.currency_code, customer.conversion_tracking_setting.accepted_customer_data_terms FROM customer",
    ).json()["results"]
    assert rows[0]["customer"] == {
        "resourceName": f"customers/{GOOGLE_CUSTOMER}",
        "id": GOOGLE_CUSTOMER,
        "currencyCode": "EUR",
        "conversionTrackingSetting": {"acceptedCustomerDataTerms": True},
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (
            {"query": "SELECT campaign.id FROM campaign, segments.date"},
            {"queryError": "UNEXPECTED_INPUT"},
        ),
        ({"query": "FROM campaign"}, {"queryError": "EXPECTED_SELECT"}),
        (
            {"query": "SELECT campaign.id FROM spaceship"},
            {"queryError": "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"},
        ),
        (
            {"query": "SELECT campaign.id, metrics.happiness FROM campaign"},
            {"queryError": "UNRECOGNIZED_FIELD"},
        ),
        (
            {"query": "SELECT metrics.clicks, segments.date FROM campaign"},
            {"queryError": "EXPECTED_FILTERS_ON_DATE_RANGE"},
        ),
        (
            {"query": "SELECT user_list.id, metrics.clicks FROM user_list"},
            {"queryError": "PROHIBITED_METRIC_IN_SELECT_OR_WHERE_CLAUSE"},
        ),
        (
            {"query": "SELECT campaign.id FROM campaign", "pageSize": 100},
            {"requestError": "PAGE_SIZE_NOT_SUPPORTED"},
        ),
    ],
)
def test_bad_queries_fail_with_query_errors(
    client: httpx.Client, body: dict[str, Any], code: dict[str, str]
) -> None:
    response = call(client, "/googleAds:search", body)
    assert response.status_code == 400
    assert failure_codes(response.json()["error"]) == [code]


def test_ad_groups_ads_and_criteria_hang_under_their_campaign(client: httpx.Client) -> None:
    campaign = new_campaign(client, new_budget(client))
    ad_group = call(
        client,
        "/adGroups:mutate",
        {
            "operations": [
                {
                    "create": {
                        "name": "Concert fans",
                        "campaign": campaign,
                        "status": "ENABLED",
                        "cpcBidMicros": "500000",
                    }
                }
            ]
        },
    ).json()["results"][0]["resourceName"]
    ad = {
        "adGroup": ad_group,
        "status": "PAUSED",
        "ad": {
            "finalUrls": ["https://tickets.example/e/1"],
            "responsiveSearchAd": {"headlines": [{"text": "Live"}]},
        },
    }
    ad_name = call(client, "/adGroupAds:mutate", {"operations": [{"create": ad}]}).json()[
        "results"
    ][0]["resourceName"]
    assert ad_name.split("/")[-1].startswith(ad_group.rsplit("/", 1)[1] + "~")
    criterion = {"adGroup": ad_group, "keyword": {"text": "concert tickets", "matchType": "PHRASE"}}
    assert (
        call(client, "/adGroupCriteria:mutate", {"operations": [{"create": criterion}]}).status_code
        == 200
    )
    rows = search(
        client, "SELECT ad_group_ad.status, ad_group.name, campaign.name FROM ad_group_ad"
    ).json()["results"]
    assert rows[0]["adGroupAd"]["status"] == "PAUSED"
    assert (rows[0]["adGroup"]["name"], rows[0]["campaign"]["name"]) == ("Concert fans", "Search A")
    orphan = call(
        client,
        "/adGroups:mutate",
        {
            "operations": [
                {"create": {"name": "x", "campaign": f"customers/{GOOGLE_CUSTOMER}/campaigns/1"}}
            ]
        },
    )
    assert failure_codes(orphan.json()["error"]) == [{"mutateError": "RESOURCE_NOT_FOUND"}]
