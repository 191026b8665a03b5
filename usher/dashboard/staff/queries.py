"""What the staff dashboards read, aggregated in the database.

Each function is a fixed number of queries whatever the number of campaigns, budgets or
deliveries: sums and counts are grouped by SQL (per currency, organizer, platform or
day), never added up row by row in Python. Callers pass querysets already scoped to the
staff user's marketplace (`usher.lib.admin.scope_for_staff`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from usher.campaigns.models import (
    CENTS,
    LIVE_STATUSES,
    ZERO,
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetStatus,
    CampaignAttribution,
    CampaignMetrics,
    MetricsLevel,
)
from usher.conversions.models import OPEN_STATUSES, ConversionDelivery, DeliveryStatus

MONEY_OUT = DecimalField(max_digits=14, decimal_places=2)
COUNT_OUT = DecimalField(max_digits=14, decimal_places=4)
PERCENT = Decimal("0.1")
# Budgets whose money is (or was) at work: the ones staff compare spend against.
FUNDED_BUDGET_STATUSES = (BudgetStatus.ACTIVE, BudgetStatus.PAUSED, BudgetStatus.EXHAUSTED)


@dataclass(frozen=True)
class Period:
    """Calendar days, both ends included, in UTC."""

    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def end_before(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class Totals:
    """One currency's totals over a period; ROAS and CPA are ratios of the sums (an
    average weighted by spend), on Usher-attributed sales."""

    currency: str
    spend: Decimal
    platform_conversions: Decimal
    platform_revenue: Decimal
    sales: int
    revenue: Decimal

    @property
    def roas(self) -> Decimal | None:
        return (self.revenue / self.spend).quantize(CENTS) if self.spend > 0 else None

    @property
    def cpa(self) -> Decimal | None:
        return (self.spend / self.sales).quantize(CENTS) if self.sales else None


def _metrics(period: Period) -> QuerySet[CampaignMetrics]:
    """Campaign-level rows of the period (the level metrics sync keeps per hour)."""
    return CampaignMetrics.objects.filter(
        level=MetricsLevel.CAMPAIGN, date__gte=period.start, date__lte=period.end
    )


def _attributions(period: Period) -> QuerySet[CampaignAttribution]:
    """Usher-attributed orders placed in the period."""
    return CampaignAttribution.objects.filter(
        order__placed_at__gte=period.start_at, order__placed_at__lt=period.end_before
    )


def totals(campaigns: QuerySet[AutomatedCampaign], period: Period) -> list[Totals]:
    """Spend, conversions and revenue of `campaigns` over `period`, per currency (a
    marketplace may run budgets in several): two grouped queries."""
    currency = "campaign__budget__currency"
    reported = (
        _metrics(period)
        .filter(campaign__in=campaigns)
        .values(currency)
        .annotate(spend=Sum("spend"), conversions=Sum("conversions"), value=Sum("conversion_value"))
        .order_by(currency)
    )
    attributed = (
        _attributions(period)
        .filter(campaign__in=campaigns)
        .values(currency)
        .annotate(sales=Count("id"), revenue=Sum("value"))
        .order_by(currency)
    )
    merged: dict[str, dict] = defaultdict(dict)
    for row in reported:
        merged[row[currency]].update(row)
    for row in attributed:
        merged[row[currency]].update(row)
    return [
        Totals(
            currency=code,
            spend=(row.get("spend") or ZERO).quantize(CENTS),
            platform_conversions=(row.get("conversions") or ZERO).quantize(CENTS),
            platform_revenue=(row.get("value") or ZERO).quantize(CENTS),
            sales=row.get("sales") or 0,
            revenue=(row.get("revenue") or ZERO).quantize(CENTS),
        )
        for code, row in sorted(merged.items())
    ]


def _sum_of(rows: QuerySet, field: str, output: DecimalField) -> Coalesce:
    """A correlated subquery summing `field` of `rows` per campaign (one SQL query for
    the whole list; a join of metrics and attributions would multiply their rows)."""
    per_campaign = (
        rows.filter(campaign=OuterRef("pk"))
        .order_by()
        .values("campaign")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(per_campaign, output_field=output), Value(ZERO), output_field=output)


def live_campaigns(
    campaigns: QuerySet[AutomatedCampaign], period: Period
) -> QuerySet[AutomatedCampaign]:
    """Active and paused campaigns (the ones staff may pause, resume or re-budget), each
    with its period's spend, reported conversions and attributed sales and revenue."""
    sales = (
        _attributions(period)
        .filter(campaign=OuterRef("pk"))
        .order_by()
        .values("campaign")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        campaigns.filter(status__in=LIVE_STATUSES)
        .select_related("organizer", "event", "budget")
        .annotate(
            period_spend=_sum_of(_metrics(period), "spend", MONEY_OUT),
            period_conversions=_sum_of(_metrics(period), "conversions", COUNT_OUT),
            period_sales=Coalesce(
                Subquery(sales, output_field=IntegerField()), Value(0), output_field=IntegerField()
            ),
            period_revenue=_sum_of(_attributions(period), "value", MONEY_OUT),
        )
        .order_by("organizer__name", "event__name", "platform", "campaign_type", "pk")
    )


def spend_vs_budget(budgets: QuerySet[AdCampaignBudget]) -> list[dict]:
    """Per organizer and currency: the money of its funded budgets, what the platforms
    report spent, and what is left (one grouped query)."""
    rows = (
        budgets.filter(status__in=FUNDED_BUDGET_STATUSES)
        .values("organizer_id", "organizer__name", "currency")
        .annotate(
            budgets=Count("id"),
            total=Sum("total_budget"),
            spent=Sum("spent_budget"),
            remaining=Sum(F("total_budget") - F("spent_budget"), output_field=MONEY_OUT),
        )
        .order_by("organizer__name", "currency")
    )
    return [
        {
            **row,
            **{key: row[key].quantize(CENTS) for key in ("total", "spent", "remaining")},
            "spent_pct": (100 * row["spent"] / row["total"]).quantize(PERCENT)
            if row["total"]
            else None,
        }
        for row in rows
    ]


def funded_budgets(budgets: QuerySet[AdCampaignBudget]) -> QuerySet[AdCampaignBudget]:
    """The budgets staff adjust, pause or resume from the dashboard."""
    return (
        budgets.filter(status__in=FUNDED_BUDGET_STATUSES)
        .select_related("organizer", "event")
        .order_by("organizer__name", "-created_at")
    )


def spend_by_platform_per_day(
    campaigns: QuerySet[AutomatedCampaign], period: Period
) -> dict[str, dict]:
    """{currency: {platform: [spend per day of `period`, 0 on days without delivery]}},
    for the chart (one query)."""
    rows = (
        _metrics(period)
        .filter(campaign__in=campaigns)
        .values("date", "campaign__platform", "campaign__budget__currency")
        .annotate(spend=Sum("spend"))
        .order_by("campaign__budget__currency", "campaign__platform", "date")
    )
    index = {day: n for n, day in enumerate(period.days)}
    charts: dict[str, dict[str, list[Decimal]]] = {}
    for row in rows:
        series = charts.setdefault(row["campaign__budget__currency"], {})
        values = series.setdefault(row["campaign__platform"], [ZERO] * len(index))
        values[index[row["date"]]] = row["spend"].quantize(CENTS)
    return charts


def delivery_health(deliveries: QuerySet[ConversionDelivery], period: Period) -> list[dict]:
    """Conversions created in the period per platform and organizer, by outcome: one
    grouped query. "Retrying" counts every open delivery (pending, sending, retrying)."""
    return list(
        deliveries.filter(created_at__gte=period.start_at, created_at__lt=period.end_before)
        .values("provider", "organizer_id", "organizer__name")
        .annotate(
            total=Count("id"),
            delivered=Count("id", filter=Q(status=DeliveryStatus.DELIVERED)),
            rejected=Count("id", filter=Q(status=DeliveryStatus.REJECTED)),
            retrying=Count("id", filter=Q(status__in=OPEN_STATUSES)),
            dead=Count("id", filter=Q(status=DeliveryStatus.DEAD)),
        )
        .order_by("provider", "organizer__name")
    )
