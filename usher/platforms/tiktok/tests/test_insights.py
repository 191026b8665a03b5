"""TikTok reports: a fixed number of paged calls per account and level."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx

from usher.lib.http import set_transport_for_tests
from usher.platforms.campaigns_base import InsightsConnector, MetricsLevel
from usher.platforms.tests.campaign_helpers import ACCOUNTS, a_spec, record_delivery
from usher.platforms.tiktok.campaigns import TikTokCampaignsConnector
from usher.platforms.tiktok.insights import TikTokInsightsConnector

ACCOUNT = ACCOUNTS["tiktok"]
DAY = date(2026, 12, 2)


def test_it_satisfies_the_insights_contract() -> None:
    assert isinstance(TikTokInsightsConnector(), InsightsConnector)


def test_it_reads_ad_rows_with_their_campaign_and_ad_group(sandbox) -> None:
    connector = TikTokCampaignsConnector()
    first = connector.publish(ACCOUNT, a_spec())
    second = connector.publish(ACCOUNT, a_spec(reference="usher-c-2"))
    delivery = record_delivery(sandbox)
    delivery.put(
        "tiktok", "ad", second.ads["cr-1"], DAY,
        impressions=900, clicks=12, spend=Decimal("8.40"), conversions=2.0,
        conversion_value=Decimal("240.00"),
    )  # fmt: skip
    delivery.put("tiktok", "ad", first.ads["cr-2"], DAY, spend=Decimal("1.10"))
    before = len(sandbox.requests(platform="tiktok"))

    rows = TikTokInsightsConnector().fetch_metrics(
        ACCOUNT, level=MetricsLevel.AD, since=DAY, until=DAY, hourly=False
    )

    assert len(sandbox.requests(platform="tiktok")) == before + 2  # ad/get + one report
    row = next(row for row in rows if row.ad_id == second.ads["cr-1"])
    assert (row.campaign_id, row.ad_group_id) == (second.campaign_id, second.ad_group_id)
    assert (row.spend, row.conversions, row.conversion_value) == (
        Decimal("8.40"),
        Decimal("2"),
        Decimal("240.00"),
    )
    other = next(row for row in rows if row.ad_id == first.ads["cr-2"])
    assert (other.campaign_id, other.spend) == (first.campaign_id, Decimal("1.10"))


def test_it_keeps_only_the_asked_campaigns(sandbox) -> None:
    connector = TikTokCampaignsConnector()
    first = connector.publish(ACCOUNT, a_spec())
    second = connector.publish(ACCOUNT, a_spec(reference="usher-c-2"))
    delivery = record_delivery(sandbox)
    for published in (first, second):
        delivery.put("tiktok", "campaign", published.campaign_id, DAY, spend=Decimal("5"))

    rows = TikTokInsightsConnector().fetch_metrics(
        ACCOUNT,
        level=MetricsLevel.CAMPAIGN,
        since=DAY,
        until=DAY,
        hourly=False,
        campaign_ids=[first.campaign_id],
    )

    assert [row.campaign_id for row in rows] == [first.campaign_id]


def test_hourly_reports_read_one_day_per_request(settings) -> None:
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        day = request.url.params["start_date"]
        row = {
            "dimensions": {"campaign_id": "5", "stat_time_hour": f"{day} 21:00:00"},
            "metrics": {"spend": "3.10", "complete_payment": "1"},
        }
        data = {"list": [row], "page_info": {"page": 1, "total_page": 1}}
        return httpx.Response(200, json={"code": 0, "message": "OK", "data": data})

    settings.PLATFORM_BASE_URLS = {**settings.PLATFORM_BASE_URLS, "tiktok": "http://tt/tiktok"}
    set_transport_for_tests("tiktok", httpx.MockTransport(answer))

    rows = TikTokInsightsConnector().fetch_metrics(
        ACCOUNT, level=MetricsLevel.CAMPAIGN, since=DAY, until=date(2026, 12, 3), hourly=True
    )

    assert [(row.date, row.hour, row.spend) for row in rows] == [
        (DAY, 21, Decimal("3.10")),
        (date(2026, 12, 3), 21, Decimal("3.10")),
    ]
    assert [url.params["start_date"] for url in seen] == ["2026-12-02", "2026-12-03"]
    assert '"stat_time_hour"' in seen[0].params["dimensions"]
