"""Google Ads metrics: one GAQL search per account and level, paged with nextPageToken.

Days (and `segments.hour`) are in the customer's time zone. `metrics.cost_micros` is an
int64 (a string in JSON); `conversions` and `conversions_value` are doubles, read
through their decimal text so no binary float reaches the money columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, ClassVar

from usher.platforms.campaigns_base import AdAccount, MetricsLevel, MetricsRow
from usher.platforms.campaigns_common import (
    BatchedInsights,
    CallKind,
    decimal_or_zero,
    from_micros,
    int_or_zero,
    parse_day,
)
from usher.platforms.google_ads.api import GoogleAdsApi, last_id
from usher.platforms.google_ads.payloads import PLATFORM

RESOURCES = {
    MetricsLevel.CAMPAIGN: ("campaign", "campaign.id"),
    MetricsLevel.AD_GROUP: ("ad_group", "campaign.id, ad_group.id"),
    MetricsLevel.AD: ("ad_group_ad", "campaign.id, ad_group.id, ad_group_ad.resource_name"),
}
METRICS = (
    "metrics.impressions, metrics.clicks, metrics.cost_micros, metrics.conversions, "
    "metrics.conversions_value"
)


def gaql(
    level: MetricsLevel, since: date, until: date, hourly: bool, campaign_ids: Sequence[str] | None
) -> str:
    resource, ids = RESOURCES[level]
    segments = "segments.date, segments.hour" if hourly else "segments.date"
    query = (
        f"SELECT {ids}, {segments}, {METRICS} FROM {resource} "
        f"WHERE segments.date BETWEEN '{since.isoformat()}' AND '{until.isoformat()}'"
    )
    if campaign_ids is not None:
        query += f" AND campaign.id IN ({', '.join(str(int_or_zero(i)) for i in campaign_ids)})"
    return query


def metrics_row(level: MetricsLevel, row: dict[str, Any], hourly: bool) -> MetricsRow | None:
    segments = row.get("segments") or {}
    metrics = row.get("metrics") or {}
    day = parse_day(segments.get("date"))
    campaign_id = str((row.get("campaign") or {}).get("id") or "")
    if day is None or not campaign_id:
        return None
    ad_group_id = (row.get("adGroup") or {}).get("id")
    ad_resource = (row.get("adGroupAd") or {}).get("resourceName")
    return MetricsRow(
        level=level,
        campaign_id=campaign_id,
        ad_group_id=str(ad_group_id) if ad_group_id else None,
        # The AdGroupAd id (<ad group id>~<ad id>), as publish returns it.
        ad_id=last_id(ad_resource) if ad_resource else None,
        date=day,
        hour=int_or_zero(segments.get("hour")) if hourly else None,
        impressions=int_or_zero(metrics.get("impressions")),
        clicks=int_or_zero(metrics.get("clicks")),
        spend=from_micros(metrics.get("costMicros")),
        conversions=decimal_or_zero(metrics.get("conversions")),
        conversion_value=decimal_or_zero(metrics.get("conversionsValue")),
    )


class GoogleAdsInsightsConnector(BatchedInsights):
    """`InsightsConnector` for Google Ads; `account.account_id` is the customer id."""

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
        rows = GoogleAdsApi(account).search(
            gaql(level, since, until, hourly, campaign_ids), CallKind.METRICS
        )
        found = (metrics_row(level, row, hourly) for row in rows)
        return [row for row in found if row is not None]
