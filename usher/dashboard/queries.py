"""What the organizer panel reads: every number aggregated in the database, scoped to
one organizer, in a bounded number of queries whatever the number of campaigns.

Two views of a campaign's results sit side by side everywhere: what the platforms
report (they count view-throughs and modelled conversions, so they over-count) and what
Usher attributed itself (orders matched to the campaign's clicks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import (
    Case,
    Count,
    DecimalField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils.translation import gettext as _

from usher.campaigns import decisions, reports
from usher.campaigns.models import (
    CENTS,
    ZERO,
    AdCampaignBudget,
    AutomatedCampaign,
    CampaignAttribution,
    CampaignMetrics,
    CampaignStatus,
    DecisionKind,
    MetricsLevel,
    OptimizationLogEntry,
)
from usher.marketplace.models import MarketplaceOrganizer

from .charts import Chart, Dataset

MONEY_OUTPUT = DecimalField(max_digits=14, decimal_places=4)
# The overview lists this many pieces of advice, and as many recent decisions.
RECOMMENDATIONS_SHOWN = 10
# A campaign's detail page shows this many of its latest decisions.
DECISIONS_SHOWN = 50


def ratio(numerator: Decimal | None, denominator: Decimal | int | None) -> Decimal | None:
    """numerator / denominator to the cent, or None where it means nothing (nothing spent,
    no conversion)."""
    if not denominator or numerator is None:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(CENTS)


# --- budgets ---


@dataclass(frozen=True)
class BudgetCard:
    budget: AdCampaignBudget
    days_left: int | None

    @property
    def left(self) -> Decimal:
        return self.budget.remaining


def budget_cards(organizer: MarketplaceOrganizer, now: datetime) -> list[BudgetCard]:
    """Every budget of the organizer with its days left (until its end date; None when it
    runs until spent). One query."""
    budgets = AdCampaignBudget.objects.for_organizer(organizer).select_related("event")
    return [
        BudgetCard(
            budget,
            max((budget.ends_at - now).days, 0) if budget.ends_at is not None else None,
        )
        for budget in budgets.order_by("-created_at", "-id")
    ]


# --- campaigns with both views of their results ---


def _summed(model: type, field: str, output: DecimalField | IntegerField, **filters) -> Coalesce:
    """The per-campaign sum of `field` over `model`'s rows, as a correlated subquery (no
    join fan-out when several sums meet on one row)."""
    rows = (
        model.objects.filter(campaign=OuterRef("pk"), **filters)
        .order_by()
        .values("campaign")
        .annotate(total=Sum(field))
        .values("total")
    )
    return Coalesce(Subquery(rows, output_field=output), Value(0), output_field=output)


def with_results(campaigns: QuerySet[AutomatedCampaign]) -> QuerySet[AutomatedCampaign]:
    """`campaigns` annotated with the platform-reported and Usher-attributed totals."""
    claimed = {"level": MetricsLevel.CAMPAIGN}
    count = IntegerField()
    sales = (
        CampaignAttribution.objects.filter(campaign=OuterRef("pk"))
        .order_by()
        .values("campaign")
        .annotate(n=Count("id"))
        .values("n")
    )
    return campaigns.select_related("event", "budget").annotate(
        impressions=_summed(CampaignMetrics, "impressions", count, **claimed),
        clicks=_summed(CampaignMetrics, "clicks", count, **claimed),
        spend=_summed(CampaignMetrics, "spend", MONEY_OUTPUT, **claimed),
        platform_conversions=_summed(CampaignMetrics, "conversions", MONEY_OUTPUT, **claimed),
        platform_revenue=_summed(CampaignMetrics, "conversion_value", MONEY_OUTPUT, **claimed),
        usher_sales=Coalesce(Subquery(sales, output_field=count), Value(0)),
        usher_tickets=_summed(CampaignAttribution, "tickets", count),
        usher_revenue=_summed(CampaignAttribution, "value", MONEY_OUTPUT),
    )


@dataclass(frozen=True)
class CampaignRow:
    """A campaign and its results, with the ratios worked out for display."""

    campaign: AutomatedCampaign

    @property
    def platform_roas(self) -> Decimal | None:
        return ratio(self.campaign.platform_revenue, self.campaign.budget_spent)

    @property
    def usher_roas(self) -> Decimal | None:
        return ratio(self.campaign.usher_revenue, self.campaign.budget_spent)

    @property
    def platform_cpa(self) -> Decimal | None:
        return ratio(self.campaign.budget_spent, self.campaign.platform_conversions)

    @property
    def usher_cpa(self) -> Decimal | None:
        return ratio(self.campaign.budget_spent, self.campaign.usher_sales)


# The campaign table's order: what spends first, then what waits for staff, then what
# does not run (a suite is mostly skipped kinds until its audiences are ready).
STATUS_ORDER = [
    CampaignStatus.ACTIVE,
    CampaignStatus.PAUSED,
    CampaignStatus.COMPLETED,
    CampaignStatus.APPROVED,
    CampaignStatus.PENDING_REVIEW,
    CampaignStatus.FAILED,
    CampaignStatus.SKIPPED,
    CampaignStatus.REJECTED,
    CampaignStatus.DRAFT,
]


def campaign_rows(campaigns: QuerySet[AutomatedCampaign]) -> list[CampaignRow]:
    """The campaign table: one query, live campaigns first, newest first within a status."""
    rank = Case(
        *(When(status=status, then=Value(i)) for i, status in enumerate(STATUS_ORDER)),
        default=Value(len(STATUS_ORDER)),
        output_field=IntegerField(),
    )
    ordered = with_results(campaigns).order_by(rank, "-created_at", "-id")
    return [CampaignRow(c) for c in ordered]


# --- the plain report, per currency ---


def plain_reports(organizer: MarketplaceOrganizer) -> list[reports.Report]:
    """The plan's report, once per currency the organizer's budgets are in (sums across
    currencies mean nothing): 1 + 3 queries per currency."""
    campaigns = AutomatedCampaign.objects.for_organizer(organizer)
    currencies = sorted(
        set(AdCampaignBudget.objects.for_organizer(organizer).values_list("currency", flat=True))
    )
    return [
        reports.report(campaigns.filter(budget__currency=currency), currency)
        for currency in currencies
    ]


# --- charts ---


def performance_chart(
    campaigns: QuerySet[AutomatedCampaign], currency: str, element_id: str = "performance"
) -> Chart:
    """Spend and revenue per day (platform-reported spend, Usher-attributed revenue by the
    order's day) and Usher's ROAS of the day: two queries."""
    spend = dict(
        CampaignMetrics.objects.filter(campaign__in=campaigns, level=MetricsLevel.CAMPAIGN)
        .order_by()
        .values("date")
        .annotate(total=Sum("spend"))
        .values_list("date", "total")
    )
    revenue = dict(
        CampaignAttribution.objects.filter(campaign__in=campaigns)
        .order_by()
        .annotate(day=TruncDate("order__placed_at"))
        .values("day")
        .annotate(total=Sum("value"))
        .values_list("day", "total")
    )
    days: list[date] = sorted(set(spend) | set(revenue))
    spent = [(spend.get(day) or ZERO).quantize(CENTS) for day in days]
    earned = [(revenue.get(day) or ZERO).quantize(CENTS) for day in days]
    return Chart(
        element_id=element_id,
        title=_("Spend, revenue and ROAS per day"),
        labels=[day.isoformat() for day in days],
        datasets=[
            Dataset(_("Spend"), spent, type="bar"),
            Dataset(_("Revenue (Usher)"), earned, type="bar"),
            Dataset(
                _("ROAS (Usher)"),
                [ratio(e, s) for e, s in zip(earned, spent, strict=True)],
                axis="ratio",
                type="line",
            ),
        ],
        type="bar",
        currency=currency,
    )


def platform_chart(campaigns: QuerySet[AutomatedCampaign], currency: str) -> Chart:
    """Per platform: what was spent, what the platform claims, what Usher attributed.
    One query."""
    rows = list(
        with_results(campaigns)
        .order_by()
        .values("platform")
        .annotate(
            spent=Sum("budget_spent"),
            claimed=Sum("platform_revenue"),
            attributed=Sum("usher_revenue"),
        )
        .order_by("platform")
    )
    labels = {
        value: str(label) for value, label in AutomatedCampaign._meta.get_field("platform").choices
    }
    return Chart(
        element_id="platforms",
        title=_("Spend and revenue per platform"),
        labels=[labels.get(row["platform"], row["platform"]) for row in rows],
        datasets=[
            Dataset(_("Spend"), [(row["spent"] or ZERO).quantize(CENTS) for row in rows]),
            Dataset(
                _("Revenue (platform)"), [(row["claimed"] or ZERO).quantize(CENTS) for row in rows]
            ),
            Dataset(
                _("Revenue (Usher)"), [(row["attributed"] or ZERO).quantize(CENTS) for row in rows]
            ),
        ],
        type="bar",
        currency=currency,
    )


def campaign_chart(campaign: AutomatedCampaign) -> Chart:
    """A campaign's daily series as its platform reports it. One query."""
    rows = reports.daily_metrics(campaign)
    return Chart(
        element_id="campaign-daily",
        title=_("Per day, as the platform reports"),
        labels=[row["date"].isoformat() for row in rows],
        datasets=[
            Dataset(_("Spend"), [row["spend"] for row in rows], type="bar"),
            Dataset(_("Conversion value"), [row["conversion_value"] for row in rows], type="bar"),
            Dataset(_("Clicks"), [row["clicks"] for row in rows], axis="count", type="line"),
        ],
        type="bar",
        currency=campaign.budget.currency,
    )


# --- decisions ---


def advice(organizer: MarketplaceOrganizer) -> QuerySet[OptimizationLogEntry]:
    """The optimizer's advice in force for the organizer's live budgets."""
    entries = OptimizationLogEntry.objects.for_organizer(organizer)
    return decisions.current_advice(entries)[:RECOMMENDATIONS_SHOWN]


def recent_decisions(organizer: MarketplaceOrganizer) -> QuerySet[OptimizationLogEntry]:
    """The latest decisions that state an expected effect (advice is shown apart)."""
    return (
        OptimizationLogEntry.objects.for_organizer(organizer)
        .exclude(expected_effect="")
        .exclude(kind=DecisionKind.RECOMMENDATION)
        .select_related("campaign")
        .order_by("-created_at", "-id")[:RECOMMENDATIONS_SHOWN]
    )


def decision_log(campaign: AutomatedCampaign) -> QuerySet[OptimizationLogEntry]:
    return OptimizationLogEntry.objects.filter(campaign=campaign).order_by("-created_at", "-id")[
        :DECISIONS_SHOWN
    ]
