"""TikTok's 2026 budget and audience rules, audience reads and ad review in the sandbox.

TikTok answers HTTP 200 with `code` 40002 and a message naming the field for each of
these refusals (docs/platforms.md, TikTok: campaigns and budgets).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from usher.sandbox.tests.conftest import TIKTOK_ADVERTISER, FakeClock, configure, sha
from usher.sandbox.tests.tiktok_helpers import (
    LOOKALIKE_SPEC,
    adgroup_body,
    get,
    new_campaign,
    post,
    upload,
)

HOUR = 3600


def refused(answer: dict[str, Any], field: str) -> bool:
    return answer["code"] == 40002 and answer["message"].startswith(field)


# --- budgets ---


def test_campaign_budget_optimization_needs_a_campaign_budget(client: httpx.Client) -> None:
    answer = post(
        client,
        "/campaign/create/",
        {
            "campaign_name": "C",
            "objective_type": "WEB_CONVERSIONS",
            "budget_optimize_on": True,
            "budget_mode": "BUDGET_MODE_INFINITE",
        },
    )
    assert refused(answer, "budget_mode")


def test_campaign_budgets_start_at_50(client: httpx.Client) -> None:
    body = {"campaign_name": "C", "objective_type": "TRAFFIC", "budget_mode": "BUDGET_MODE_DAY"}
    assert refused(post(client, "/campaign/create/", {**body, "budget": 49.99}), "budget")
    assert post(client, "/campaign/create/", {**body, "budget": 50})["code"] == 0


def test_ad_group_budgets_start_at_20_a_day_and_20_per_scheduled_day_for_totals(
    client: httpx.Client,
) -> None:
    campaign = new_campaign(client)
    assert refused(post(client, "/adgroup/create/", adgroup_body(campaign, budget=19)), "budget")
    total = adgroup_body(
        campaign,
        budget_mode="BUDGET_MODE_TOTAL",
        budget=199,
        schedule_type="SCHEDULE_START_END",
        schedule_end_time="2026-01-12 00:00:00",  # ten days
    )
    answer = post(client, "/adgroup/create/", total)
    assert refused(answer, "budget") and "200" in answer["message"]
    assert post(client, "/adgroup/create/", {**total, "budget": 200})["code"] == 0
    open_ended = adgroup_body(campaign, budget_mode="BUDGET_MODE_TOTAL", budget=500)
    assert refused(post(client, "/adgroup/create/", open_ended), "schedule_type")


def test_ad_groups_under_campaign_budget_optimization_take_no_budget(
    client: httpx.Client,
) -> None:
    campaign = new_campaign(client, budget_optimize_on=True)
    assert refused(post(client, "/adgroup/create/", adgroup_body(campaign)), "budget")
    body = {
        k: v
        for k, v in adgroup_body(campaign).items()
        if k not in ("budget", "budget_mode", "pacing")
    }
    assert post(client, "/adgroup/create/", body)["code"] == 0


def test_an_ad_group_needs_a_known_pacing(client: httpx.Client) -> None:
    body = adgroup_body(new_campaign(client), pacing="PACING_MODE_TURBO")
    assert refused(post(client, "/adgroup/create/", body), "pacing")


def test_a_live_budget_keeps_its_type(client: httpx.Client) -> None:
    campaign = new_campaign(client)  # created DISABLE
    switched = post(
        client,
        "/campaign/update/",
        {"campaign_id": campaign, "budget_mode": "BUDGET_MODE_TOTAL", "budget": 500},
    )
    assert switched["code"] == 0 and switched["data"]["budget_mode"] == "BUDGET_MODE_TOTAL"
    post(
        client,
        "/campaign/status/update/",
        {"campaign_ids": [campaign], "operation_status": "ENABLE"},
    )
    answer = post(
        client, "/campaign/update/", {"campaign_id": campaign, "budget_mode": "BUDGET_MODE_DAY"}
    )
    assert refused(answer, "budget_mode") and "live" in answer["message"]
    assert refused(
        post(client, "/campaign/update/", {"campaign_id": campaign, "budget": 10}), "budget"
    )


def test_a_paused_budget_may_change_type_only_to_one_that_fits(client: httpx.Client) -> None:
    campaign = new_campaign(client, budget_mode="BUDGET_MODE_INFINITE", budget=None)
    no_budget = post(
        client, "/campaign/update/", {"campaign_id": campaign, "budget_mode": "BUDGET_MODE_DAY"}
    )
    assert refused(no_budget, "budget")
    adgroup = post(client, "/adgroup/create/", adgroup_body(campaign))["data"]["adgroup_id"]
    post(
        client, "/adgroup/status/update/", {"adgroup_ids": [adgroup], "operation_status": "DISABLE"}
    )
    unlimited = post(
        client,
        "/adgroup/update/",
        {"adgroup_id": adgroup, "budget_mode": "BUDGET_MODE_INFINITE"},
    )
    assert refused(unlimited, "budget_mode")


# --- audiences ---


def file_audience(client: httpx.Client, size: int, **extra: Any) -> str:
    path = upload(client, [sha(f"user{n}@x.io") for n in range(size)])["data"]["file_path"]
    answer = post(
        client,
        "/dmp/custom_audience/create/",
        {
            "custom_audience_name": "Buyers",
            "file_paths": [path],
            "calculate_type": "EMAIL_SHA256",
            **extra,
        },
    )
    return answer["data"]["custom_audience_id"]


def read(client: httpx.Client, audience: str) -> dict[str, Any]:
    return get(client, "/dmp/custom_audience/get/", custom_audience_ids=[audience])["data"]["list"][
        0
    ]


def test_every_audience_update_must_leave_1000_members(client: httpx.Client) -> None:
    audience = file_audience(client, 10)
    extra = upload(client, [sha("new@x.io")])["data"]["file_path"]
    answer = post(
        client,
        "/dmp/custom_audience/update/",
        {"custom_audience_id": audience, "file_paths": [extra], "action": "APPEND"},
    )
    assert answer["code"] == 40002 and "1000" in answer["message"]


@pytest.mark.parametrize("missing", ["include_source", "mobile_os", "placements"])
def test_lookalikes_need_source_os_and_placements(client: httpx.Client, missing: str) -> None:
    seed = file_audience(client, 100)
    spec = {k: v for k, v in LOOKALIKE_SPEC.items() if k != missing}
    answer = post(
        client,
        "/dmp/custom_audience/lookalike/create/",
        {"custom_audience_name": "LAL", "lookalike_spec": {**spec, "source_audience_id": seed}},
    )
    assert refused(answer, f"lookalike_spec.{missing}")


def test_audiences_fill_for_hours_then_read_rounded_with_type_expiry_and_history(
    client: httpx.Client, clock: FakeClock
) -> None:
    audience = file_audience(client, 1234, retention_in_days=30)
    filling = read(client, audience)
    details = filling["audience_details"]
    assert (details["cover_num"], details["is_valid"], details["type"]) == (
        -1,
        False,
        "CUSTOMER_FILE",
    )
    assert details["expired_time"] == "2026-01-31 12:00:00"  # 30 days after the upload
    assert details["is_expiring"] is False
    assert [entry["action"] for entry in filling["audience_history"]] == ["CREATE"]
    clock.advance(3 * HOUR)
    details = read(client, audience)["audience_details"]
    assert (details["cover_num"], details["is_valid"]) == (1200, True)
    clock.advance(24 * 24 * HOUR)  # six days before expiry
    assert read(client, audience)["audience_details"]["is_expiring"] is True


def test_lookalikes_take_hours_to_populate(client: httpx.Client, clock: FakeClock) -> None:
    configure(client, "tiktok", TIKTOK_ADVERTISER, lookalike_fill_seconds=2 * HOUR)
    seed = file_audience(client, 100)
    lookalike = post(
        client,
        "/dmp/custom_audience/lookalike/create/",
        {
            "custom_audience_name": "LAL",
            "lookalike_spec": {**LOOKALIKE_SPEC, "source_audience_id": seed},
        },
    )["data"]["custom_audience_id"]
    details = read(client, lookalike)["audience_details"]
    assert (details["type"], details["is_valid"]) == ("LOOKALIKE", False)
    clock.advance(2 * HOUR)
    assert read(client, lookalike)["audience_details"]["is_valid"] is True


# --- ad review ---


def new_ad(client: httpx.Client) -> str:
    adgroup = post(client, "/adgroup/create/", adgroup_body(new_campaign(client)))["data"][
        "adgroup_id"
    ]
    creative = {
        "ad_name": "Ad",
        "ad_text": "Live!",
        "landing_page_url": "https://tickets.example/e/1",
        "video_id": "v1",
    }
    return post(client, "/ad/create/", {"adgroup_id": adgroup, "creatives": [creative]})["data"][
        "ad_ids"
    ][0]


def secondary_status(client: httpx.Client, ad: str) -> str:
    listed = get(client, "/ad/get/", filtering={"ad_ids": [ad]})["data"]["list"]
    return listed[0]["secondary_status"]


def test_new_ads_are_in_review_then_deliver(client: httpx.Client, clock: FakeClock) -> None:
    ad = new_ad(client)
    assert secondary_status(client, ad) == "AD_STATUS_IN_REVIEW"
    clock.advance(HOUR)
    assert secondary_status(client, ad) == "AD_STATUS_DELIVERY_OK"
    post(client, "/ad/status/update/", {"ad_ids": [ad], "operation_status": "DISABLE"})
    assert secondary_status(client, ad) == "AD_STATUS_DISABLE"


def test_an_account_can_have_its_ads_rejected(client: httpx.Client, clock: FakeClock) -> None:
    configure(client, "tiktok", TIKTOK_ADVERTISER, ad_review_outcome="disapprove")
    ad = new_ad(client)
    clock.advance(HOUR)
    assert secondary_status(client, ad) == "AD_STATUS_REVIEW_FAIL"
