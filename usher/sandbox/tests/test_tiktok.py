"""TikTok Business API v1.3: Events API, audiences, campaigns/ad groups/ads, reports."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from usher.sandbox.tests.conftest import (
    EXACT_AUDIENCES,
    TIKTOK_ADVERTISER,
    TIKTOK_PIXEL,
    FakeClock,
    configure,
    sha,
    tiktok_event,
    tiktok_track,
)
from usher.sandbox.tests.tiktok_helpers import (
    API,
    HEADERS,
    LOOKALIKE_SPEC,
    adgroup_body,
    get,
    new_campaign,
    post,
    upload,
)

DAY = 24 * 3600


# --- Events API ---


def test_a_valid_batch_is_tracked(client: httpx.Client, clock: FakeClock) -> None:
    body = tiktok_track(
        client, [tiktok_event(clock), tiktok_event(clock, event="ViewContent", event_id="v-1")]
    ).json()
    assert body["code"] == 0 and body["message"] == "OK" and body["request_id"]
    assert (
        client.get(
            "/_sandbox/events", params={"platform": "tiktok", "account": TIKTOK_PIXEL}
        ).json()["received"]
        == 2
    )


def test_the_trailing_slash_is_required(client: httpx.Client, clock: FakeClock) -> None:
    response = client.post(f"{API}/event/track", headers=HEADERS, json={"event_source": "web"})
    assert response.status_code == 404


def test_tokens_and_pixels_are_checked(client: httpx.Client, clock: FakeClock) -> None:
    missing = client.post(
        f"{API}/event/track/",
        json={
            "event_source": "web",
            "event_source_id": TIKTOK_PIXEL,
            "data": [tiktok_event(clock)],
        },
    )
    assert missing.json()["code"] == 40104
    assert tiktok_track(client, [tiktok_event(clock)], token="not-valid").json()["code"] == 40105
    assert (
        tiktok_track(client, [tiktok_event(clock)], pixel="lowercase-pixel").json()["code"] == 40002
    )
    client.post(
        "/_sandbox/accounts",
        json={"platform": "tiktok", "account_id": TIKTOK_PIXEL, "known": False},
    )
    assert tiktok_track(client, [tiktok_event(clock)]).json()["code"] == 40001


INVALID = {
    "missing event": (lambda e: {k: v for k, v in e.items() if k != "event"}, "data[1].event"),
    "missing event_time": (
        lambda e: {k: v for k, v in e.items() if k != "event_time"},
        "data[1].event_time",
    ),
    "event_time in ms": (lambda e: {**e, "event_time": e["event_time"] * 1000}, "in the future"),
    "event older than 7 days": (
        lambda e: {**e, "event_time": e["event_time"] - 8 * DAY},
        "older than 7 days",
    ),
    "unhashed email": (lambda e: {**e, "user": {"email": "ana@example.com"}}, "data[1].user.email"),
    "unhashed phone": (lambda e: {**e, "user": {"phone": ["+40712345678"]}}, "data[1].user.phone"),
    "bad ip": (lambda e: {**e, "user": {"ip": "localhost"}}, "data[1].user.ip"),
    "value not a number": (
        lambda e: {**e, "properties": {"value": "lots"}},
        "data[1].properties.value",
    ),
    "bad content_type": (lambda e: {**e, "properties": {"content_type": "ticket"}}, "content_type"),
    "contents not a list": (
        lambda e: {**e, "properties": {"contents": {"content_id": "gala"}}},
        "data[1].properties.contents",
    ),
    "content without an id": (
        lambda e: {**e, "properties": {"contents": [{"quantity": 1}]}},
        "data[1].properties.contents[0].content_id",
    ),
    "content quantity not an integer": (
        lambda e: {**e, "properties": {"contents": [{"content_id": "gala", "quantity": "2x"}]}},
        "data[1].properties.contents[0].quantity",
    ),
    "num_items not an integer": (
        lambda e: {**e, "properties": {"num_items": 1.5}},
        "data[1].properties.num_items",
    ),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_an_invalid_event_rejects_the_batch_with_40002(
    client: httpx.Client, clock: FakeClock, case: str
) -> None:
    mutate, words = INVALID[case]
    body = tiktok_track(client, [tiktok_event(clock), mutate(tiktok_event(clock))]).json()
    assert body["code"] == 40002 and words in body["message"]
    assert client.get("/_sandbox/events").json()["received"] == 0


def test_batches_over_1000_events_and_bad_envelopes_are_rejected(
    client: httpx.Client, clock: FakeClock
) -> None:
    assert (
        tiktok_track(client, [tiktok_event(clock, event_id=str(n)) for n in range(1001)]).json()[
            "code"
        ]
        == 40002
    )
    bad_source = client.post(
        f"{API}/event/track/",
        headers=HEADERS,
        json={"event_source": "tv", "event_source_id": TIKTOK_PIXEL, "data": [tiktok_event(clock)]},
    )
    assert "event_source" in bad_source.json()["message"]
    assert tiktok_track(client, []).json()["code"] == 40002


def test_dedup_counts_the_same_event_and_event_id_once_within_48_hours(
    client: httpx.Client, clock: FakeClock
) -> None:
    tiktok_track(client, [tiktok_event(clock)])
    clock.advance(600)
    tiktok_track(client, [tiktok_event(clock)])
    tiktok_track(client, [tiktok_event(clock, event="AddToCart")])
    report = client.get("/_sandbox/events", params={"platform": "tiktok"}).json()
    assert (report["received"], report["unique"], report["duplicates"]) == (3, 2, 1)
    clock.advance(48 * 3600)
    tiktok_track(client, [tiktok_event(clock)])
    assert client.get("/_sandbox/events", params={"platform": "tiktok"}).json()["duplicates"] == 1


# --- audiences ---


def test_file_audiences_are_created_updated_and_read(client: httpx.Client) -> None:
    configure(client, "tiktok", TIKTOK_ADVERTISER, **EXACT_AUDIENCES)
    big = upload(client, [sha(f"user{n}@x.io") for n in range(1200)])["data"]["file_path"]
    created = post(
        client,
        "/dmp/custom_audience/create/",
        {
            "custom_audience_name": "Buyers",
            "file_paths": [big],
            "calculate_type": "EMAIL_SHA256",
            "retention_in_days": 180,
        },
    )
    audience_id = created["data"]["custom_audience_id"]
    extra = upload(client, [sha("new@x.io")])["data"]["file_path"]
    assert (
        post(
            client,
            "/dmp/custom_audience/update/",
            {"custom_audience_id": audience_id, "file_paths": [extra], "action": "APPEND"},
        )["code"]
        == 0
    )
    details = get(client, "/dmp/custom_audience/get/", custom_audience_ids=[audience_id])["data"][
        "list"
    ][0]["audience_details"]
    assert details["cover_num"] == 1201 and details["name"] == "Buyers"
    shrink = post(
        client,
        "/dmp/custom_audience/update/",
        {"custom_audience_id": audience_id, "file_paths": [extra], "action": "REPLACE"},
    )
    assert shrink["code"] == 40002 and "1000" in shrink["message"]


def test_file_uploads_are_checked(client: httpx.Client) -> None:
    assert "SHA-256" in upload(client, ["ana@example.com"])["message"]
    assert "MD5" in upload(client, [sha("a")], signature="0" * 32)["message"]
    assert ".csv or .txt" in upload(client, [sha("a")], name="list.xlsx")["message"]


def test_lookalikes_need_a_seed_of_100_that_is_not_a_lookalike(client: httpx.Client) -> None:
    def audience(size: int) -> str:
        path = upload(client, [sha(f"u{n}") for n in range(size)])["data"]["file_path"]
        return post(
            client,
            "/dmp/custom_audience/create/",
            {
                "custom_audience_name": "Seed",
                "file_paths": [path],
                "calculate_type": "EMAIL_SHA256",
            },
        )["data"]["custom_audience_id"]

    spec = LOOKALIKE_SPEC
    small = post(
        client,
        "/dmp/custom_audience/lookalike/create/",
        {
            "custom_audience_name": "LAL",
            "lookalike_spec": {**spec, "source_audience_id": audience(99)},
        },
    )
    assert "at least 100" in small["message"]
    lookalike = post(
        client,
        "/dmp/custom_audience/lookalike/create/",
        {
            "custom_audience_name": "LAL",
            "lookalike_spec": {**spec, "source_audience_id": audience(100)},
        },
    )
    assert lookalike["code"] == 0
    nested = post(
        client,
        "/dmp/custom_audience/lookalike/create/",
        {
            "custom_audience_name": "LAL2",
            "lookalike_spec": {
                **spec,
                "source_audience_id": lookalike["data"]["custom_audience_id"],
            },
        },
    )
    assert "cannot be a seed" in nested["message"]


def _website_rule(**overrides: Any) -> dict[str, Any]:
    rule = {
        "event_source_ids": [TIKTOK_PIXEL],
        "retention_days": 30,
        "filter_set": {
            "operator": "OR",
            "filters": [{"field": "EVENT", "operator": "EQ", "value": "PIXEL VIEW CONTENT"}],
        },
    }
    return {**rule, **overrides}


def _rule_audience(client: httpx.Client, rule: dict[str, Any], **body: Any) -> dict[str, Any]:
    return post(
        client,
        "/dmp/custom_audience/rule/create/",
        {
            "custom_audience_name": "Visitors",
            "audience_type": "PIXEL",
            "rule_spec": {"inclusion_rule_set": {"operator": "OR", "rules": [rule]}},
            **body,
        },
    )


def test_a_website_traffic_audience_is_created_by_rules_and_read_back(
    client: httpx.Client,
) -> None:
    created = _rule_audience(client, _website_rule())
    assert created["code"] == 0, created
    audience_id = created["data"]["custom_audience_id"]
    read = get(client, "/dmp/custom_audience/get/", custom_audience_ids=[audience_id])
    (details,) = [a["audience_details"] for a in read["data"]["list"]]
    assert details["type"] == "PIXEL" and details["name"] == "Visitors"


@pytest.mark.parametrize(
    ("rule", "body", "message"),
    [
        (_website_rule(), {"audience_type": "APP"}, "not modelled"),
        (_website_rule(), {"audience_type": "WEBSITE"}, "audience_type"),
        (_website_rule(event_source_ids=[]), {}, "event_source_ids"),
        (_website_rule(retention_days=400), {}, "retention_days"),
        (_website_rule(retention_days="thirty"), {}, "retention_days"),
        (
            _website_rule(filter_set={"operator": "AND", "filters": []}),
            {},
            "operator OR",
        ),
        (
            _website_rule(
                filter_set={
                    "operator": "OR",
                    "filters": [
                        {"field": "EVENT", "operator": "EQ", "value": "PIXEL PAGE VIEW"},
                        {"field": "EVENT", "operator": "EQ", "value": "PIXEL VIEW CONTENT"},
                    ],
                }
            ),
            {},
            "exactly one filter",
        ),
        (
            _website_rule(
                filter_set={
                    "operator": "OR",
                    "filters": [{"field": "EVENT", "operator": "EQ", "value": "ViewContent"}],
                }
            ),
            {},
            "pixel event",
        ),
        (_website_rule(), {"rule_spec": "all visitors"}, "rule_spec"),
    ],
)
def test_a_malformed_rule_audience_is_refused_and_nothing_is_stored(
    client: httpx.Client, rule: dict[str, Any], body: dict[str, Any], message: str
) -> None:
    answer = _rule_audience(client, rule, **body)
    assert answer["code"] != 0 and message in answer["message"]
    assert not answer["data"]


def test_segment_audiences_take_hashed_ids_through_mapping(client: httpx.Client) -> None:
    configure(client, "tiktok", TIKTOK_ADVERTISER, **EXACT_AUDIENCES)
    audience_id = post(
        client, "/segment/audience/", {"custom_audience_name": "Viewers", "action": "create"}
    )["data"]["audience_id"]
    body = {
        "advertiser_ids": [TIKTOK_ADVERTISER],
        "action": "add",
        "id_schema": ["EMAIL_SHA256", "PHONE_SHA256"],
        "batch_data": [
            [
                {"id": sha("a@x.io"), "audience_ids": [audience_id]},
                {"id": sha("+40712345678"), "audience_ids": [audience_id]},
            ]
        ],
    }
    response = client.post(f"{API}/segment/mapping/", headers=HEADERS, json=body).json()
    assert response["code"] == 0
    assert (
        get(client, "/dmp/custom_audience/get/", custom_audience_ids=[audience_id])["data"]["list"][
            0
        ]["audience_details"]["cover_num"]
        == 2
    )
    body["batch_data"] = [[{"id": "a@x.io", "audience_ids": [audience_id]}, {}]]
    assert (
        "not SHA-256"
        in client.post(f"{API}/segment/mapping/", headers=HEADERS, json=body).json()["message"]
    )


# --- campaigns, ad groups, ads, reports ---


def test_campaigns_and_ad_groups_keep_status_and_budget(client: httpx.Client) -> None:
    campaign_id = new_campaign(client)
    adgroup = post(client, "/adgroup/create/", adgroup_body(campaign_id))
    assert adgroup["code"] == 0, adgroup
    adgroup_id = adgroup["data"]["adgroup_id"]
    assert (
        post(client, "/campaign/update/", {"campaign_id": campaign_id, "budget": 80.0})["data"][
            "budget"
        ]
        == 80.0
    )
    status = post(
        client,
        "/campaign/status/update/",
        {"campaign_ids": [campaign_id], "operation_status": "ENABLE"},
    )
    assert status["data"] == {"campaign_ids": [campaign_id], "status": "ENABLE"}
    listed = get(client, "/campaign/get/", filtering={"campaign_ids": [campaign_id]})["data"]
    assert listed["list"][0]["operation_status"] == "ENABLE" and listed["list"][0]["budget"] == 80.0
    assert listed["page_info"]["total_number"] == 1
    ad = post(
        client,
        "/ad/create/",
        {
            "adgroup_id": adgroup_id,
            "creatives": [
                {
                    "ad_name": "Ad",
                    "ad_text": "Live!",
                    "landing_page_url": "https://tickets.example/e/1",
                    "video_id": "v1",
                }
            ],
        },
    )
    assert len(ad["data"]["ad_ids"]) == 1
    post(
        client,
        "/adgroup/status/update/",
        {"adgroup_ids": [adgroup_id], "operation_status": "DELETE"},
    )
    assert get(client, "/adgroup/get/")["data"]["list"] == []


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"campaign_name": None}, "campaign_name"),
        ({"objective_type": "FAME"}, "objective_type"),
        ({"budget": -5}, "budget"),
        ({"operation_status": "PAUSED"}, "operation_status"),
    ],
)
def test_an_invalid_campaign_is_rejected_with_40002(
    client: httpx.Client, overrides: dict[str, Any], words: str
) -> None:
    body = {
        "campaign_name": "C",
        "objective_type": "TRAFFIC",
        "budget_mode": "BUDGET_MODE_DAY",
        "budget": 50,
        **overrides,
    }
    answer = post(client, "/campaign/create/", {k: v for k, v in body.items() if v is not None})
    assert answer["code"] == 40002 and words in answer["message"]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"location_ids": None}, "location_ids"),
        ({"campaign_id": "1"}, "campaign_id"),
        ({"schedule_start_time": "tomorrow"}, "schedule_start_time"),
        ({"schedule_type": "SCHEDULE_START_END"}, "schedule_end_time"),
        ({"pixel_id": None}, "pixel_id"),
        ({"audience_ids": ["404"]}, "audience_id"),
    ],
)
def test_an_invalid_ad_group_is_rejected_with_40002(
    client: httpx.Client, overrides: dict[str, Any], words: str
) -> None:
    body = adgroup_body(new_campaign(client), **overrides)
    answer = post(client, "/adgroup/create/", {k: v for k, v in body.items() if v is not None})
    assert answer["code"] == 40002 and words in answer["message"]


@pytest.mark.parametrize("missing", ["budget_mode", "budget", "pacing"])
def test_an_ad_group_without_campaign_budget_optimization_needs_its_own_budget(
    client: httpx.Client, missing: str
) -> None:
    campaign_id = new_campaign(client, budget_mode="BUDGET_MODE_INFINITE", budget=None)
    body = adgroup_body(campaign_id)
    del body[missing]
    answer = post(client, "/adgroup/create/", body)
    assert answer["code"] == 40002 and missing in answer["message"]
    assert post(client, "/adgroup/create/", adgroup_body(campaign_id))["code"] == 0


def test_calls_without_an_advertiser_are_rejected(client: httpx.Client) -> None:
    answer = client.post(
        f"{API}/campaign/create/",
        headers=HEADERS,
        json={"campaign_name": "C", "objective_type": "TRAFFIC"},
    ).json()
    assert answer["code"] == 40002


def test_reports_answer_zero_metrics_per_campaign_and_day(client: httpx.Client) -> None:
    campaign_id = new_campaign(client)
    report = get(
        client,
        "/report/integrated/get/",
        report_type="BASIC",
        data_level="AUCTION_CAMPAIGN",
        dimensions=["campaign_id", "stat_time_day"],
        metrics=["spend", "impressions", "conversion"],
        start_date="2025-12-30",
        end_date="2025-12-31",
    )
    assert report["code"] == 0
    assert report["data"]["list"] == [
        {
            "dimensions": {"campaign_id": campaign_id, "stat_time_day": f"2025-12-{d} 00:00:00"},
            "metrics": {"spend": "0.00", "impressions": "0", "conversion": "0"},
        }
        for d in (30, 31)
    ]
    bad = get(
        client,
        "/report/integrated/get/",
        report_type="BASIC",
        data_level="AUCTION_CAMPAIGN",
        dimensions=["adgroup_id"],
        start_date="2025-12-30",
        end_date="2025-12-31",
    )
    assert bad["code"] == 40002
    unknown_metric = get(
        client,
        "/report/integrated/get/",
        report_type="BASIC",
        data_level="AUCTION_AD",
        dimensions=["ad_id"],
        metrics=["vibes"],
        start_date="2025-12-30",
        end_date="2025-12-31",
    )
    assert "vibes" in unknown_metric["message"]


def test_ad_group_budgets_change_only_where_the_ad_group_has_one(client: httpx.Client) -> None:
    with_budget = new_campaign(client, budget_optimize_on=True)  # the campaign holds the budget
    body = {
        k: v for k, v in adgroup_body(with_budget).items() if k not in ("budget", "budget_mode")
    }
    adgroup_id = post(client, "/adgroup/create/", body)["data"]["adgroup_id"]
    refused = post(client, "/adgroup/update/", {"adgroup_id": adgroup_id, "budget": 30})
    assert refused["code"] == 40002 and "BUDGET_MODE_INFINITE" in refused["message"]
    renamed = post(
        client, "/adgroup/update/", {"adgroup_id": adgroup_id, "adgroup_name": "RO 25-34"}
    )
    assert renamed["data"]["adgroup_name"] == "RO 25-34"
