"""Meta custom audiences, campaigns/ad sets/creatives/ads and insights."""

from __future__ import annotations

import base64
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from usher.sandbox import Metrics, SandboxState
from usher.sandbox.metrics import ZeroMetrics
from usher.sandbox.tests.conftest import META_AD_ACCOUNT, META_PIXEL, TOKEN, FakeClock, sha

G = "/meta/v25.0"
ACT = f"{G}/act_{META_AD_ACCOUNT}"
AUTH = {"access_token": TOKEN}
TARGETING = {"geo_locations": {"countries": ["RO"]}, "age_min": 18, "age_max": 45}


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
        **overrides,
    }


def new_adset(client: httpx.Client, campaign_id: str, **overrides: Any) -> str:
    response = post(client, f"{ACT}/adsets", adset_body(campaign_id, **overrides))
    assert response.status_code == 200, response.text
    return response.json()["id"]


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    return response.json()["error"]


# --- custom audiences ---


def test_users_are_added_and_removed_and_unhashed_rows_counted_invalid(
    client: httpx.Client,
) -> None:
    audience_id = new_audience(client)
    rows = [sha("a@example.com"), sha("b@example.com"), "c@example.com"]
    added = post(
        client,
        f"{G}/{audience_id}/users",
        {
            "payload": {"schema": "EMAIL_SHA256", "data": rows},
            "session": {"session_id": 9, "batch_seq": 1, "last_batch_flag": True},
        },
    ).json()
    assert added["audience_id"] == audience_id and added["session_id"] == "9"
    assert (added["num_received"], added["num_invalid_entries"]) == (3, 1)
    assert list(added["invalid_entry_samples"].values()) == ["EMAIL_SHA256: not a SHA-256 hash"]
    removed = client.request(
        "DELETE",
        f"{G}/{audience_id}/users",
        params=AUTH,
        json={"payload": {"schema": "EMAIL_SHA256", "data": rows[:1]}},
    )
    assert removed.json()["num_received"] == 1
    read = get(client, f"{G}/{audience_id}", fields="approximate_count_lower_bound,subtype").json()
    assert read == {"id": audience_id, "approximate_count_lower_bound": 1, "subtype": "CUSTOM"}


def test_multi_key_schemas_need_hashes_only_where_meta_hashes(client: httpx.Client) -> None:
    audience_id = new_audience(client)
    body = {
        "payload": {
            "schema": ["EXTERN_ID", "EMAIL", "COUNTRY"],
            "data": [
                ["ext-1", sha("a@example.com"), sha("ro")],
                ["ext-2", "b@example.com", sha("ro")],
                ["ext-3", sha("c@x.io")],
            ],
        }
    }
    answer = post(client, f"{G}/{audience_id}/users", body).json()
    assert (answer["num_received"], answer["num_invalid_entries"]) == (3, 2)


@pytest.mark.parametrize(
    ("body", "title"),
    [
        ({"payload": {"schema": "EMAIL_SHA256"}}, "Missing data"),
        ({"payload": {"schema": "SHOE_SIZE", "data": ["x"]}}, "Invalid schema"),
        ({"payload": {"schema": ["EMAIL", "SHOE"], "data": [["x", "y"]]}}, "Invalid schema"),
        ({"data": ["x"]}, "Missing payload"),
        ({"payload": {"schema": "EMAIL_SHA256", "data": [sha("x")] * 10_001}}, "Too Many Users"),
        (
            {
                "payload": {"schema": "EMAIL_SHA256", "data": [sha("x")]},
                "session": {"session_id": "abc"},
            },
            "Invalid session",
        ),
    ],
)
def test_bad_user_uploads_are_rejected(
    client: httpx.Client, body: dict[str, Any], title: str
) -> None:
    audience_id = new_audience(client)
    assert error_of(post(client, f"{G}/{audience_id}/users", body))["error_user_title"] == title


def test_audience_creation_needs_a_name_and_a_file_source(client: httpx.Client) -> None:
    assert (
        error_of(post(client, f"{ACT}/customaudiences", {"subtype": "CUSTOM"}))["error_user_title"]
        == "Missing name"
    )
    no_source = post(client, f"{ACT}/customaudiences", {"name": "x", "subtype": "CUSTOM"})
    assert error_of(no_source)["error_user_title"] == "Invalid customer_file_source"
    website = post(
        client,
        f"{ACT}/customaudiences",
        {
            "name": "Visitors",
            "rule": {"inclusions": {"operator": "or", "rules": []}},
            "retention_days": 30,
        },
    )
    assert website.status_code == 200


def test_lookalikes_need_a_big_enough_custom_seed_and_a_country(client: httpx.Client) -> None:
    small = new_audience(client, size=99)
    spec = {"country": "RO", "ratio": 0.01}
    body = {"name": "LAL", "subtype": "LOOKALIKE", "lookalike_spec": spec}
    assert (
        error_of(post(client, f"{ACT}/customaudiences", {**body, "origin_audience_id": small}))[
            "error_user_title"
        ]
        == "Source Audience Too Small"
    )
    seed = new_audience(client, size=100)
    assert (
        error_of(
            post(
                client,
                f"{ACT}/customaudiences",
                {**body, "origin_audience_id": seed, "lookalike_spec": {"ratio": 0.01}},
            )
        )["error_user_title"]
        == "Invalid lookalike_spec"
    )
    assert (
        error_of(
            post(
                client,
                f"{ACT}/customaudiences",
                {
                    **body,
                    "origin_audience_id": seed,
                    "lookalike_spec": {"country": "RO", "ratio": 0.5},
                },
            )
        )["error_user_title"]
        == "Invalid lookalike_spec"
    )
    lookalike = post(client, f"{ACT}/customaudiences", {**body, "origin_audience_id": seed}).json()[
        "id"
    ]
    nested = post(client, f"{ACT}/customaudiences", {**body, "origin_audience_id": lookalike})
    assert "cannot be the source" in error_of(nested)["error_user_msg"]
    no_users = post(
        client,
        f"{G}/{lookalike}/users",
        {"payload": {"schema": "EMAIL_SHA256", "data": [sha("x")]}},
    )
    assert error_of(no_users)["error_user_title"] == "Audience Does Not Take Users"


def test_users_of_an_unknown_audience_are_refused_as_a_missing_object(client: httpx.Client) -> None:
    error = error_of(
        post(
            client,
            f"{G}/120299999999999999/users",
            {"payload": {"schema": "EMAIL_SHA256", "data": [sha("x")]}},
        )
    )
    assert (error["code"], error["error_subcode"]) == (100, 33)


# --- campaigns, ad sets, creatives, ads ---


def test_a_campaign_keeps_its_fields_and_budgets_read_back_as_strings(client: httpx.Client) -> None:
    campaign_id = new_campaign(client, daily_budget=5000, bid_strategy="LOWEST_COST_WITHOUT_CAP")
    assert get(client, f"{G}/{campaign_id}").json() == {
        "id": campaign_id
    }  # Graph: id unless fields=
    read = get(
        client,
        f"{G}/{campaign_id}",
        fields="name,objective,status,effective_status,daily_budget,account_id",
    ).json()
    assert read == {
        "id": campaign_id,
        "name": "Concert prospecting",
        "objective": "OUTCOME_SALES",
        "status": "PAUSED",
        "effective_status": "PAUSED",
        "daily_budget": "5000",
        "account_id": META_AD_ACCOUNT,
    }
    assert error_of(get(client, f"{G}/{campaign_id}", fields="name,colour"))["message"].startswith(
        "(#100) Tried accessing nonexisting field (colour)"
    )


@pytest.mark.parametrize(
    ("overrides", "title"),
    [
        ({"special_ad_categories": None}, "Missing special_ad_categories"),
        ({"objective": "WIN_THE_LOTTERY"}, "Invalid objective"),
        ({"name": ""}, "Missing name"),
        ({"status": "DELETED"}, "Invalid status"),
        ({"daily_budget": 100, "lifetime_budget": 1000}, "Only One Budget Allowed"),
        ({"daily_budget": "12.50"}, "Invalid daily_budget"),
    ],
)
def test_an_invalid_campaign_is_rejected(
    client: httpx.Client, overrides: dict[str, Any], title: str
) -> None:
    body = {"name": "x", "objective": "OUTCOME_SALES", "special_ad_categories": [], **overrides}
    body = {k: v for k, v in body.items() if v is not None}
    assert error_of(post(client, f"{ACT}/campaigns", body))["error_user_title"] == title


@pytest.mark.parametrize(
    ("overrides", "title"),
    [
        ({"targeting": None}, "Missing targeting"),
        ({"targeting": {"geo_locations": {}}}, "Missing Location"),
        ({"targeting": {"geo_locations": {"countries": ["Romania"]}}}, "Invalid Country"),
        ({"targeting": {**TARGETING, "age_min": 70}}, "Invalid Age Range"),
        (
            {"targeting": {**TARGETING, "custom_audiences": [{"id": "404"}]}},
            "Invalid Custom Audience",
        ),
        ({"daily_budget": None}, "Missing Budget"),
        ({"daily_budget": None, "lifetime_budget": 10000}, "Missing End Time"),
        ({"promoted_object": None}, "Missing promoted_object"),
        ({"billing_event": "HUGS"}, "Invalid billing_event"),
        ({"bid_strategy": "COST_CAP"}, "Invalid bid_amount"),
        ({"campaign_id": "1"}, "Invalid Campaign"),
    ],
)
def test_an_invalid_ad_set_is_rejected(
    client: httpx.Client, overrides: dict[str, Any], title: str
) -> None:
    campaign_id = new_campaign(client)
    body = {k: v for k, v in adset_body(campaign_id, **overrides).items() if v is not None}
    assert error_of(post(client, f"{ACT}/adsets", body))["error_user_title"] == title


def test_a_budget_on_both_campaign_and_ad_set_is_rejected_with_subcode_1885621(
    client: httpx.Client,
) -> None:
    campaign_id = new_campaign(client, daily_budget=10000)
    error = error_of(post(client, f"{ACT}/adsets", adset_body(campaign_id)))
    assert error["error_subcode"] == 1885621
    body = {k: v for k, v in adset_body(campaign_id).items() if k != "daily_budget"}
    assert post(client, f"{ACT}/adsets", body).status_code == 200


def test_creatives_need_an_uploaded_image_and_ads_need_a_creative(client: httpx.Client) -> None:
    spec = {
        "page_id": "1000",
        "link_data": {
            "link": "https://tickets.example/e/1",
            "message": "Live!",
            "image_hash": "abc",
            "call_to_action": {"type": "BUY_TICKETS"},
        },
    }
    assert (
        error_of(post(client, f"{ACT}/adcreatives", {"name": "c", "object_story_spec": spec}))[
            "error_user_title"
        ]
        == "Invalid Image"
    )
    uploaded = post(
        client, f"{ACT}/adimages", {"bytes": base64.b64encode(b"\x89PNG fake").decode()}
    ).json()
    image_hash = uploaded["images"]["bytes"]["hash"]
    spec["link_data"]["image_hash"] = image_hash
    creative_id = post(
        client, f"{ACT}/adcreatives", {"name": "c", "object_story_spec": spec}
    ).json()["id"]

    adset_id = new_adset(client, new_campaign(client))
    assert (
        error_of(
            post(
                client,
                f"{ACT}/ads",
                {"name": "ad", "adset_id": adset_id, "creative": {"creative_id": "1"}},
            )
        )["error_user_title"]
        == "Invalid Creative"
    )
    ad_id = post(
        client,
        f"{ACT}/ads",
        {
            "name": "ad",
            "adset_id": adset_id,
            "creative": {"creative_id": creative_id},
            "status": "ACTIVE",
        },
    ).json()["id"]
    ad = get(client, f"{G}/{ad_id}", fields="creative,campaign_id,effective_status").json()
    assert ad["creative"] == {"id": creative_id}
    assert ad["effective_status"] == "ADSET_PAUSED"  # its ad set was created PAUSED


def test_status_and_budget_updates_are_kept(client: httpx.Client) -> None:
    adset_id = new_adset(client, new_campaign(client))
    assert post(client, f"{G}/{adset_id}", {"status": "ACTIVE", "daily_budget": 3500}).json() == {
        "success": True
    }
    read = get(client, f"{G}/{adset_id}", fields="status,daily_budget,effective_status").json()
    assert (read["status"], read["daily_budget"], read["effective_status"]) == (
        "ACTIVE",
        "3500",
        "CAMPAIGN_PAUSED",
    )
    assert (
        error_of(post(client, f"{G}/{adset_id}", {"colour": "red"}))["error_user_title"]
        == "Invalid Parameter"
    )
    assert (
        error_of(post(client, f"{G}/{adset_id}", {"lifetime_budget": 100}))["error_user_title"]
        == "Budget Type Fixed"
    )


def test_a_fifth_budget_change_within_an_hour_is_refused_with_code_17(
    client: httpx.Client, clock: FakeClock
) -> None:
    adset_id = new_adset(client, new_campaign(client))
    for budget in (2100, 2200, 2300, 2400):
        assert post(client, f"{G}/{adset_id}", {"daily_budget": budget}).status_code == 200
    assert (
        post(client, f"{G}/{adset_id}", {"status": "ACTIVE"}).status_code == 200
    )  # not a budget change
    error = error_of(post(client, f"{G}/{adset_id}", {"daily_budget": 2500}))
    assert (error["code"], error["is_transient"]) == (17, True)
    clock.advance(3601)
    assert post(client, f"{G}/{adset_id}", {"daily_budget": 2500}).status_code == 200


def test_deleted_objects_leave_the_listing_and_cannot_be_edited(client: httpx.Client) -> None:
    ids = [new_campaign(client, name=f"Campaign {n}") for n in range(3)]
    assert client.delete(f"{G}/{ids[0]}", params=AUTH).json() == {"success": True}
    listed = get(client, f"{ACT}/campaigns", fields="name,status").json()
    assert [c["id"] for c in listed["data"]] == ids[1:]
    assert (
        error_of(post(client, f"{G}/{ids[0]}", {"name": "back"}))["error_user_title"]
        == "Object Deleted"
    )
    with_deleted = get(client, f"{ACT}/campaigns", effective_status='["DELETED"]').json()
    assert [c["id"] for c in with_deleted["data"]] == ids[:1]


def test_listings_are_cursor_paged(client: httpx.Client) -> None:
    ids = [new_campaign(client, name=f"Campaign {n}") for n in range(3)]
    first = get(client, f"{ACT}/campaigns", limit=2).json()
    assert [c["id"] for c in first["data"]] == ids[:2] and "next" in first["paging"]
    second = get(
        client, f"{ACT}/campaigns", limit=2, after=first["paging"]["cursors"]["after"]
    ).json()
    assert [c["id"] for c in second["data"]] == ids[2:] and "next" not in second["paging"]


def test_the_ad_account_reads_back_its_registered_currency(client: httpx.Client) -> None:
    client.post(
        "/_sandbox/accounts",
        json={"platform": "meta", "account_id": META_AD_ACCOUNT, "settings": {"currency": "RON"}},
    )
    assert get(client, ACT, fields="currency,account_status").json() == {
        "id": f"act_{META_AD_ACCOUNT}",
        "currency": "RON",
        "account_status": 1,
    }


# --- insights ---


def test_insights_answer_empty_data_when_nothing_delivered(client: httpx.Client) -> None:
    campaign_id = new_campaign(client)
    answer = get(
        client,
        f"{ACT}/insights",
        level="campaign",
        fields="campaign_id,impressions,spend,clicks",
        time_range='{"since":"2025-12-01","until":"2025-12-03"}',
        time_increment=1,
    ).json()
    assert answer["data"] == []
    assert get(client, f"{G}/{campaign_id}/insights", date_preset="last_7d").json()["data"] == []


def test_insights_read_the_metrics_source_seam(client: httpx.Client, state: SandboxState) -> None:
    class OneSale(ZeroMetrics):
        def metrics_for(
            self, platform: str, account: str, object_type: str, object_id: str, day: date
        ) -> Metrics:
            return Metrics(
                impressions=1000,
                reach=800,
                clicks=20,
                spend=Decimal("10"),
                conversions=1,
                conversion_value=Decimal("50"),
            )

    state.metrics = OneSale()
    campaign_id = new_campaign(client)
    row = get(
        client,
        f"{G}/{campaign_id}/insights",
        date_preset="yesterday",
        fields="spend,actions,purchase_roas,ctr",
    ).json()["data"][0]
    assert row["spend"] == "10.00" and row["ctr"] == "2"
    assert {"action_type": "omni_purchase", "value": "1"} in row["actions"]
    assert row["purchase_roas"] == [{"action_type": "omni_purchase", "value": "5.0000"}]


def test_insights_reject_unknown_fields_presets_and_levels(client: httpx.Client) -> None:
    campaign_id = new_campaign(client)
    assert (
        "not valid for fields"
        in error_of(get(client, f"{ACT}/insights", fields="vibes"))["message"]
    )
    assert (
        error_of(get(client, f"{ACT}/insights", date_preset="forever"))["error_user_title"]
        == "Invalid date_preset"
    )
    assert (
        error_of(get(client, f"{G}/{campaign_id}/insights", level="account"))["error_user_title"]
        == "Invalid level"
    )


def test_audiences_are_listed_with_their_sizes(client: httpx.Client) -> None:
    audience_id = new_audience(client, size=3)
    listed = get(
        client, f"{ACT}/customaudiences", fields="name,approximate_count_lower_bound"
    ).json()["data"]
    assert listed == [{"id": audience_id, "name": "Buyers", "approximate_count_lower_bound": 3}]
