"""Google Ads metrics: one paged GAQL search per account and level."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx

from usher.lib.http import set_transport_for_tests
from usher.platforms.campaigns_base import InsightsConnector, MetricsLevel
from usher.platforms.google_ads.campaigns import GoogleAdsCampaignsConnector
from usher.platforms.google_ads.insights import GoogleAdsInsightsConnector, gaql
from usher.platforms.tests.campaign_helpers import ACCOUNTS, a_spec, record_delivery

ACCOUNT = ACCOUNTS["google_ads"]
DAY = date(2026, 12, 2)


def test_it_satisfies_the_insights_contract() -> None:
    assert isinstance(GoogleAdsInsightsConnector(), InsightsConnector)


def test_it_reads_ad_level_rows_in_currency_units(sandbox) -> None:
    published = GoogleAdsCampaignsConnector().publish(ACCOUNT, a_spec())
    ad_id = published.ads["cr-2"]
    record_delivery(sandbox).put(
        "google_ads", "ad_group_ad", ad_id, DAY,
        impressions=500, clicks=25, spend=Decimal("7.123456"), conversions=1.5,
        conversion_value=Decimal("99.90"),
    )  # fmt: skip
    searches = len(sandbox.requests(platform="google_ads"))

    rows = GoogleAdsInsightsConnector().fetch_metrics(
        ACCOUNT, level=MetricsLevel.AD, since=DAY, until=DAY, hourly=False
    )

    assert len(sandbox.requests(platform="google_ads")) == searches + 1
    row = next(row for row in rows if row.ad_id == ad_id)
    assert row.campaign_id == published.campaign_id
    assert row.ad_group_id == published.ad_group_id
    assert (row.impressions, row.clicks) == (500, 25)
    assert row.spend == Decimal("7.123456")
    assert row.conversions == Decimal("1.5")
    assert row.conversion_value == Decimal("99.9")


def test_the_query_filters_dates_and_campaigns() -> None:
    query = gaql(MetricsLevel.CAMPAIGN, DAY, DAY, True, ["12", "34"])

    assert "segments.hour" in query
    assert "BETWEEN '2026-12-02' AND '2026-12-02'" in query
    assert "campaign.id IN (12, 34)" in query


def test_it_follows_next_page_tokens_and_reads_hours(settings) -> None:
    bodies = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "ya29.x", "expires_in": 3600})
        body = json.loads(request.content)
        bodies.append(body)
        row = {
            "campaign": {"id": "9"},
            "segments": {"date": "2026-12-02", "hour": 7 + len(bodies)},
            "metrics": {"costMicros": "1500000", "conversions": 0.1},
        }
        page = {"results": [row]}
        if "pageToken" not in body:
            page["nextPageToken"] = "p2"
        return httpx.Response(200, json=page)

    transport = httpx.MockTransport(answer)
    settings.PLATFORM_BASE_URLS = {
        **settings.PLATFORM_BASE_URLS,
        "google_ads": "http://ads/google-ads",
        "google_oauth": "http://ads/oauth",
    }
    set_transport_for_tests("google_ads", transport)
    set_transport_for_tests("google_oauth", transport)

    rows = GoogleAdsInsightsConnector().fetch_metrics(
        ACCOUNT, level=MetricsLevel.CAMPAIGN, since=DAY, until=DAY, hourly=True
    )

    assert [(row.hour, row.spend, row.conversions) for row in rows] == [
        (8, Decimal("1.5"), Decimal("0.1")),
        (9, Decimal("1.5"), Decimal("0.1")),
    ]
    assert bodies[1]["pageToken"] == "p2"
