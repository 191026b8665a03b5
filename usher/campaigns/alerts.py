"""What the budget jobs tell people: organizers when their money runs low or out, staff
when spend looks wrong. Each notice goes once per cause (`notify`), so the jobs call
these after every rebalance without flooding anyone.

Spend anomalies (staff alerts):

- *over-pace*: a campaign whose spend so far today, projected over the whole day,
  exceeds what its daily budget allows the platform to spend in a day (the budget times
  the platform's daily over-delivery factor) — it is burning faster than planned;
- *over-report*: a platform reports more spend for a day than Usher's settings allow
  (the daily budget times that factor, or a lifetime budget), or more for the budget than
  was paid in — something outside Usher changed the campaign, or the platform errs.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Sum

from usher.campaigns import ledger
from usher.campaigns.models import (
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetStatus,
    CampaignMetrics,
    CampaignStatus,
    OptimizationLogEntry,
)
from usher.lib.timezones import zone_named
from usher.notifications.models import NotificationKind
from usher.notifications.services import Notice, notify
from usher.platforms.campaigns_base import MetricsLevel
from usher.platforms.registry import get_campaigns_connector

logger = logging.getLogger("usher.campaigns")

# The organizer is told once the remainder falls below this share of the budget.
LOW_REMAINDER_SHARE = Decimal("0.20")
# Over-pace is judged only after this many hours of the campaign's day (an early hour's
# burst is normal delivery, not an anomaly).
OVERPACE_MIN_HOURS = 6
HOURS_PER_DAY = 24
CENT = Decimal("0.01")
PANEL_BUDGETS_PATH = "/panel/budgets/"
ADMIN_CAMPAIGN_PATH = "/admin/campaigns/automatedcampaign/{}/change/"


def notify_budget_state(budget: AdCampaignBudget) -> list[str]:
    """Tell the organizer when the remainder is below 20% and when it is exhausted
    (spend control has paused the campaigns by then); returns the kinds sent now."""
    balances = ledger.balances(budget)
    sent = []
    link = f"{PANEL_BUDGETS_PATH}{budget.pk}/"
    if balances.total > 0 and balances.remaining < balances.total * LOW_REMAINDER_SHARE:
        share = (balances.remaining / balances.total * 100).quantize(Decimal("1"))
        notice = Notice(
            kind=NotificationKind.BUDGET_LOW,
            cause_key=f"budget:{budget.pk}:low",
            title="Your advertising budget is below 20%",
            body=(
                f"{balances.remaining} {budget.currency} of {balances.total} {budget.currency} "
                f"remain ({share}%). Top it up to keep your campaigns running."
            ),
            link=link,
        )
        if notify(budget.client, notice, organizer=budget.organizer):
            sent.append(NotificationKind.BUDGET_LOW)
    if budget.status == BudgetStatus.EXHAUSTED:
        notice = Notice(
            kind=NotificationKind.BUDGET_EXHAUSTED,
            cause_key=f"budget:{budget.pk}:exhausted",
            title="Your advertising budget is exhausted",
            body=(
                f"The budget of {balances.total} {budget.currency} is spent; every campaign "
                "of it is paused on its platform."
            ),
            link=link,
        )
        if notify(budget.client, notice, organizer=budget.organizer):
            sent.append(NotificationKind.BUDGET_EXHAUSTED)
    return sent


def notify_spend_anomalies(budget: AdCampaignBudget, now: datetime) -> int:
    """Alert the marketplace's staff about campaigns of the budget spending more than
    Usher allows them (see the module's docstring); returns the alerts sent now."""
    sent = 0
    balances = ledger.balances(budget)
    if balances.spent > balances.total:
        sent += _alert(
            budget,
            f"budget:{budget.pk}:overspent",
            f"Budget {budget.pk}: platforms report more spend than was paid in",
            f"Reported spend {balances.spent} {budget.currency} exceeds the budget of "
            f"{balances.total} {budget.currency}.",
            f"/admin/campaigns/adcampaignbudget/{budget.pk}/change/",
        )
    campaigns = list(
        budget.campaigns.filter(
            status__in=[CampaignStatus.ACTIVE, CampaignStatus.PAUSED, CampaignStatus.COMPLETED]
        ).select_related("ad_account")
    )
    # What the checks read, for all the campaigns at once (one query per source).
    lifetime = [c for c in campaigns if c.lifetime_budget is not None]
    spent = ledger.spent_by_campaign(lifetime) if lifetime else {}
    daily = _daily_spend(campaigns)
    budgets_set = _daily_budgets_set(campaigns)
    for campaign in campaigns:
        sent += _campaign_anomalies(
            budget,
            campaign,
            now,
            spent.get(campaign.pk, Decimal(0)),
            daily.get(campaign.pk, {}),
            budgets_set.get(campaign.pk, []),
        )
    return sent


def _campaign_anomalies(
    budget: AdCampaignBudget,
    campaign: AutomatedCampaign,
    now: datetime,
    spent: Decimal,
    daily: dict[date, Decimal],
    budgets_set: list[tuple[datetime, Decimal]],
) -> int:
    """One campaign's anomalies, from its ledger spend, its reported spend by day and
    the daily budgets its decision log records."""
    connector = get_campaigns_connector(campaign.platform)
    factor = Decimal(connector.daily_overdelivery_factor)
    zone = zone_named(campaign.ad_account.timezone)
    local = now.astimezone(zone)
    sent = 0
    if campaign.lifetime_budget is not None:
        if spent > campaign.lifetime_budget:
            sent += _alert(
                budget,
                f"campaign:{campaign.pk}:over-lifetime",
                f"{campaign.name}: the platform reports more than its lifetime budget",
                f"{campaign.platform} reports {spent} spent against a lifetime budget of "
                f"{campaign.lifetime_budget}.",
                ADMIN_CAMPAIGN_PATH.format(campaign.pk),
            )
        return sent
    if not campaign.daily_budget:
        return sent
    allowed = campaign.daily_budget * factor
    daily_spend = sorted((day, spend) for day, spend in daily.items() if day <= local.date())
    for day, spend in daily_spend:
        day_end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
        ceiling = (_highest_daily_budget(campaign, budgets_set, day_end) * factor).quantize(CENT)
        if spend > ceiling:
            sent += _alert(
                budget,
                f"campaign:{campaign.pk}:over-report:{day:%Y-%m-%d}",
                f"{campaign.name}: {campaign.platform} reports more spend than Usher set",
                f"{spend} spent on {day}, while no daily budget Usher set by then lets "
                f"the platform spend more than {ceiling} a day.",
                ADMIN_CAMPAIGN_PATH.format(campaign.pk),
            )
    today = daily.get(local.date(), Decimal(0))
    hours = local.hour + local.minute / 60
    if campaign.status == CampaignStatus.ACTIVE and hours >= OVERPACE_MIN_HOURS:
        projected = today / Decimal(str(hours)) * HOURS_PER_DAY
        if today <= allowed < projected:
            sent += _alert(
                budget,
                f"campaign:{campaign.pk}:over-pace:{local:%Y-%m-%d}",
                f"{campaign.name} spends faster than its budget allows",
                f"{today} spent by {local:%H:%M} ({zone}); at this pace {projected:.2f} "
                f"today, over the {allowed} its daily budget of {campaign.daily_budget} allows.",
                ADMIN_CAMPAIGN_PATH.format(campaign.pk),
            )
    return sent


# Log numbers that record a daily budget Usher set or asked for (publish, allocation,
# optimizer).
BUDGET_NUMBERS = ("daily_budget", "after")


def _daily_budgets_set(
    campaigns: list[AutomatedCampaign],
) -> dict[int, list[tuple[datetime, Decimal]]]:
    """Every daily budget Usher set or asked for in each campaign's (by id) decision
    log, with when: read once per check, then judged day by day."""
    found: dict[int, list[tuple[datetime, Decimal]]] = defaultdict(list)
    entries = OptimizationLogEntry.objects.filter(campaign__in=campaigns)
    for campaign_id, created_at, numbers in entries.values_list(
        "campaign_id", "created_at", "numbers"
    ):
        for name in BUDGET_NUMBERS:
            value = (numbers or {}).get(name)
            if value not in (None, ""):
                found[campaign_id].append((created_at, Decimal(str(value))))
    return found


def _highest_daily_budget(
    campaign: AutomatedCampaign, budgets_set: list[tuple[datetime, Decimal]], until: datetime
) -> Decimal:
    """The highest daily budget Usher gave the campaign up to `until`, from its
    decision log (`_daily_budgets_set`) and its current setting: a day's spend is judged
    against the most the platform could have been allowed (budgets change during a day)."""
    highest = campaign.daily_budget or Decimal(0)
    for created_at, value in budgets_set:
        if created_at < until:
            highest = max(highest, value)
    return highest


def _daily_spend(campaigns: list[AutomatedCampaign]) -> dict[int, dict[date, Decimal]]:
    """Each campaign's (by id) reported spend per day (its hourly rows summed; a day
    reported only as a whole counts as such)."""
    rows = (
        CampaignMetrics.objects.filter(campaign__in=campaigns, level=MetricsLevel.CAMPAIGN)
        .values("campaign_id", "date", "hour")
        .annotate(spend=Sum("spend"))
    )
    hourly: dict[int, dict[date, Decimal]] = defaultdict(dict)
    whole: dict[int, dict[date, Decimal]] = defaultdict(dict)
    for row in rows:
        target = (whole if row["hour"] is None else hourly)[row["campaign_id"]]
        target[row["date"]] = target.get(row["date"], Decimal(0)) + row["spend"]
    return {
        campaign_id: {
            day: spend.quantize(CENT)
            for day, spend in {**whole[campaign_id], **hourly[campaign_id]}.items()
        }
        for campaign_id in set(hourly) | set(whole)
    }


def _alert(budget: AdCampaignBudget, cause: str, title: str, body: str, link: str) -> int:
    notice = Notice(
        kind=NotificationKind.SPEND_ANOMALY,
        cause_key=cause,
        title=title[:200],
        body=body,
        link=link,
    )
    if notify(budget.client, notice) is None:
        return 0
    logger.warning("spend anomaly: %s", title)
    return 1
