"""What organizers and staff read about their campaigns: the plan's simple report
("you invested X, made Y sales (Z tickets), ROAS W") and a campaign's daily series.
Usher-attributed revenue is shown beside what the platforms claim, which over-count."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum

from usher.campaigns.models import (
    CENTS,
    ZERO,
    AutomatedCampaign,
    CampaignAttribution,
    CampaignMetrics,
    MetricsLevel,
)


@dataclass(frozen=True)
class Report:
    currency: str
    invested: Decimal
    sales: int
    tickets: int
    revenue: Decimal
    roas: Decimal | None
    platform_conversions: Decimal
    platform_revenue: Decimal


def report(campaigns: QuerySet[AutomatedCampaign], currency: str) -> Report:
    """Totals over `campaigns` (already scoped to one organizer by the caller)."""
    invested = campaigns.aggregate(s=Sum("budget_spent"))["s"] or ZERO
    attributed = CampaignAttribution.objects.filter(campaign__in=campaigns).aggregate(
        sales=Count("id"), tickets=Sum("tickets"), revenue=Sum("value")
    )
    claimed = CampaignMetrics.objects.filter(
        campaign__in=campaigns, level=MetricsLevel.CAMPAIGN
    ).aggregate(conversions=Sum("conversions"), value=Sum("conversion_value"))
    revenue = attributed["revenue"] or ZERO
    return Report(
        currency=currency,
        invested=invested.quantize(CENTS),
        sales=attributed["sales"],
        tickets=attributed["tickets"] or 0,
        revenue=revenue.quantize(CENTS),
        roas=(revenue / invested).quantize(CENTS) if invested > 0 else None,
        platform_conversions=(claimed["conversions"] or ZERO).quantize(CENTS),
        platform_revenue=(claimed["value"] or ZERO).quantize(CENTS),
    )


def daily_metrics(campaign: AutomatedCampaign) -> list[dict]:
    """The campaign-level series per day (hourly rows summed), for charts."""
    rows = (
        CampaignMetrics.objects.filter(campaign=campaign, level=MetricsLevel.CAMPAIGN)
        .values("date")
        .annotate(
            impressions=Sum("impressions"),
            clicks=Sum("clicks"),
            spend=Sum("spend"),
            conversions=Sum("conversions"),
            conversion_value=Sum("conversion_value"),
        )
        .order_by("date")
    )
    return [
        {
            **row,
            "spend": row["spend"].quantize(CENTS),
            "conversion_value": row["conversion_value"].quantize(CENTS),
        }
        for row in rows
    ]
