"""TikTok reports: `report/integrated/get/` (BASIC) per account and level, paged.

A report row carries only its own id (campaign, ad group or ad), so for the ad group
and ad levels one paged `adgroup/get` / `ad/get` call maps ids to their parents: still
a fixed number of calls per account and level, never one per campaign. Hourly reports
(`stat_time_hour`) cover one day per request, as TikTok allows; days are the
advertiser's own. Spend and purchase value are strings in major units; purchases are
TikTok's Complete Payment events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, ClassVar

from usher.platforms.campaigns_base import AdAccount, MetricsLevel, MetricsRow
from usher.platforms.campaigns_common import (
    BatchedInsights,
    CallKind,
    decimal_or_zero,
    int_or_zero,
    parse_day,
)
from usher.platforms.tiktok.api import TikTokApi
from usher.platforms.tiktok.payloads import PLATFORM

DATA_LEVELS = {
    MetricsLevel.CAMPAIGN: ("AUCTION_CAMPAIGN", "campaign_id", None),
    MetricsLevel.AD_GROUP: ("AUCTION_ADGROUP", "adgroup_id", "adgroup"),
    MetricsLevel.AD: ("AUCTION_AD", "ad_id", "ad"),
}
METRICS = ["spend", "impressions", "clicks", "complete_payment", "total_purchase_value"]


def metrics_row(
    level: MetricsLevel, item: dict[str, Any], time_key: str, parents: dict[str, dict[str, str]]
) -> MetricsRow | None:
    dimensions = item.get("dimensions") or {}
    metrics = item.get("metrics") or {}
    _, id_key, _ = DATA_LEVELS[level]
    own_id = str(dimensions.get(id_key) or "")
    stamp = str(dimensions.get(time_key) or "")
    day = parse_day(stamp)
    family = parents.get(own_id, {}) if level != MetricsLevel.CAMPAIGN else {"campaign_id": own_id}
    if day is None or not family.get("campaign_id"):
        return None
    return MetricsRow(
        level=level,
        campaign_id=family["campaign_id"],
        ad_group_id=own_id if level == MetricsLevel.AD_GROUP else family.get("adgroup_id"),
        ad_id=own_id if level == MetricsLevel.AD else None,
        date=day,
        hour=int_or_zero(stamp[11:13]) if time_key == "stat_time_hour" else None,
        impressions=int_or_zero(metrics.get("impressions")),
        clicks=int_or_zero(metrics.get("clicks")),
        spend=decimal_or_zero(metrics.get("spend")),
        conversions=decimal_or_zero(metrics.get("complete_payment")),
        conversion_value=decimal_or_zero(metrics.get("total_purchase_value")),
    )


class TikTokInsightsConnector(BatchedInsights):
    """`InsightsConnector` for TikTok; `account.account_id` is the advertiser id."""

    platform: ClassVar[str] = PLATFORM

    def read(
        self,
        account: AdAccount,
        level: MetricsLevel,
        since: date,
        until: date,
        hourly: bool,
        campaign_ids: Sequence[str] | None,
    ) -> list[MetricsRow]:
        api = TikTokApi(account)
        data_level, id_key, kind = DATA_LEVELS[level]
        time_key = "stat_time_hour" if hourly else "stat_time_day"
        filtering = {"campaign_ids": list(campaign_ids)} if campaign_ids is not None else {}
        parents: dict[str, dict[str, str]] = {}
        if kind is not None:
            for item in api.pages(f"{kind}/get", {"filtering": filtering}, CallKind.METRICS):
                parents[str(item.get(f"{kind}_id"))] = {
                    "campaign_id": str(item.get("campaign_id") or ""),
                    "adgroup_id": str(item.get("adgroup_id") or ""),
                }
        days = [since + timedelta(days=n) for n in range((until - since).days + 1)]
        spans = [(day, day) for day in days] if hourly else [(since, until)]
        report: list[dict[str, Any]] = []
        for first, last in spans:
            params: dict[str, Any] = {
                "report_type": "BASIC",
                "data_level": data_level,
                "dimensions": [id_key, time_key],
                "metrics": METRICS,
                "start_date": first.isoformat(),
                "end_date": last.isoformat(),
            }
            if campaign_ids is not None:
                params["filtering"] = [
                    {
                        "field_name": "campaign_ids",
                        "filter_type": "IN",
                        "filter_value": [str(i) for i in campaign_ids],
                    }
                ]
            report += api.pages("report/integrated/get", params, CallKind.METRICS)
        wanted = set(campaign_ids) if campaign_ids is not None else None
        rows = (metrics_row(level, item, time_key, parents) for item in report)
        return [
            row for row in rows if row is not None and (wanted is None or row.campaign_id in wanted)
        ]
