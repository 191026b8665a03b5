"""The hourly optimization of one budget: the optimizer's inputs from the stored metrics,
its decisions applied through spend control and publishing, every decision logged.

The optimizer itself (`usher.campaigns.optimizer`) is pure; this module is its only
door to the database and the platforms:

- it reads what Usher knows: the campaign-level hourly `CampaignMetrics` (what the
  platforms reported, and up to which hour), the ad-level rows (creatives), Usher's own
  `CampaignAttribution` (orders through the closed loop), the budget's ledger, the
  staff overrides and the optimizer's own earlier decisions (from the log);
- it applies: a new budget, a pause or a resume becomes the campaign's
  `desired_daily_budget` and one `spend_control.rebalance_budget` call puts it on the
  platforms — spend control caps every wish to what the remainder can fund, so money
  is written nowhere else; a losing creative is paused through `publishing`;
- it logs every decision as an `OptimizationLogEntry` (actor `optimizer`), with
  `applied` false when a platform refused it (the next hour decides again), and
  stores the organizer's recommendations as entries of kind `recommendation`.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from usher.campaigns import ledger, publishing, spend_control
from usher.campaigns.decisions import log_decision
from usher.campaigns.models import (
    ZERO,
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetStatus,
    CampaignAttribution,
    CampaignMetrics,
    CampaignStatus,
    DecisionKind,
    OptimizationLogEntry,
    OverrideKind,
)
from usher.campaigns.optimizer import decisions as opt
from usher.campaigns.optimizer.cycle import run_cycle
from usher.campaigns.optimizer.state import (
    CampaignState,
    CreativeState,
    DayMetrics,
    Override,
    SuiteState,
)
from usher.campaigns.suite import creative_tag
from usher.lib.timezones import zone_named
from usher.platforms.base import PlatformError
from usher.platforms.campaigns_base import MetricsLevel
from usher.platforms.registry import get_campaigns_connector

logger = logging.getLogger("usher.campaigns")

OPTIMIZER_ACTOR = "optimizer"
HOURS_PER_DAY = 24
DAY = timedelta(days=1)
# The optimizer's decision kinds as the log's kinds (spend safety's cuts are spend caps).
LOG_KIND = {
    opt.DecisionKind.SET_BUDGET: DecisionKind.BUDGET_CHANGE,
    opt.DecisionKind.PAUSE_CAMPAIGN: DecisionKind.PAUSE,
    opt.DecisionKind.RESUME_CAMPAIGN: DecisionKind.RESUME,
    opt.DecisionKind.PAUSE_CREATIVE: DecisionKind.CREATIVE_ROTATION,
    opt.DecisionKind.KEEP_OVERRIDE: DecisionKind.OVERRIDE,
}
# Campaigns the optimizer looks at: on their platform, running or paused.
OPTIMIZED_STATUSES = (CampaignStatus.ACTIVE, CampaignStatus.PAUSED)


@dataclass
class OptimizationOutcome:
    """What one hourly cycle of a budget did (the job's counts)."""

    decisions: int = 0
    applied: int = 0
    refused: int = 0
    recommendations: int = 0
    skipped: str = ""
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Flight:
    """The budget's flight on the optimizer's clock, in one time zone: day 0 starts at
    the local midnight of the day the budget started; the flight ends with its last
    campaign.

    The zone is the suite's ad accounts' own when they agree (the usual case): the
    platforms report hours and spend days, and reset daily budgets, in the account's time
    zone, so the optimizer's days are the platforms' days. Accounts in several zones fall
    back to the marketplace's zone, and each account's hours are converted into it.
    Hours are on the local clock (day * 24 + hour of day), so a day of daylight-saving
    change still has hours 0-23."""

    start: datetime
    days: int
    zone: ZoneInfo

    def day_of(self, when: date) -> int:
        """The flight day of a local date in the flight's zone."""
        return (when - self.start.date()).days

    def hour_of(self, when: datetime) -> int:
        local = when.astimezone(self.zone)
        return self.day_of(local.date()) * HOURS_PER_DAY + local.hour

    def local_hour(self, day: date, hour: int, zone: ZoneInfo) -> tuple[int, int]:
        """(flight day, hour of day) of an hour a platform reported in `zone`'s time."""
        if zone == self.zone:
            return self.day_of(day), hour
        local = datetime.combine(day, time(hour), tzinfo=zone).astimezone(self.zone)
        return self.day_of(local.date()), local.hour


def flight_zone(budget: AdCampaignBudget, campaigns: list[AutomatedCampaign]) -> ZoneInfo:
    zones = {c.ad_account.timezone for c in campaigns if c.ad_account_id}
    return zone_named(zones.pop() if len(zones) == 1 else budget.client.timezone)


def flight_of(budget: AdCampaignBudget, campaigns: list[AutomatedCampaign]) -> Flight | None:
    began = budget.started_at or budget.paid_at
    ends = [c.ends_at for c in campaigns if c.ends_at] or [budget.ends_at]
    if began is None or None in ends:
        return None
    zone = flight_zone(budget, campaigns)
    start = began.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    end = max(e for e in ends if e is not None)
    return Flight(start, max(1, math.ceil((end - start) / DAY)), zone)


def optimize_budget(budget_id: int, *, now: datetime | None = None) -> OptimizationOutcome:
    """One hourly cycle of one budget: read, decide, apply, log."""
    now = now or timezone.now()
    outcome = OptimizationOutcome()
    budget = AdCampaignBudget.objects.select_related("client").get(pk=budget_id)
    if budget.status != BudgetStatus.ACTIVE:
        outcome.skipped = f"budget is {budget.status}"
        return outcome
    campaigns = list(
        budget.campaigns.filter(status__in=OPTIMIZED_STATUSES)
        .exclude(external_campaign_id="")
        .select_related("ad_account")
        .prefetch_related("creatives")
        .order_by("pk")
    )
    flight = flight_of(budget, campaigns)
    if not campaigns or flight is None:
        outcome.skipped = "no published campaign with a flight end"
        return outcome
    state = suite_state(budget, campaigns, flight, now)
    result = run_cycle(state, seed=budget.pk, recommend=_recommendations_due(budget, now))
    apply_decisions(budget, campaigns, result.decisions, outcome, now)
    outcome.recommendations = store_recommendations(budget, campaigns, result.recommendations)
    return outcome


# --- reading ---------------------------------------------------------------------


def suite_state(
    budget: AdCampaignBudget, campaigns: list[AutomatedCampaign], flight: Flight, now: datetime
) -> SuiteState:
    """The optimizer's snapshot of the budget, built from what Usher stored."""
    hour_now = flight.hour_of(now)
    hourly = _hourly_rows(campaigns, flight)
    reported = _reported_through(campaigns, hourly, flight)
    attributed = _attributed(campaigns, flight)
    by_creative = _attributed_by_creative(campaigns)
    history = _optimizer_history(campaigns)
    states = []
    for campaign in campaigns:
        connector = get_campaigns_connector(campaign.platform)
        through = reported.get(campaign.ad_account_id, 0)
        days = _days(campaign, flight, hour_now, hourly, attributed, through, history)
        weekly = connector.weekly_overdelivery_factor
        states.append(
            CampaignState(
                campaign_id=str(campaign.pk),
                platform=campaign.platform,
                campaign_type=campaign.campaign_type,
                active=campaign.status == CampaignStatus.ACTIVE,
                daily_budget=campaign.daily_budget or ZERO,
                days=days,
                creatives=_creatives(campaign, now, by_creative),
                override=_override(campaign),
                budget_set_day=history[campaign.pk].plan_day,
                min_daily_budget=spend_control.platform_minimum(
                    connector, campaign.ad_account.currency
                ),
                paused_by_rule=history[campaign.pk].paused_by_rule
                and campaign.status == CampaignStatus.PAUSED,
                weekly_cap_days=None if weekly is None else float(weekly),
                lifetime_wish=None
                if campaign.lifetime_budget is None
                else campaign.desired_daily_budget,
            )
        )
    money = ledger.balances(budget)
    return SuiteState(
        budget_id=str(budget.pk),
        total_budget=money.total,
        spent=money.spent,
        daily_limit=budget.daily_budget_limit,
        target_cpa=budget.target_cpa,
        target_roas=budget.target_roas,
        flight_days=flight.days,
        first_weekday=flight.start.weekday(),
        hour_of_flight=max(hour_now, 0),
        reported_hours=_reported_hours(reported, campaigns),
        campaigns=tuple(states),
        hourly_profile=_hourly_profile(hourly, flight.hour_of(now) // HOURS_PER_DAY),
        currency=budget.currency,
    )


HourlyRows = dict[int, dict[int, dict[int, tuple[float, float, float]]]]


def _hourly_rows(campaigns: list[AutomatedCampaign], flight: Flight) -> HourlyRows:
    """Per campaign, flight day and hour: (spend, conversions, value) as reported."""
    rows: HourlyRows = defaultdict(lambda: defaultdict(dict))
    zones = {c.pk: zone_named(c.ad_account.timezone) for c in campaigns}
    metrics = CampaignMetrics.objects.filter(
        campaign__in=campaigns,
        level=MetricsLevel.CAMPAIGN,
        hour__isnull=False,
        date__gte=flight.start.date() - DAY,  # an account east of the flight's zone
    ).values_list("campaign_id", "date", "hour", "spend", "conversions", "conversion_value")
    for campaign_id, day, hour, spend, conversions, value in metrics:
        flight_day, flight_hour = flight.local_hour(day, hour, zones[campaign_id])
        if flight_day < 0:
            continue
        before = rows[campaign_id][flight_day].get(flight_hour, (0.0, 0.0, 0.0))
        # Summed: a zone's repeated hour (daylight saving ends) is two rows of one hour.
        rows[campaign_id][flight_day][flight_hour] = (
            before[0] + float(spend),
            before[1] + float(conversions),
            before[2] + float(value),
        )
    return rows


def _reported_hours(reported: dict[int, int], campaigns: list[AutomatedCampaign]) -> int:
    """The flight hour through which the suite's spend is known: the oldest report among
    the accounts that can still spend. An account whose campaigns are all paused or over
    reports no new hours (no rows), and counted in, it held the whole suite's report at
    the hour it stopped: every later hour of the others was treated as unreported spend
    at the worst ratio, and the free money shrank day after day (the example's flight
    spent 9,400 of 15,000 after the optimizer paused its only TikTok campaign)."""
    spending = {c.ad_account_id for c in campaigns if c.status == CampaignStatus.ACTIVE}
    live = [hour for account, hour in reported.items() if account in spending]
    return min(live or reported.values(), default=0)


def _reported_through(
    campaigns: list[AutomatedCampaign], hourly: HourlyRows, flight: Flight
) -> dict[int, int]:
    """Per ad account, the flight hour up to which its report is known: the newest hour
    any of its campaigns reported (a campaign that did not deliver has no rows)."""
    through: dict[int, int] = {}
    for campaign in campaigns:
        newest = max(
            (
                day * HOURS_PER_DAY + hour + 1
                for day, hours in hourly[campaign.pk].items()
                for hour in hours
            ),
            default=0,
        )
        through[campaign.ad_account_id] = max(through.get(campaign.ad_account_id, 0), newest)
    return through


def _attributed(
    campaigns: list[AutomatedCampaign], flight: Flight
) -> dict[tuple[int, int], tuple[int, float, float]]:
    """Usher's own orders per (campaign, flight day, by the order's local date in the
    flight's zone): (orders, revenue, tickets)."""
    rows = (
        CampaignAttribution.objects.filter(campaign__in=campaigns)
        .annotate(day=TruncDate("order__placed_at", tzinfo=flight.zone))
        .values("campaign_id", "day")
        .annotate(orders=Count("id"), revenue=Sum("value"), tickets=Sum("tickets"))
    )
    return {
        (row["campaign_id"], flight.day_of(row["day"])): (
            row["orders"],
            float(row["revenue"] or 0),
            float(row["tickets"] or 0),
        )
        for row in rows
        if row["day"] is not None
    }


def _attributed_by_creative(campaigns: list[AutomatedCampaign]) -> dict[tuple[int, str], int]:
    """Usher's own orders per (campaign, landing tag): the tag (`utm_content`, from the
    ad's landing URL) names the variant that brought the buyer."""
    rows = (
        CampaignAttribution.objects.filter(campaign__in=campaigns)
        .values("campaign_id", "order__utm_content")
        .annotate(orders=Count("id"))
    )
    return {(row["campaign_id"], row["order__utm_content"]): row["orders"] for row in rows}


@dataclass
class _History:
    """What the optimizer decided before about one campaign, read back from the log."""

    plan_day: int | None = None
    paused_by_rule: bool = False
    budgets: list[tuple[datetime, float]] = field(default_factory=list)
    # When each ad the creative test paused was paused (by its platform ad id).
    creatives_paused: dict[str, datetime] = field(default_factory=dict)


def _optimizer_history(campaigns: list[AutomatedCampaign]) -> dict[int, _History]:
    history: dict[int, _History] = defaultdict(_History)
    entries = OptimizationLogEntry.objects.filter(campaign__in=campaigns, applied=True).order_by(
        "created_at", "id"
    )
    for entry in entries.values("campaign_id", "kind", "numbers", "created_at", "actor_label"):
        past = history[entry["campaign_id"]]
        numbers = entry["numbers"] or {}
        if "daily_budget" in numbers and numbers["daily_budget"] is not None:
            past.budgets.append((entry["created_at"], float(numbers["daily_budget"])))
        if entry["actor_label"] != OPTIMIZER_ACTOR:
            if entry["kind"] == DecisionKind.RESUME:
                past.paused_by_rule = False
            continue
        if numbers.get("plan_day") is not None:
            day = int(numbers["plan_day"])
            past.plan_day = day if past.plan_day is None else max(past.plan_day, day)
        if entry["kind"] == DecisionKind.PAUSE:
            past.paused_by_rule = numbers.get("rule") == opt.DecisionRule.CPA_GUARD
        elif entry["kind"] == DecisionKind.RESUME:
            past.paused_by_rule = False
        elif entry["kind"] == DecisionKind.CREATIVE_ROTATION and numbers.get("creative_id"):
            past.creatives_paused.setdefault(str(numbers["creative_id"]), entry["created_at"])
    return history


def _budget_in_force(campaign: AutomatedCampaign, past: _History, at: datetime) -> float:
    """The daily budget in force at `at`: the last one logged before, else today's."""
    earlier = [amount for when, amount in past.budgets if when <= at]
    return earlier[-1] if earlier else float(campaign.daily_budget or 0)


def _days(
    campaign: AutomatedCampaign,
    flight: Flight,
    hour_now: int,
    hourly: HourlyRows,
    attributed: dict[tuple[int, int], tuple[int, float, float]],
    reported_through: int,
    history: dict[int, _History],
) -> tuple[DayMetrics, ...]:
    """One DayMetrics per flight day so far, each with the ads live at its noon (the
    creative test's pauses are read back from the log): the optimizer rescales a day's
    sales to today's creative mix, so pausing a loser reads as a better campaign from
    then on, not as a change of the market the learner must wait out."""
    today = min(hour_now // HOURS_PER_DAY, flight.days - 1)
    paused_at = history[campaign.pk].creatives_paused
    ads = [c for c in campaign.creatives.all() if c.external_ad_id]
    days = []
    for day in range(today + 1):
        hours = hourly[campaign.pk].get(day, {})
        orders, revenue, tickets = attributed.get((campaign.pk, day), (0, 0.0, 0.0))
        midday = flight.start + timedelta(days=day, hours=12)
        # An ad paused at an unknown time (none logged) counts as paused all along.
        live = tuple(
            ad.external_ad_id
            for ad in ads
            if ad.is_active
            or (ad.external_ad_id in paused_at and paused_at[ad.external_ad_id] > midday)
        )
        days.append(
            DayMetrics(
                day=day,
                spend=sum(v[0] for v in hours.values()),
                budget=_budget_in_force(campaign, history[campaign.pk], midday),
                attributed_conversions=orders,
                attributed_revenue=revenue,
                attributed_tickets=tickets,
                platform_conversions=sum(v[1] for v in hours.values()),
                platform_revenue=sum(v[2] for v in hours.values()),
                complete=reported_through >= (day + 1) * HOURS_PER_DAY,
                active_creatives=live,
            )
        )
    return tuple(days)


def _creatives(
    campaign: AutomatedCampaign, now: datetime, attributed: dict[tuple[int, str], int]
) -> tuple[CreativeState, ...]:
    """Each ad with its reported totals (ad-level daily rows) and Usher's own orders
    (by the variant's landing tag); hours live since the campaign was published (a
    paused ad stops counting when it was paused)."""
    ads = [c for c in campaign.creatives.all() if c.external_ad_id]
    totals = {
        row["object_id"]: row
        for row in CampaignMetrics.objects.filter(
            campaign=campaign, level=MetricsLevel.AD, hour__isnull=True
        )
        .values("object_id")
        .annotate(spend=Sum("spend"), conversions=Sum("conversions"), clicks=Sum("clicks"))
    }
    since = campaign.published_at or campaign.started_at or now
    hours_live = max((now - since).total_seconds() / 3600, 0.0)
    return tuple(
        CreativeState(
            creative_id=ad.external_ad_id,
            name=ad.variant,
            active=ad.is_active,
            spend=float(totals.get(ad.external_ad_id, {}).get("spend") or 0),
            attributed_conversions=attributed.get(
                (campaign.pk, creative_tag(campaign.campaign_type, ad.variant)), 0
            ),
            platform_conversions=float(totals.get(ad.external_ad_id, {}).get("conversions") or 0),
            hours_live=hours_live if ad.is_active else 0.0,
            clicks=float(totals.get(ad.external_ad_id, {}).get("clicks") or 0),
            content=ad.content_key,
        )
        for ad in ads
    )


def _override(campaign: AutomatedCampaign) -> Override | None:
    overrides = spend_control.active_overrides(campaign)
    if not overrides:
        return None
    budget_override = overrides.get(OverrideKind.DAILY_BUDGET)
    return Override(
        paused=OverrideKind.PAUSE in overrides,
        daily_budget=budget_override.daily_budget if budget_override else None,
    )


def _hourly_profile(hourly: HourlyRows, today: int) -> tuple[float, ...] | None:
    """Each hour's share of a day's spend, from the finished days' hourly reports."""
    by_hour = [0.0] * HOURS_PER_DAY
    for days in hourly.values():
        for day, hours in days.items():
            if day < today - 1:
                for hour, (spend, _, _) in hours.items():
                    by_hour[hour] += spend
    total = sum(by_hour)
    return tuple(v / total for v in by_hour) if total > 0 else None


# --- acting ----------------------------------------------------------------------


def apply_decisions(
    budget: AdCampaignBudget,
    campaigns: list[AutomatedCampaign],
    decisions: tuple[opt.Decision, ...],
    outcome: OptimizationOutcome,
    now: datetime,
) -> None:
    """Budgets, pauses and resumes become wishes that one spend-control pass puts on the
    platforms; creatives are paused one by one. Then every decision is logged with
    whether its platform took it."""
    by_id = {str(c.pk): c for c in campaigns}
    creative_results: dict[int, bool] = {}
    for index, decision in enumerate(decisions):
        campaign = by_id[decision.campaign_id]
        wish = _wish(decision)
        if wish is not None and campaign.desired_daily_budget != wish:
            AutomatedCampaign.objects.filter(pk=campaign.pk).update(desired_daily_budget=wish)
        if decision.kind == opt.DecisionKind.PAUSE_CREATIVE and decision.creative_id:
            creative_results[index] = _pause_creative(campaign, decision)
    touched = any(_wish(d) is not None for d in decisions)
    results = (
        {a.campaign_id: a for a in spend_control.rebalance_budget(budget.pk, now=now).applied}
        if touched
        else {}
    )
    for index, decision in enumerate(decisions):
        campaign = by_id[decision.campaign_id]
        if decision.kind == opt.DecisionKind.KEEP_OVERRIDE:
            applied, overridden = True, True
        elif decision.kind == opt.DecisionKind.PAUSE_CREATIVE:
            applied, overridden = creative_results.get(index, False), False
        else:
            result = results.get(campaign.pk)
            applied, overridden = result is None or result.ok, False
        outcome.decisions += 1
        if applied:
            outcome.applied += 1
        else:
            outcome.refused += 1
        numbers = {
            **decision.numbers,
            "rule": str(decision.rule),
            "decision": str(decision.kind),
            "plan_day": decision.plan_day,
        }
        if decision.daily_budget is not None:
            numbers["daily_budget"] = decision.daily_budget
        if campaign.lifetime_budget is not None and "previous_budget" in numbers:
            # Beside the daily wish it changes, staff read the lifetime budget it paces.
            numbers["lifetime_budget"] = campaign.lifetime_budget
        if decision.creative_id:
            numbers["creative_id"] = decision.creative_id
        log_decision(
            budget,
            LOG_KIND[decision.kind],
            f"{decision.rule}: {decision.reason}",
            campaign=campaign,
            numbers=numbers,
            expected_effect=decision.expected_effect,
            actor=OPTIMIZER_ACTOR,
            applied=applied,
            overridden=overridden,
        )


def _wish(decision: opt.Decision) -> Decimal | None:
    """The desired daily budget a decision asks spend control for (None: no change)."""
    if decision.kind == opt.DecisionKind.SET_BUDGET:
        return decision.daily_budget
    if decision.kind == opt.DecisionKind.PAUSE_CAMPAIGN:
        return ZERO
    return None


def _pause_creative(campaign: AutomatedCampaign, decision: opt.Decision) -> bool:
    try:
        publishing.pause_creative(campaign, decision.creative_id or "")
    except PlatformError as error:
        logger.warning("creative %s not paused: %s", decision.creative_id, error)
        return False
    return True


# --- advice ----------------------------------------------------------------------


def _recommendations_due(budget: AdCampaignBudget, now: datetime) -> bool:
    """Advice is refreshed once a day (the model's view moves slowly; an hourly flood of
    the same sentence would bury it)."""
    since = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return not OptimizationLogEntry.objects.filter(
        budget=budget, kind=DecisionKind.RECOMMENDATION, created_at__gte=since
    ).exists()


def store_recommendations(
    budget: AdCampaignBudget,
    campaigns: list[AutomatedCampaign],
    recommendations: tuple[opt.Recommendation, ...],
) -> int:
    """Each piece of advice as a log row of kind `recommendation` (not applied: the
    organizer or staff decide); `numbers.recommendation` says which advice."""
    by_id = {str(c.pk): c for c in campaigns}
    for advice in recommendations:
        log_decision(
            budget,
            DecisionKind.RECOMMENDATION,
            advice.message,
            campaign=by_id.get(advice.campaign_id or ""),
            numbers={**advice.numbers, "recommendation": str(advice.kind)},
            actor=OPTIMIZER_ACTOR,
            applied=False,
        )
    return len(recommendations)
