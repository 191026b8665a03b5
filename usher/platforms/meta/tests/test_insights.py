"""Meta insights: one paged call per account and level, numbers as Decimal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx

from usher.lib.http import set_transport_for_tests
from usher.platforms.campaigns_base import InsightsConnector, MetricsLevel, MetricsRow
from usher.platforms.meta.campaigns import MetaCampaignsConnector
from usher.platforms.meta.insights import MetaInsightsConnector, metrics_row
from usher.platforms.tests.campaign_helpers import ACCOUNTS, a_spec, record_delivery

ACCOUNT = ACCOUNTS["meta"]
DAY = date(2026, 12, 2)


def test_it_satisfies_the_insights_contract() -> None:
    assert isinstance(MetaInsightsConnector(), InsightsConnector)


def test_it_reads_daily_rows_for_every_campaign_in_one_call(sandbox) -> None:
    connector = MetaCampaignsConnector()
    first = connector.publish(ACCOUNT, a_spec())
    second = connector.publish(ACCOUNT, a_spec(reference="usher-c-2"))
    delivery = record_delivery(sandbox)
    delivery.put(
        "meta", "campaign", first.campaign_id, DAY,
        impressions=1200, clicks=30, spend=Decimal("14.37"), conversions=3.0,
        conversion_value=Decimal("450.00"),
    )  # fmt: skip
    delivery.put("meta", "campaign", second.campaign_id, DAY, spend=Decimal("0.99"))
    before = len(sandbox.requests(platform="meta"))

    rows = MetaInsightsConnector().fetch_metrics(
        ACCOUNT, level=MetricsLevel.CAMPAIGN, since=DAY, until=DAY, hourly=False
    )

    assert len(sandbox.requests(platform="meta")) == before + 1
    by_campaign = {row.campaign_id: row for row in rows}
    assert by_campaign[first.campaign_id] == MetricsRow(
        level=MetricsLevel.CAMPAIGN,
        campaign_id=first.campaign_id,
        date=DAY,
        impressions=1200,
        clicks=30,
        spend=Decimal("14.37"),
        conversions=Decimal("3"),
        conversion_value=Decimal("450.00"),
    )
    assert by_campaign[second.campaign_id].spend == Decimal("0.99")


def test_it_reads_ad_rows_with_their_parents(sandbox) -> None:
    published = MetaCampaignsConnector().publish(ACCOUNT, a_spec())
    ad_id = published.ads["cr-1"]
    record_delivery(sandbox).put("meta", "ad", ad_id, DAY, spend=Decimal("2.50"))

    rows = MetaInsightsConnector().fetch_metrics(
        ACCOUNT,
        level=MetricsLevel.AD,
        since=DAY,
        until=DAY,
        hourly=False,
        campaign_ids=[published.campaign_id],
    )

    row = next(row for row in rows if row.ad_id == ad_id)
    assert (row.campaign_id, row.ad_group_id, row.spend) == (
        published.campaign_id,
        published.ad_group_id,
        Decimal("2.50"),
    )


def test_an_hourly_row_carries_its_hour() -> None:
    item = {
        "campaign_id": "7",
        "date_start": "2026-12-02",
        "hourly_stats_aggregated_by_advertiser_time_zone": "13:00:00 - 13:59:59",
        "spend": "1.05",
        "impressions": "80",
        "inline_link_clicks": "2",
        "actions": [
            {"action_type": "omni_purchase", "value": "2"},
            {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "1"},
        ],
    }

    row = metrics_row(MetricsLevel.CAMPAIGN, item, hourly=True)

    assert row is not None and row.hour == 13
    assert row.conversions == Decimal("1")  # the pixel's purchases, never the sum


def test_it_follows_paging_cursors_and_asks_for_the_hourly_breakdown(settings) -> None:
    seen: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        row = {"campaign_id": "7", "date_start": "2026-12-02", "spend": "1.00"}
        if "after" not in request.url.params:
            paging = {"cursors": {"after": "QVFI"}, "next": "https://graph/next?after=QVFI"}
            return httpx.Response(200, json={"data": [row], "paging": paging})
        return httpx.Response(200, json={"data": [row | {"spend": "2.00"}], "paging": {}})

    settings.PLATFORM_BASE_URLS = {**settings.PLATFORM_BASE_URLS, "meta": "http://graph/meta"}
    set_transport_for_tests("meta", httpx.MockTransport(answer))

    rows = MetaInsightsConnector().fetch_metrics(
        ACCOUNT, level=MetricsLevel.CAMPAIGN, since=DAY, until=DAY, hourly=True
    )

    assert [row.spend for row in rows] == [Decimal("1.00"), Decimal("2.00")]
    assert seen[0].params["breakdowns"] == "hourly_stats_aggregated_by_advertiser_time_zone"
    assert seen[1].params["after"] == "QVFI"


def test_an_empty_campaign_filter_reads_nothing(sandbox) -> None:
    rows = MetaInsightsConnector().fetch_metrics(
        ACCOUNT, level=MetricsLevel.CAMPAIGN, since=DAY, until=DAY, hourly=False, campaign_ids=[]
    )

    assert rows == [] and sandbox.requests(platform="meta") == []
