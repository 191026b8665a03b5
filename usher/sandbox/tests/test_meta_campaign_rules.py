"""Meta's 2026 campaign rules, review, learning phase and audience fills in the sandbox.

Each test shows the answer the real Graph API gives (docs/platforms.md, Meta: campaigns): HTTP 400,
an OAuthException with code 100 (or 17 / 2635), the subcode where integrations have
seen one, and the user title and message.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from usher.sandbox import Metrics, SandboxState
from usher.sandbox.metrics import ZeroMetrics
from usher.sandbox.tests.conftest import META_AD_ACCOUNT, FakeClock, configure, sha
from usher.sandbox.tests.meta_helpers import (
    ACT,
    DSA,
    TARGETING,
    G,
    adset_body,
    error_of,
    get,
    new_adset,
    new_audience,
    new_campaign,
    post,
)

HOUR = 3600


def new_ad(client: httpx.Client, adset_id: str) -> str:
    creative = post(
        client,
        f"{ACT}/adcreatives",
        {"object_story_spec": {"page_id": "1000", "link_data": {"link": "https://t.example"}}},
    ).json()["id"]
    response = post(
        client,
        f"{ACT}/ads",
        {"name": "ad", "adset_id": adset_id, "creative": {"creative_id": creative}},
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


# --- what a create call must carry ---


def test_legacy_objectives_can_no_longer_create_campaigns(client: httpx.Client) -> None:
    response = post(
        client,
        f"{ACT}/campaigns",
        {
            "name": "c",
            "objective": "CONVERSIONS",
            "special_ad_categories": [],
            "is_adset_budget_sharing_enabled": False,
        },
    )
    error = error_of(response)
    assert (error["code"], error["type"]) == (100, "OAuthException")
    assert error["error_user_title"] == "Objective Is Invalid"
    assert "OUTCOME_SALES" in error["message"]


def test_a_campaign_without_its_own_budget_must_say_whether_ad_sets_share_budgets(
    client: httpx.Client,
) -> None:
    body = {"name": "c", "objective": "OUTCOME_SALES", "special_ad_categories": []}
    error = error_of(post(client, f"{ACT}/campaigns", body))
    assert error["code"] == 100
    assert (
        error["error_user_msg"]
        == "Must specify True or False in is_adset_budget_sharing_enabled field"
    )
    assert error["error_data"]["blame_field_specs"] == [["is_adset_budget_sharing_enabled"]]
    # a campaign budget (CBO) needs no flag; form bodies send the flag as text
    assert post(client, f"{ACT}/campaigns", {**body, "daily_budget": 5000}).status_code == 200
    assert (
        client.post(
            f"{ACT}/campaigns",
            params={"access_token": "sandbox-x"},
            data={
                **body,
                "special_ad_categories": "[]",
                "is_adset_budget_sharing_enabled": "false",
            },
        ).status_code
        == 200
    )


def test_ad_sets_must_set_the_advantage_audience_flag(client: httpx.Client) -> None:
    campaign = new_campaign(client)
    targeting = {k: v for k, v in TARGETING.items() if k != "targeting_automation"}
    error = error_of(post(client, f"{ACT}/adsets", adset_body(campaign, targeting=targeting)))
    assert (error["code"], error["error_subcode"]) == (100, 1870227)
    assert error["error_user_title"] == "Advantage Audience Flag Required"


def test_advantage_audience_on_refuses_an_age_max_under_65(client: httpx.Client) -> None:
    campaign = new_campaign(client)
    targeting = {**TARGETING, "targeting_automation": {"advantage_audience": 1}}
    error = error_of(post(client, f"{ACT}/adsets", adset_body(campaign, targeting=targeting)))
    assert (error["code"], error["error_subcode"]) == (100, 1870189)
    widened = {**targeting, "age_max": 65}
    assert post(client, f"{ACT}/adsets", adset_body(campaign, targeting=widened)).status_code == 200


@pytest.mark.parametrize("missing", ["dsa_beneficiary", "dsa_payor"])
def test_eu_targeted_ad_sets_need_a_dsa_beneficiary_and_payor(
    client: httpx.Client, missing: str
) -> None:
    body = adset_body(new_campaign(client))
    del body[missing]
    error = error_of(post(client, f"{ACT}/adsets", body))
    assert error["code"] == 100
    assert error["error_data"]["blame_field_specs"] == [[missing]]
    assert "Digital Services Act" in error["error_user_msg"]


def test_ad_sets_outside_the_eu_need_no_dsa_fields_and_eu_ones_read_them_back(
    client: httpx.Client,
) -> None:
    campaign = new_campaign(client)
    us = {**TARGETING, "geo_locations": {"countries": ["US"]}}
    body = {k: v for k, v in adset_body(campaign, targeting=us).items() if k not in DSA}
    assert post(client, f"{ACT}/adsets", body).status_code == 200
    eu_adset = new_adset(client, campaign)
    read = get(client, f"{G}/{eu_adset}", fields="dsa_beneficiary,dsa_payor").json()
    assert read == {"id": eu_adset, **DSA}


def test_an_optimization_goal_must_fit_the_campaign_objective(client: httpx.Client) -> None:
    campaign = new_campaign(client, objective="OUTCOME_AWARENESS")
    error = error_of(post(client, f"{ACT}/adsets", adset_body(campaign)))  # OFFSITE_CONVERSIONS
    assert error["error_user_title"] == "Optimization Goal Not Available"
    assert "OUTCOME_AWARENESS" in error["error_user_msg"]
    assert (
        post(
            client,
            f"{ACT}/adsets",
            adset_body(campaign, optimization_goal="REACH", promoted_object=None),
        ).status_code
        == 200
    )


def test_budgets_under_the_accounts_minimum_are_refused(client: httpx.Client) -> None:
    minimums = get(client, f"{ACT}/minimum_budgets").json()["data"][0]
    assert minimums == {
        "currency": "EUR",
        "min_daily_budget_imp": 100,
        "min_daily_budget_video_views": 100,
        "min_daily_budget_high_freq": 500,
        "min_daily_budget_low_freq": 4000,
    }
    campaign = new_campaign(client)
    error = error_of(post(client, f"{ACT}/adsets", adset_body(campaign, daily_budget=99)))
    assert (error["code"], error["error_subcode"]) == (100, 1885272)
    # billed per click, the frequent-event minimum applies
    clicks = adset_body(campaign, daily_budget=400, billing_event="LINK_CLICKS")
    assert error_of(post(client, f"{ACT}/adsets", clicks))["error_subcode"] == 1885272
    # a lifetime budget covers the daily minimum for every scheduled day
    lifetime = adset_body(
        campaign,
        daily_budget=None,
        lifetime_budget=900,
        start_time="2026-01-02T00:00:00+0000",
        end_time="2026-01-12T00:00:00+0000",
    )
    assert "at least 1000" in error_of(post(client, f"{ACT}/adsets", lifetime))["error_user_msg"]
    assert post(client, f"{ACT}/adsets", {**lifetime, "lifetime_budget": 1000}).status_code == 200


def test_an_accounts_minimum_budgets_can_be_raised(client: httpx.Client) -> None:
    configure(client, "meta", META_AD_ACCOUNT, minimum_budgets={"min_daily_budget_imp": 5000})
    assert get(client, f"{ACT}/minimum_budgets").json()["data"][0]["min_daily_budget_imp"] == 5000
    error = error_of(post(client, f"{ACT}/adsets", adset_body(new_campaign(client))))
    assert error["error_subcode"] == 1885272
    adset = new_adset(client, new_campaign(client), daily_budget=5000)
    assert error_of(post(client, f"{G}/{adset}", {"daily_budget": 4000}))["error_subcode"] == (
        1885272
    )


def test_validate_only_checks_a_create_and_creates_nothing(client: httpx.Client) -> None:
    campaign = new_campaign(client)
    options = {"execution_options": ["validate_only"]}
    assert post(client, f"{ACT}/adsets", {**adset_body(campaign), **options}).json() == {
        "success": True
    }
    assert get(client, f"{ACT}/adsets").json()["data"] == []
    invalid = adset_body(campaign, billing_event="NOPE")
    assert error_of(post(client, f"{ACT}/adsets", {**invalid, **options}))["code"] == 100
    assert error_of(
        post(client, f"{ACT}/adsets", {**adset_body(campaign), "execution_options": "x"})
    )


def test_graph_versions_before_24_are_refused(client: httpx.Client) -> None:
    error = error_of(
        client.get(f"/meta/v23.0/act_{META_AD_ACCOUNT}", params={"access_token": "sandbox-x"})
    )
    assert error["code"] == 2635
    assert (
        client.get(
            f"/meta/v24.0/act_{META_AD_ACCOUNT}", params={"access_token": "sandbox-x"}
        ).status_code
        == 200
    )


# --- review, learning, budget-change limits ---


def test_new_ads_are_in_review_then_active(client: httpx.Client, clock: FakeClock) -> None:
    campaign = new_campaign(client, status="ACTIVE")
    ad = new_ad(client, new_adset(client, campaign, status="ACTIVE"))
    fields = "effective_status,ad_review_feedback,issues_info"
    assert get(client, f"{G}/{ad}", fields=fields).json() == {
        "id": ad,
        "effective_status": "PENDING_REVIEW",
    }
    clock.advance(HOUR)
    assert get(client, f"{G}/{ad}", fields=fields).json() == {
        "id": ad,
        "effective_status": "ACTIVE",
    }


def test_an_account_can_have_its_ads_disapproved_with_review_feedback(
    client: httpx.Client, clock: FakeClock
) -> None:
    configure(client, "meta", META_AD_ACCOUNT, ad_review_outcome="disapprove", ad_review_seconds=60)
    ad = new_ad(client, new_adset(client, new_campaign(client)))
    clock.advance(60)
    read = get(client, f"{G}/{ad}", fields="effective_status,ad_review_feedback").json()
    assert read["effective_status"] == "DISAPPROVED"
    assert list(read["ad_review_feedback"]) == ["global"]
    assert read["ad_review_feedback"]["global"]  # policy name -> reason


def test_ads_with_issues_read_issues_info(client: httpx.Client, clock: FakeClock) -> None:
    configure(client, "meta", META_AD_ACCOUNT, ad_review_outcome="with_issues", ad_review_seconds=0)
    campaign = new_campaign(client, status="ACTIVE")
    ad = new_ad(client, new_adset(client, campaign, status="ACTIVE"))
    post(client, f"{G}/{ad}", {"status": "ACTIVE"})
    read = get(client, f"{G}/{ad}", fields="effective_status,issues_info").json()
    assert read["effective_status"] == "WITH_ISSUES"
    assert read["issues_info"][0]["level"] == "AD"
    assert read["issues_info"][0]["error_type"] == "SOFT_ERROR"


class Conversions(ZeroMetrics):
    """A metrics source giving every ad set `per_day` conversions a day."""

    def __init__(self, per_day: float) -> None:
        self.per_day = per_day

    def metrics_for(
        self, platform: str, account: str, object_type: str, object_id: str, day: date
    ) -> Metrics:
        return Metrics(conversions=self.per_day if object_type == "adset" else 0.0)


def test_ad_sets_learn_until_50_conversions_and_restart_after_a_budget_change(
    client: httpx.Client, clock: FakeClock, state: SandboxState
) -> None:
    adset = new_adset(client, new_campaign(client))
    info = get(client, f"{G}/{adset}", fields="learning_stage_info").json()["learning_stage_info"]
    assert info == {
        "status": "LEARNING",
        "conversions": 0,
        "last_sig_edit_ts": int(clock.now),
        "attribution_windows": ["7d_click", "1d_view"],
    }
    state.metrics = Conversions(per_day=30)
    clock.advance(24 * HOUR)  # two days of 30: 60 events
    info = get(client, f"{G}/{adset}", fields="learning_stage_info").json()["learning_stage_info"]
    assert (info["status"], info["conversions"]) == ("SUCCESS", 60)
    post(client, f"{G}/{adset}", {"daily_budget": 3000})  # a significant edit
    info = get(client, f"{G}/{adset}", fields="learning_stage_info").json()["learning_stage_info"]
    assert (info["status"], info["last_sig_edit_ts"]) == ("LEARNING", int(clock.now))


def test_a_campaign_budget_change_restarts_learning_of_its_ad_sets(
    client: httpx.Client, clock: FakeClock
) -> None:
    campaign = new_campaign(client, daily_budget=5000, is_adset_budget_sharing_enabled=None)
    body = {k: v for k, v in adset_body(campaign).items() if k != "daily_budget"}
    adset = post(client, f"{ACT}/adsets", body).json()["id"]
    clock.advance(HOUR)
    assert post(client, f"{G}/{campaign}", {"daily_budget": 6000}).status_code == 200
    info = get(client, f"{G}/{adset}", fields="learning_stage_info").json()["learning_stage_info"]
    assert info["last_sig_edit_ts"] == int(clock.now)


def test_ad_sets_without_enough_conversions_in_7_days_fail_learning(
    client: httpx.Client, clock: FakeClock
) -> None:
    adset = new_adset(client, new_campaign(client))
    clock.advance(7 * 24 * HOUR)
    info = get(client, f"{G}/{adset}", fields="learning_stage_info").json()["learning_stage_info"]
    assert info["status"] == "FAIL"


def test_an_account_without_learning_phase_reports_success(client: httpx.Client) -> None:
    configure(client, "meta", META_AD_ACCOUNT, learning_phase=False)
    adset = new_adset(client, new_campaign(client))
    info = get(client, f"{G}/{adset}", fields="learning_stage_info").json()["learning_stage_info"]
    assert info["status"] == "SUCCESS"


def test_the_budget_change_limit_is_configurable_per_account(client: httpx.Client) -> None:
    configure(client, "meta", META_AD_ACCOUNT, budget_changes_per_hour=1)
    adset = new_adset(client, new_campaign(client))
    assert post(client, f"{G}/{adset}", {"daily_budget": 2500}).status_code == 200
    error = error_of(post(client, f"{G}/{adset}", {"daily_budget": 3000}))
    assert (error["code"], error["is_transient"]) == (17, True)
    configure(client, "meta", META_AD_ACCOUNT, budget_changes_per_hour=None)
    for budget in (3000, 3500, 4000, 4500, 5000):
        assert post(client, f"{G}/{adset}", {"daily_budget": budget}).status_code == 200


# --- audiences: fills, rounded sizes, replace sessions ---


def add_emails(client: httpx.Client, audience_id: str, count: int) -> None:
    rows = [sha(f"user{n}@example.com") for n in range(count)]
    for start in range(0, count, 10_000):
        post(
            client,
            f"{G}/{audience_id}/users",
            {"payload": {"schema": "EMAIL_SHA256", "data": rows[start : start + 10_000]}},
        )


def sizes(client: httpx.Client, audience_id: str) -> dict[str, Any]:
    fields = "approximate_count_lower_bound,approximate_count_upper_bound,operation_status,delivery_status"
    return get(client, f"{G}/{audience_id}", fields=fields).json()


def test_customer_lists_fill_for_hours_then_report_rounded_sizes(
    client: httpx.Client, clock: FakeClock
) -> None:
    audience = new_audience(client)
    add_emails(client, audience, 1234)
    filling = sizes(client, audience)
    assert (filling["approximate_count_lower_bound"], filling["approximate_count_upper_bound"]) == (
        -1,
        -1,
    )
    assert filling["operation_status"]["code"] == 441
    clock.advance(3 * HOUR)
    ready = sizes(client, audience)
    assert (ready["approximate_count_lower_bound"], ready["approximate_count_upper_bound"]) == (
        1200,
        1300,
    )
    assert ready["delivery_status"]["code"] == 200


def test_small_audiences_never_show_their_size(client: httpx.Client, clock: FakeClock) -> None:
    audience = new_audience(client, size=999)
    clock.advance(3 * HOUR)
    read = sizes(client, audience)
    assert read["approximate_count_lower_bound"] == -1
    assert read["delivery_status"]["code"] == 300


def test_lookalikes_take_hours_to_populate(client: httpx.Client, clock: FakeClock) -> None:
    seed = new_audience(client, size=150)
    lookalike = post(
        client,
        f"{ACT}/customaudiences",
        {
            "name": "Lookalike",
            "subtype": "LOOKALIKE",
            "origin_audience_id": seed,
            "lookalike_spec": {"country": "RO", "ratio": 0.01},
        },
    ).json()["id"]
    clock.advance(3 * HOUR)
    assert sizes(client, lookalike)["operation_status"]["code"] == 441
    clock.advance(3 * HOUR)
    assert sizes(client, lookalike)["operation_status"]["code"] == 200


def replace(client: httpx.Client, audience: str, rows: list[str], **session: Any) -> httpx.Response:
    return post(
        client,
        f"{G}/{audience}/usersreplace",
        {"payload": {"schema": "EMAIL_SHA256", "data": rows}, "session": session},
    )


def test_usersreplace_swaps_the_members_when_its_session_ends(
    client: httpx.Client, state: SandboxState
) -> None:
    audience = new_audience(client, size=5)
    first = replace(
        client, audience, [sha("a@x.io")], session_id=7, batch_seq=1, last_batch_flag=False
    )
    assert first.json() == {
        "account_id": META_AD_ACCOUNT,
        "session_id": "7",
        "num_received": 1,
        "num_invalid_entries": 0,
        "invalid_entry_samples": {},
    }
    assert len(state.members_of("meta", audience)) == 5  # unchanged until the last batch
    blocked = post(
        client,
        f"{G}/{audience}/users",
        {"payload": {"schema": "EMAIL_SHA256", "data": [sha("c@x.io")]}},
    )
    assert error_of(blocked)["error_user_title"] == "Replace In Progress"
    out_of_order = replace(client, audience, [sha("b@x.io")], session_id=7, batch_seq=3)
    assert error_of(out_of_order)["error_user_title"] == "Invalid session"
    last = replace(
        client, audience, [sha("b@x.io")], session_id=7, batch_seq=2, last_batch_flag=True
    )
    assert last.status_code == 200
    assert state.members_of("meta", audience) == {sha("a@x.io"), sha("b@x.io")}


def test_usersreplace_needs_a_session(client: httpx.Client) -> None:
    audience = new_audience(client)
    response = post(
        client,
        f"{G}/{audience}/usersreplace",
        {"payload": {"schema": "EMAIL_SHA256", "data": [sha("a@x.io")]}},
    )
    assert error_of(response)["error_user_title"] == "Missing session"


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"ad_review_outcome": "maybe"}, "ad_review_outcome"),
        ({"ad_review_seconds": -1}, "ad_review_seconds"),
        ({"learning_phase": "yes"}, "learning_phase"),
        ({"budget_changes_per_hour": 1.5}, "budget_changes_per_hour"),
        ({"minimum_budgets": {"min_daily_budget_imp": "a lot"}}, "minimum_budgets"),
        ({"managers": ["123"]}, "managers"),
        ({"undeclared_campaigns": -1}, "undeclared_campaigns"),
    ],
)
def test_the_control_api_refuses_bad_switch_values(
    client: httpx.Client, settings: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/_sandbox/accounts",
        json={"platform": "meta", "account_id": META_AD_ACCOUNT, "settings": settings},
    )
    assert response.status_code == 422
    assert field in response.json()["error"]
