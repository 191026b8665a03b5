"""Meta insights: one `GET /act_<id>/insights` per account and level, paged.

Days are the ad account's own (Meta reports in the account's time zone); hourly rows
come from the `hourly_stats_aggregated_by_advertiser_time_zone` breakdown. Spend is a
string in major units; purchases are read from `actions` / `action_values` under one
action type (web purchases through the pixel and CAPI, else all channels), never summed
across types, which would count one purchase twice (docs/platforms.md, Meta: insights).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any, ClassVar

from django.conf import settings

from usher.platforms.campaigns_base import AdAccount, MetricsLevel, MetricsRow
from usher.platforms.campaigns_common import (
    BatchedInsights,
    CallKind,
    decimal_or_zero,
    int_or_zero,
    management_request,
    parse_day,
    require_token,
    unexpected,
)
from usher.platforms.meta.campaigns import PLATFORM, account_path, next_cursor

LEVELS = {MetricsLevel.CAMPAIGN: "campaign", MetricsLevel.AD_GROUP: "adset", MetricsLevel.AD: "ad"}
ID_FIELDS = {
    MetricsLevel.CAMPAIGN: ("campaign_id",),
    MetricsLevel.AD_GROUP: ("campaign_id", "adset_id"),
    MetricsLevel.AD: ("campaign_id", "adset_id", "ad_id"),
}
METRIC_FIELDS = ("impressions", "inline_link_clicks", "spend", "actions", "action_values")
HOURLY_BREAKDOWN = "hourly_stats_aggregated_by_advertiser_time_zone"
# In order of preference; the first one present is used, never their sum.
PURCHASE_ACTION_TYPES = ("offsite_conversion.fb_pixel_purchase", "omni_purchase", "purchase")
PAGE_SIZE = 500
MAX_PAGES = 200


def purchase_value(entries: Any) -> Any:
    """The value of the preferred purchase action type in an actions list, else 0."""
    by_type = {
        entry.get("action_type"): entry.get("value")
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict)
    }
    return next((by_type[kind] for kind in PURCHASE_ACTION_TYPES if kind in by_type), 0)


def metrics_row(level: MetricsLevel, item: dict[str, Any], hourly: bool) -> MetricsRow | None:
    """One insights row as a MetricsRow; None for rows without a date or campaign."""
    day = parse_day(item.get("date_start"))
    campaign_id = str(item.get("campaign_id") or "")
    if day is None or not campaign_id:
        return None
    hour = None
    if hourly:
        hour = int_or_zero(str(item.get(HOURLY_BREAKDOWN) or "")[:2])
    return MetricsRow(
        level=level,
        campaign_id=campaign_id,
        ad_group_id=str(item["adset_id"]) if item.get("adset_id") else None,
        ad_id=str(item["ad_id"]) if item.get("ad_id") else None,
        date=day,
        hour=hour,
        impressions=int_or_zero(item.get("impressions")),
        # Link clicks: the clicks that reach the event page, as Google and TikTok count.
        clicks=int_or_zero(item.get("inline_link_clicks")),
        spend=decimal_or_zero(item.get("spend")),
        conversions=decimal_or_zero(purchase_value(item.get("actions"))),
        conversion_value=decimal_or_zero(purchase_value(item.get("action_values"))),
    )


class MetaInsightsConnector(BatchedInsights):
    """`InsightsConnector` for Meta; `account.account_id` is the ad account."""

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
        token = require_token(account)
        params: dict[str, Any] = {
            "level": LEVELS[level],
            "fields": ",".join((*ID_FIELDS[level], *METRIC_FIELDS)),
            "time_range": json.dumps({"since": since.isoformat(), "until": until.isoformat()}),
            "time_increment": 1,
            "limit": PAGE_SIZE,
        }
        if hourly:
            params["breakdowns"] = HOURLY_BREAKDOWN
        if campaign_ids is not None:
            params["filtering"] = json.dumps(
                [{"field": "campaign.id", "operator": "IN", "value": sorted(campaign_ids)}]
            )
        rows: list[MetricsRow] = []
        for _ in range(MAX_PAGES):
            answer = management_request(
                account,
                CallKind.METRICS,
                "GET",
                f"/{settings.META_GRAPH_API_VERSION}/{account_path(account)}/insights",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                secrets=[token],
            ).json
            if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
                raise unexpected(PLATFORM, "insights without data")
            found = (
                metrics_row(level, item, hourly)
                for item in answer["data"]
                if isinstance(item, dict)
            )
            rows.extend(row for row in found if row is not None)
            after = next_cursor(answer)
            if after is None:
                break
            params = params | {"after": after}
        return rows
