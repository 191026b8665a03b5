"""Platform reports answer from the simulated market, in each platform's own shape."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import httpx
import pytest

from usher.sandbox import create_app, google_ads_search, sandbox_transport
from usher.sandbox.market import Market
from usher.sandbox.market.campaigns import DEFAULT_ACCOUNTS
from usher.sandbox.meta_insights import DATE_PRESETS
from usher.sandbox.state import SandboxState
from usher.sandbox.tests.market_helpers import (
    example,
    gaql,
    meta_insights,
    scenario,
    segment,
    tiktok_report,
)

META_ACT = DEFAULT_ACCOUNTS["meta"]
CUSTOMER = DEFAULT_ACCOUNTS["google_ads"]
ADVERTISER = DEFAULT_ACCOUNTS["tiktok"]


def load(state: SandboxState, *segments: dict, **fields: Any) -> Market:
    return Market(scenario(*segments, **fields), state)


def test_meta_insights_report_days_hours_and_purchases_at_every_level(
    client: httpx.Client, state: SandboxState
) -> None:
    market = load(state, segment(max_daily_conversions=100, creatives=[
        {"name": "poster", "performance": 1.0}, {"name": "video", "performance": 1.0},
    ]))  # fmt: skip
    ref = market.create_campaign("meta", "prospecting", 240)
    market.advance(days=2)
    fields = "campaign_id,adset_id,ad_id,spend,impressions,clicks,actions,action_values"
    by_day = meta_insights(
        client,
        f"act_{META_ACT}",
        level="campaign",
        fields=fields,
        time_range='{"since":"2027-03-01","until":"2027-03-02"}',
        time_increment=1,
    )
    assert [(r["date_start"], r["spend"]) for r in by_day] == [
        ("2027-03-01", "240.00"),
        ("2027-03-02", "240.00"),
    ]
    truth = [r for r in market.truth() if r.hour < 24]
    purchases = next(a for a in by_day[0]["actions"] if a["action_type"] == "omni_purchase")
    assert purchases["value"] == str(sum(r.conversions for r in truth))
    ads = meta_insights(client, ref.campaign_id, level="ad", fields=fields, date_preset="yesterday")
    assert {r["ad_id"] for r in ads} == set(ref.ads.values())
    assert all(r["adset_id"] == ref.group_id for r in ads)
    assert sum(Decimal(r["spend"]) for r in ads) == Decimal("240.00")
    hourly = meta_insights(
        client,
        ref.group_id,
        fields="spend",
        date_preset="yesterday",
        breakdowns="hourly_stats_aggregated_by_advertiser_time_zone",
    )
    assert len(hourly) == 24 and hourly[13] == {
        "spend": "10.00",
        "hourly_stats_aggregated_by_advertiser_time_zone": "13:00:00 - 13:59:59",
        "date_start": "2027-03-02",
        "date_stop": "2027-03-02",
    }


def test_reports_lag_by_the_scenarios_reporting_delay(
    client: httpx.Client, state: SandboxState
) -> None:
    market = load(state, segment(), reporting_delay_hours=3)
    ref = market.create_campaign("meta", "prospecting", 240)
    market.advance(hours=10)
    breakdown = "hourly_stats_aggregated_by_advertiser_time_zone"
    rows = meta_insights(client, ref.campaign_id, date_preset="today", breakdowns=breakdown)
    assert [r[breakdown][:2] for r in rows] == [f"{h:02d}" for h in range(7)]
    day = meta_insights(client, ref.campaign_id, date_preset="today", fields="spend")
    assert day[0]["spend"] == "70.00"  # 7 hours of 10 are reported, 3 are still late
    market.advance(hours=3)
    assert meta_insights(client, ref.campaign_id, date_preset="today")[0]["spend"] == "100.00"


def test_days_follow_the_accounts_time_zone(client: httpx.Client, state: SandboxState) -> None:
    client.post(
        "/_sandbox/accounts",
        json={"platform": "meta", "account_id": META_ACT, "settings": {"timezone_name": "Europe/Bucharest"}},
    )  # fmt: skip
    market = load(state, segment())
    ref = market.create_campaign("meta", "prospecting", 240)
    market.advance(days=1)
    rows = meta_insights(
        client,
        ref.campaign_id,
        fields="spend",
        time_range='{"since":"2027-03-01","until":"2027-03-02"}',
        time_increment=1,
    )
    # Bucharest is UTC+2 in March: its 1 March holds UTC hours 0-21, its 2 March the rest
    assert [(r["date_start"], r["spend"]) for r in rows] == [
        ("2027-03-01", "220.00"),
        ("2027-03-02", "20.00"),
    ]


def test_meta_takes_exactly_the_sdks_date_presets(
    client: httpx.Client, state: SandboxState
) -> None:
    market = load(state, segment())
    ref = market.create_campaign("meta", "prospecting", 240)
    market.advance(days=8)
    for preset in sorted(DATE_PRESETS):
        answer = client.get(
            f"/meta/v25.0/{ref.campaign_id}/insights",
            params={"access_token": "sandbox-x", "date_preset": preset},
        )
        assert answer.status_code == 200, preset
    spend = {
        preset: meta_insights(client, ref.campaign_id, date_preset=preset, fields="spend")
        for preset in ("last_7d", "this_week_mon_today", "last_week_mon_sun", "last_3d")
    }
    assert spend["last_7d"][0]["spend"] == "1680.00"
    assert spend["this_week_mon_today"][0]["date_start"] == "2027-03-08"
    assert spend["last_week_mon_sun"][0]["date_stop"] == "2027-03-07"
    assert spend["last_3d"][0]["date_start"] == "2027-03-06"
    refused = client.get(
        f"/meta/v25.0/{ref.campaign_id}/insights",
        params={"access_token": "sandbox-x", "date_preset": "lifetime"},
    )
    assert refused.status_code == 400


def test_gaql_reports_micros_per_date_hour_week_and_device(
    client: httpx.Client, state: SandboxState
) -> None:
    market = load(state, segment(platform="google_ads"))
    ref = market.create_campaign("google_ads", "prospecting", 240)
    market.advance(days=8)
    where = "WHERE segments.date BETWEEN '2027-03-01' AND '2027-03-08'"
    hours = gaql(
        client,
        CUSTOMER,
        f"SELECT campaign.id, segments.date, segments.hour, metrics.cost_micros FROM campaign {where}",
    ).json()["results"]
    assert len(hours) == 8 * 24
    assert hours[5]["segments"] == {"date": "2027-03-01", "hour": 5}
    assert hours[5]["metrics"]["costMicros"] == "10000000"
    weeks = gaql(
        client,
        CUSTOMER,
        f"SELECT segments.week, segments.device, metrics.cost_micros, metrics.conversions FROM campaign {where}",
    ).json()["results"]
    assert [(w["segments"]["week"], w["segments"]["device"]) for w in weeks] == [
        ("2027-03-01", "MOBILE"),
        ("2027-03-08", "MOBILE"),
    ]
    assert weeks[0]["metrics"]["costMicros"] == str(7 * 240 * 1_000_000)
    truth_week = sum(r.conversions for r in market.truth() if r.hour < 7 * 24)
    assert weeks[0]["metrics"]["conversions"] == float(truth_week)
    ads = gaql(
        client,
        CUSTOMER,
        "SELECT ad_group_ad.ad.id, metrics.clicks FROM ad_group_ad WHERE segments.date = '2027-03-02'",
    ).json()["results"]
    assert len(ads) == len(ref.ads) and int(ads[0]["metrics"]["clicks"]) > 0


def test_gaql_search_pages_with_next_page_tokens(
    client: httpx.Client, state: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(google_ads_search, "SEARCH_PAGE_ROWS", 10)
    market = load(state, segment(platform="google_ads"))
    market.create_campaign("google_ads", "prospecting", 240)
    market.advance(days=1)
    query = (
        "SELECT segments.hour, metrics.cost_micros FROM campaign WHERE segments.date = '2027-03-01'"
    )
    seen, token, pages = [], None, 0
    while True:
        body = {"pageToken": token} if token else {}
        page = gaql(client, CUSTOMER, query, returnTotalResultsCount=True, **body).json()
        pages += 1
        assert page["totalResultsCount"] == "24"
        seen += [row["segments"]["hour"] for row in page["results"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert pages == 3 and seen == list(range(24))
    stale = gaql(client, CUSTOMER, "SELECT campaign.id FROM campaign", pageToken=token or "x")
    assert stale.status_code == 400
    assert stale.json()["error"]["details"][0]["errors"][0]["errorCode"] == {
        "requestError": "INVALID_PAGE_TOKEN"
    }


def test_tiktok_reports_days_hours_and_complete_payments_with_its_over_counting(
    client: httpx.Client, state: SandboxState
) -> None:
    market = load(
        state, segment(platform="tiktok", max_daily_conversions=80, platform_reporting_factor=1.5)
    )
    ref = market.create_campaign("tiktok", "prospecting", 240)
    market.advance(days=2)
    metrics = '["spend","complete_payment","total_complete_payment_rate","cost_per_complete_payment","complete_payment_roas"]'
    days = tiktok_report(
        client,
        ADVERTISER,
        data_level="AUCTION_CAMPAIGN",
        dimensions='["campaign_id","stat_time_day"]',
        metrics=metrics,
        start_date="2027-03-01",
        end_date="2027-03-02",
    ).json()["data"]["list"]
    assert [r["dimensions"] for r in days] == [
        {"campaign_id": ref.campaign_id, "stat_time_day": "2027-03-01 00:00:00"},
        {"campaign_id": ref.campaign_id, "stat_time_day": "2027-03-02 00:00:00"},
    ]
    realized = sum(r.conversions for r in market.truth() if r.hour < 24)
    revenue = sum(r.revenue for r in market.truth() if r.hour < 24)
    first = days[0]["metrics"]
    assert float(first["complete_payment"]) == pytest.approx(realized * 1.5)
    assert float(first["total_complete_payment_rate"]) == pytest.approx(revenue * 1.5, abs=0.01)
    assert first["spend"] == "240.00"
    hours = tiktok_report(
        client,
        ADVERTISER,
        data_level="AUCTION_AD",
        dimensions='["ad_id","stat_time_hour"]',
        metrics='["spend"]',
        start_date="2027-03-02",
        end_date="2027-03-02",
    ).json()["data"]
    assert hours["page_info"]["total_number"] == 24
    assert hours["list"][0]["dimensions"]["stat_time_hour"] == "2027-03-02 00:00:00"
    too_long = tiktok_report(
        client,
        ADVERTISER,
        data_level="AUCTION_AD",
        dimensions='["ad_id","stat_time_hour"]',
        start_date="2027-03-01",
        end_date="2027-03-02",
    ).json()
    assert too_long["code"] != 0


def test_identical_scenarios_and_seeds_give_identical_reports() -> None:
    answers = []
    for _ in range(2):
        state = SandboxState()
        market = Market(example(), state)
        market.launch_equal_split()
        market.advance(days=5, hours=7)
        with httpx.Client(transport=sandbox_transport(create_app(state)), base_url="http://s") as c:
            answers.append(
                (
                    meta_insights(c, f"act_{META_ACT}", level="ad", date_preset="last_7d",
                                  fields="ad_id,spend,clicks,actions,action_values", time_increment=1),
                    gaql(c, CUSTOMER, "SELECT campaign.id, segments.date, metrics.clicks, metrics.conversions_value FROM campaign WHERE segments.date DURING LAST_7_DAYS").json()["results"],
                    tiktok_report(c, ADVERTISER, data_level="AUCTION_AD", dimensions='["ad_id"]',
                                  metrics='["spend","complete_payment"]', start_date="2027-03-01",
                                  end_date="2027-03-06").json()["data"],
                )
            )  # fmt: skip
    assert answers[0] == answers[1]
    assert answers[0][0] and answers[0][1] and answers[0][2]["list"]


@pytest.mark.parametrize(
    ("platform", "mode"), [("meta", "5xx"), ("google_ads", "429"), ("tiktok", "timeout")]
)
def test_outages_answer_in_the_platforms_own_error_shape_while_delivery_goes_on(
    client: httpx.Client, state: SandboxState, platform: str, mode: str
) -> None:
    outage = {"platform": platform, "from_hour": 2, "to_hour": 4, "error": mode}
    market = load(state, segment(platform=platform), outages=[outage])
    market.create_campaign(platform, "prospecting", 240)
    read = {
        "meta": lambda: client.get(
            f"/meta/v25.0/act_{META_ACT}/insights", params={"access_token": "sandbox-x"}
        ),
        "google_ads": lambda: gaql(client, CUSTOMER, "SELECT campaign.id FROM campaign"),
        "tiktok": lambda: tiktok_report(
            client, ADVERTISER, data_level="AUCTION_CAMPAIGN", dimensions='["campaign_id"]',
            start_date="2027-03-01", end_date="2027-03-01",
        ),
    }[platform]  # fmt: skip
    market.advance(hours=2, minutes=30)
    if mode == "timeout":
        with pytest.raises(httpx.ReadTimeout):
            read()
    else:
        answer = read()
        if platform == "meta":
            assert answer.status_code == 503
            assert answer.json()["error"]["is_transient"] is True
        else:
            assert answer.status_code == 429
            assert answer.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    market.advance(hours=2)
    assert read().status_code == 200
    spend: dict[int, float] = defaultdict(float)
    for row in market.truth():
        spend[row.hour] += row.spend
    assert spend[2] == pytest.approx(10) and spend[3] == pytest.approx(10)


def test_account_level_reports_sum_every_campaign_of_the_account(
    client: httpx.Client, state: SandboxState
) -> None:
    market = load(state, segment(), segment(platform="google_ads"), segment(platform="tiktok"))
    for platform, budget in (("meta", 120), ("google_ads", 240), ("tiktok", 480)):
        market.create_campaign(platform, "prospecting", budget, name="A [prospecting]")
        market.create_campaign(platform, "prospecting", budget, name="B [prospecting]")
    market.advance(days=1)
    account = meta_insights(
        client, f"act_{META_ACT}", level="account", date_preset="yesterday", fields="spend"
    )
    assert account[0]["spend"] == "240.00"
    customer = gaql(
        client,
        CUSTOMER,
        "SELECT metrics.cost_micros FROM customer WHERE segments.date = '2027-03-01'",
    ).json()["results"]
    assert customer[0]["metrics"]["costMicros"] == str(480 * 1_000_000)
    advertiser = tiktok_report(
        client,
        ADVERTISER,
        data_level="AUCTION_ADVERTISER",
        dimensions='["advertiser_id"]',
        metrics='["spend"]',
        start_date="2027-03-01",
        end_date="2027-03-01",
    ).json()["data"]["list"]
    assert advertiser[0]["metrics"]["spend"] == "960.00"


def test_gaql_week_literals_and_search_stream_batches(
    client: httpx.Client, state: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> None:
    market = load(state, segment(platform="google_ads"))
    market.create_campaign("google_ads", "prospecting", 240)
    market.advance(days=9)  # now Wednesday 2027-03-10 00:00
    spans = {}
    for literal in ("LAST_WEEK_MON_SUN", "THIS_WEEK_MON_TODAY", "LAST_BUSINESS_WEEK"):
        rows = gaql(
            client,
            CUSTOMER,
            f"SELECT segments.date, metrics.cost_micros FROM campaign WHERE segments.date DURING {literal}",
        ).json()["results"]
        spans[literal] = (rows[0]["segments"]["date"], rows[-1]["segments"]["date"])
    assert spans == {
        "LAST_WEEK_MON_SUN": ("2027-03-01", "2027-03-07"),
        "THIS_WEEK_MON_TODAY": ("2027-03-08", "2027-03-10"),
        "LAST_BUSINESS_WEEK": ("2027-03-01", "2027-03-05"),
    }
    monkeypatch.setattr(google_ads_search, "SEARCH_PAGE_ROWS", 100)
    stream = client.post(
        f"/google-ads/v25/customers/{CUSTOMER}/googleAds:searchStream",
        headers={"Authorization": "Bearer sandbox-x", "developer-token": "x"},
        json={
            "query": "SELECT segments.date, segments.hour, metrics.clicks FROM campaign "
            "WHERE segments.date BETWEEN '2027-03-01' AND '2027-03-09'"
        },
    ).json()
    assert [len(batch["results"]) for batch in stream] == [100, 100, 16]


def test_tiktok_complete_payment_ratios_follow_the_counts(
    client: httpx.Client, state: SandboxState
) -> None:
    market = load(state, segment(platform="tiktok", max_daily_conversions=200))
    market.create_campaign("tiktok", "prospecting", 500)
    market.advance(days=1)
    row = tiktok_report(
        client,
        ADVERTISER,
        data_level="AUCTION_ADVERTISER",
        dimensions='["advertiser_id"]',
        metrics='["spend","clicks","complete_payment","cost_per_complete_payment",'
        '"complete_payment_rate","total_complete_payment_rate","value_per_complete_payment",'
        '"complete_payment_roas"]',
        start_date="2027-03-01",
        end_date="2027-03-01",
    ).json()["data"]["list"][0]["metrics"]
    count, value = float(row["complete_payment"]), float(row["total_complete_payment_rate"])
    assert count > 0
    assert float(row["cost_per_complete_payment"]) == pytest.approx(500 / count, abs=0.01)
    assert float(row["value_per_complete_payment"]) == pytest.approx(value / count, abs=0.01)
    assert float(row["complete_payment_rate"]) == pytest.approx(
        count / int(row["clicks"]) * 100, abs=0.01
    )
    assert float(row["complete_payment_roas"]) == pytest.approx(value / 500, abs=0.01)


def test_meta_refuses_breakdowns_it_does_not_simulate(
    client: httpx.Client, state: SandboxState
) -> None:
    market = load(state, segment())
    ref = market.create_campaign("meta", "prospecting", 240)
    answer = client.get(
        f"/meta/v25.0/{ref.campaign_id}/insights",
        params={"access_token": "sandbox-x", "breakdowns": "age,gender"},
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["error_user_title"] == "Invalid breakdowns"
