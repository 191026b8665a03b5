"""Google Ads' 2026 rules, ad review and the Data Manager API stand-in.

Each test shows the real answer: HTTP status, google.rpc status, the GoogleAdsFailure's
`errorCode` ({category: code}) and, where it matters, the field path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from usher.sandbox import SandboxState
from usher.sandbox.tests.conftest import (
    GOOGLE_CUSTOMER,
    TOKEN,
    FakeClock,
    configure,
    google_headers,
    sha,
)
from usher.sandbox.tests.google_helpers import (
    BASE,
    call,
    campaign_create,
    failure_codes,
    job_call,
    new_budget,
    new_campaign,
    new_job,
    new_user_list,
    search,
)

APRIL_2026 = datetime(2026, 4, 2, tzinfo=UTC).timestamp()
DATA_MANAGER = "/data-manager/v1"


def mutate(client: httpx.Client, collection: str, *operations: dict[str, Any]) -> httpx.Response:
    return call(client, f"/{collection}:mutate", {"operations": list(operations)})


def error_of(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()["error"]


def field_path(error: dict[str, Any]) -> list[str]:
    location = error["details"][0]["errors"][0]["location"]["fieldPathElements"]
    return [element["fieldName"] for element in location]


# --- EU political advertising ---


def test_campaigns_must_declare_eu_political_advertising(client: httpx.Client) -> None:
    create = campaign_create(new_budget(client))
    del create["containsEuPoliticalAdvertising"]
    error = error_of(mutate(client, "campaigns", {"create": create}))
    assert (error["status"], failure_codes(error)) == (
        "INVALID_ARGUMENT",
        [{"fieldError": "REQUIRED"}],
    )
    assert field_path(error) == ["operations", "create", "contains_eu_political_advertising"]
    bad = {**create, "containsEuPoliticalAdvertising": "MAYBE"}
    assert failure_codes(error_of(mutate(client, "campaigns", {"create": bad}))) == [
        {"fieldError": "INVALID_VALUE"}
    ]


def legacy_campaign(client: httpx.Client) -> str:
    rows = search(
        client,
        "SELECT campaign.resource_name FROM campaign WHERE campaign.name = 'Legacy campaign 1'",
    ).json()["results"]
    return rows[0]["campaign"]["resourceName"]


def test_from_april_2026_one_undeclared_campaign_blocks_the_accounts_mutates(
    client: httpx.Client, clock: FakeClock
) -> None:
    configure(client, "google_ads", GOOGLE_CUSTOMER, undeclared_campaigns=1)
    budget = new_budget(client)  # before April: only location targeting is refused
    clock.now = APRIL_2026
    error = error_of(mutate(client, "campaigns", {"create": campaign_create(budget)}))
    assert failure_codes(error) == [
        {"mutateError": "EU_POLITICAL_ADVERTISING_DECLARATION_REQUIRED"}
    ]
    blocked = mutate(
        client, "campaignBudgets", {"create": {"name": "B2", "amountMicros": "1000000"}}
    )
    assert failure_codes(error_of(blocked)) == [
        {"mutateError": "EU_POLITICAL_ADVERTISING_DECLARATION_REQUIRED"}
    ]
    legacy = legacy_campaign(client)
    declared = mutate(
        client,
        "campaigns",
        {
            "update": {
                "resourceName": legacy,
                "containsEuPoliticalAdvertising": "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING",
            },
            "updateMask": "containsEuPoliticalAdvertising",
        },
    )
    assert declared.status_code == 200, declared.text
    assert mutate(client, "campaigns", {"create": campaign_create(budget)}).status_code == 200


def test_before_april_2026_an_undeclared_campaign_cannot_target_locations(
    client: httpx.Client,
) -> None:
    configure(client, "google_ads", GOOGLE_CUSTOMER, undeclared_campaigns=1)
    criterion = {
        "create": {
            "campaign": legacy_campaign(client),
            "location": {"geoTargetConstant": "geoTargetConstants/2642"},
        }
    }
    error = error_of(mutate(client, "campaignCriteria", criterion))
    assert failure_codes(error) == [
        {"campaignCriterionError": "MISSING_EU_POLITICAL_ADVERTISING_SELF_DECLARATION"}
    ]
    assert new_campaign(client, new_budget(client))  # other mutates still work


def test_registering_an_account_again_does_not_add_more_legacy_campaigns(
    client: httpx.Client,
) -> None:
    configure(client, "google_ads", GOOGLE_CUSTOMER, undeclared_campaigns=2)
    configure(client, "google_ads", GOOGLE_CUSTOMER, undeclared_campaigns=2)
    rows = search(client, "SELECT campaign.name FROM campaign").json()["results"]
    assert sorted(row["campaign"]["name"] for row in rows) == [
        "Legacy campaign 1",
        "Legacy campaign 2",
    ]


# --- budgets ---


@pytest.mark.parametrize("channel", ["PERFORMANCE_MAX", "DEMAND_GEN"])
def test_performance_max_and_demand_gen_cannot_use_shared_budgets(
    client: httpx.Client, channel: str
) -> None:
    shared = new_budget(client, name="Shared", shared=True)
    create = campaign_create(shared, advertisingChannelType=channel, maximizeConversions={})
    error = error_of(mutate(client, "campaigns", {"create": create}))
    assert failure_codes(error) == [{"campaignError": "CAMPAIGN_CANNOT_USE_SHARED_BUDGET"}]
    own = new_budget(client, name="Own")
    assert new_campaign(client, own, advertisingChannelType=channel, maximizeConversions={})


def test_demand_gen_needs_five_units_a_day(client: httpx.Client) -> None:
    low = new_budget(client, micros="4990000")
    create = campaign_create(low, advertisingChannelType="DEMAND_GEN", maximizeConversions={})
    error = error_of(mutate(client, "campaigns", {"create": create}))
    assert failure_codes(error) == [{"campaignBudgetError": "BUDGET_BELOW_PER_DAY_MINIMUM"}]
    assert error["details"][0]["errors"][0]["details"] == {
        "budgetPerDayMinimumErrorDetails": {
            "budgetPerDayMinimumMicros": "5000000",
            "currencyCode": "EUR",
        }
    }
    budget = new_budget(client, name="Enough", micros="5000000")
    new_campaign(client, budget, advertisingChannelType="DEMAND_GEN", maximizeConversions={})
    lowered = mutate(
        client,
        "campaignBudgets",
        {
            "update": {"resourceName": budget, "amountMicros": "1000000"},
            "updateMask": "amountMicros",
        },
    )
    assert failure_codes(error_of(lowered)) == [
        {"campaignBudgetError": "BUDGET_BELOW_PER_DAY_MINIMUM"}
    ]


# --- request shape and versions ---


def test_an_operation_without_create_update_or_remove_is_a_request_error(
    client: httpx.Client,
) -> None:
    error = error_of(mutate(client, "campaigns", {"updateMask": "name"}))
    assert failure_codes(error) == [{"requestError": "OPERATION_REQUIRED"}]


def test_api_versions_before_v23_are_gone(client: httpx.Client) -> None:
    query = {"query": "SELECT customer.id FROM customer"}
    old = client.post(
        f"/google-ads/v22/customers/{GOOGLE_CUSTOMER}/googleAds:search",
        headers=google_headers(),
        json=query,
    )
    assert (old.status_code, old.json()["error"]["status"]) == (404, "NOT_FOUND")
    current = client.post(
        f"/google-ads/v23/customers/{GOOGLE_CUSTOMER}/googleAds:search",
        headers=google_headers(),
        json=query,
    )
    assert current.status_code == 200


# --- manager accounts ---


def test_a_customer_under_a_manager_needs_its_login_customer_id(client: httpx.Client) -> None:
    configure(client, "google_ads", GOOGLE_CUSTOMER, managers=["1112223334"])
    query = {"query": "SELECT customer.id FROM customer"}
    missing = client.post(f"{BASE}/googleAds:search", headers=google_headers(), json=query)
    error = error_of(missing, 403)
    assert (error["status"], failure_codes(error)) == (
        "PERMISSION_DENIED",
        [{"authorizationError": "USER_PERMISSION_DENIED"}],
    )
    assert "login-customer-id" in error["details"][0]["errors"][0]["message"]
    wrong = client.post(
        f"{BASE}/googleAds:search",
        headers={**google_headers(), "login-customer-id": "9998887777"},
        json=query,
    )
    assert failure_codes(error_of(wrong, 403)) == [
        {"authorizationError": "INVALID_LOGIN_CUSTOMER_ID_SERVING_CUSTOMER_ID_COMBINATION"}
    ]
    right = client.post(
        f"{BASE}/googleAds:search",
        headers={**google_headers(), "login-customer-id": "1112223334"},
        json=query,
    )
    assert right.status_code == 200


# --- Customer Match through the Ads API ---


def test_customer_match_uploads_are_refused_unless_the_developer_is_allowlisted(
    client: httpx.Client,
) -> None:
    user_list = new_user_list(client)
    response = call(
        client,
        "/offlineUserDataJobs:create",
        {
            "job": {
                "type": "CUSTOMER_MATCH_USER_LIST",
                "customerMatchUserListMetadata": {"userList": user_list},
            }
        },
    )
    error = error_of(response, 403)
    assert (error["status"], failure_codes(error)) == (
        "PERMISSION_DENIED",
        [{"notAllowlistedError": "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE"}],
    )
    assert "Data Manager API" in error["details"][0]["errors"][0]["message"]


def test_customer_match_needs_the_customer_data_terms(client: httpx.Client) -> None:
    configure(
        client,
        "google_ads",
        GOOGLE_CUSTOMER,
        customer_match_allowlisted=True,
        accepted_customer_data_terms=False,
    )
    response = call(
        client,
        "/offlineUserDataJobs:create",
        {
            "job": {
                "type": "CUSTOMER_MATCH_USER_LIST",
                "customerMatchUserListMetadata": {"userList": new_user_list(client)},
            }
        },
    )
    assert failure_codes(error_of(response)) == [
        {"offlineUserDataJobError": "CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS"}
    ]


def test_uploads_must_match_the_lists_upload_key_type(client: httpx.Client) -> None:
    configure(client, "google_ads", GOOGLE_CUSTOMER, customer_match_allowlisted=True)
    missing_key = mutate(client, "userLists", {"create": {"name": "L", "crmBasedUserList": {}}})
    assert failure_codes(error_of(missing_key)) == [{"fieldError": "REQUIRED"}]
    crm_list = mutate(
        client,
        "userLists",
        {"create": {"name": "CRM ids", "crmBasedUserList": {"uploadKeyType": "CRM_ID"}}},
    ).json()["results"][0]["resourceName"]
    job = new_job(client, crm_list)
    operations = [{"create": {"userIdentifiers": [{"hashedEmail": sha("a@x.io")}]}}]
    error = error_of(job_call(client, job, "addOperations", {"operations": operations}))
    assert failure_codes(error) == [{"offlineUserDataJobError": "INCOMPATIBLE_UPLOAD_KEY_TYPE"}]
    ids = [{"create": {"userIdentifiers": [{"thirdPartyUserId": "buyer-1"}]}}]
    assert job_call(client, job, "addOperations", {"operations": ids}).status_code == 200


# --- ad review ---


def new_ad(client: httpx.Client) -> None:
    campaign = new_campaign(client, new_budget(client))
    ad_group = mutate(client, "adGroups", {"create": {"name": "G", "campaign": campaign}}).json()[
        "results"
    ][0]["resourceName"]
    ad = {"adGroup": ad_group, "ad": {"finalUrls": ["https://t.example"]}}
    assert mutate(client, "adGroupAds", {"create": ad}).status_code == 200


def policy_summary(client: httpx.Client) -> dict[str, Any]:
    query = "SELECT ad_group_ad.policy_summary FROM ad_group_ad"
    return search(client, query).json()["results"][0]["adGroupAd"]["policySummary"]


def test_new_ads_are_reviewed_before_they_are_approved(
    client: httpx.Client, clock: FakeClock
) -> None:
    new_ad(client)
    assert policy_summary(client) == {
        "reviewStatus": "REVIEW_IN_PROGRESS",
        "approvalStatus": "UNKNOWN",
    }
    clock.advance(3600)
    assert policy_summary(client) == {"reviewStatus": "REVIEWED", "approvalStatus": "APPROVED"}


def test_an_account_can_have_its_ads_disapproved(client: httpx.Client) -> None:
    configure(
        client, "google_ads", GOOGLE_CUSTOMER, ad_review_outcome="disapprove", ad_review_seconds=0
    )
    new_ad(client)
    summary = policy_summary(client)
    assert summary["approvalStatus"] == "DISAPPROVED"
    assert summary["policyTopicEntries"][0]["type"] == "PROHIBITED"


# --- the Data Manager API stand-in ---


def destination(product_id: str) -> dict[str, Any]:
    return {
        "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": GOOGLE_CUSTOMER},
        "productDestinationId": product_id,
    }


def members_body(list_id: str, *emails: str, **extra: Any) -> dict[str, Any]:
    return {
        "destinations": [destination(list_id)],
        "audienceMembers": [
            {"userData": {"userIdentifiers": [{"emailAddress": sha(email)}]}} for email in emails
        ],
        "encoding": "HEX",
        "termsOfService": {"customerMatchTermsOfServiceStatus": "ACCEPTED"},
        "consent": {"adUserData": "CONSENT_GRANTED", "adPersonalization": "CONSENT_GRANTED"},
        **extra,
    }


def data_manager(
    client: httpx.Client, method: str, body: Any, token: str = TOKEN
) -> httpx.Response:
    return client.post(
        f"{DATA_MANAGER}/{method}", headers={"Authorization": f"Bearer {token}"}, json=body
    )


def test_the_data_manager_api_adds_and_removes_customer_match_members(
    client: httpx.Client, state: SandboxState
) -> None:
    list_id = new_user_list(client).rsplit("/", 1)[1]
    added = data_manager(
        client, "audienceMembers:ingest", members_body(list_id, "a@x.io", "b@x.io")
    )
    assert added.status_code == 200 and set(added.json()) == {"requestId"}
    members = state.members_of("google_ads", f"userLists:{GOOGLE_CUSTOMER}:{list_id}")
    assert members == {f"hashed_email:{sha('a@x.io')}", f"hashed_email:{sha('b@x.io')}"}
    removed = data_manager(client, "audienceMembers:remove", members_body(list_id, "a@x.io"))
    assert removed.status_code == 200
    assert members == {f"hashed_email:{sha('b@x.io')}"}
    checked = data_manager(
        client, "audienceMembers:ingest", members_body(list_id, "c@x.io", validateOnly=True)
    )
    assert checked.status_code == 200 and len(members) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"termsOfService": {}}, "terms_of_service.customer_match_terms_of_service_status"),
        ({"audienceMembers": []}, "audience_members"),
        (
            {"audienceMembers": [{"userData": {"userIdentifiers": [{"emailAddress": "a@x.io"}]}}]},
            "audience_members[0].user_data.user_identifiers[0].email_address",
        ),
        ({"consent": {"adUserData": "YES"}}, "consent"),
    ],
)
def test_bad_data_manager_uploads_name_the_field(
    client: httpx.Client, change: dict[str, Any], field: str
) -> None:
    list_id = new_user_list(client).rsplit("/", 1)[1]
    response = data_manager(
        client, "audienceMembers:ingest", {**members_body(list_id, "a@x.io"), **change}
    )
    error = error_of(response)
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["fieldViolations"][0]["field"] == field


def test_the_data_manager_api_takes_only_customer_match_lists_and_valid_tokens(
    client: httpx.Client,
) -> None:
    refused = data_manager(client, "audienceMembers:ingest", members_body("123", "a@x.io"))
    assert error_of(refused)["details"][0]["fieldViolations"][0]["field"] == (
        "destinations[0].product_destination_id"
    )
    list_id = new_user_list(client).rsplit("/", 1)[1]
    bad_token = data_manager(
        client, "audienceMembers:ingest", members_body(list_id, "a@x.io"), token="nope"
    )
    assert error_of(bad_token, 401)["status"] == "UNAUTHENTICATED"


def test_the_data_manager_api_ingests_conversion_events(client: httpx.Client) -> None:
    body = {
        "destinations": [destination("555")],
        "events": [
            {
                "transactionId": "order-1",
                "eventTimestamp": "2026-01-01T11:00:00Z",
                "conversionValue": 50.0,
                "currency": "EUR",
                "adIdentifiers": {"gclid": "Cj0KCQiA-sandbox-gclid"},
                "consent": {"adUserData": "CONSENT_GRANTED"},
            }
        ],
        "encoding": "HEX",
    }
    assert data_manager(client, "events:ingest", body).status_code == 200
    events = client.get("/_sandbox/events", params={"platform": "google_ads"}).json()["events"]
    assert [(e["event_name"], e["event_id"]) for e in events] == [
        ("conversionActions/555", "order-1")
    ]
    anonymous = {**body, "events": [{"eventTimestamp": "2026-01-01T11:00:00Z"}]}
    assert (
        error_of(data_manager(client, "events:ingest", anonymous))["details"][0]["fieldViolations"][
            0
        ]["field"]
        == "events[0]"
    )
