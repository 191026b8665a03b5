"""`sync_campaign_metrics`: platform-reported delivery of every live campaign, every 30 min.

Per ad account (never per campaign) it reads the insights connector three times: the
campaign level by the hour (the time series charts and the optimizer read) and the ad
group and ad levels by the day. It re-reads the last `METRICS_LOOKBACK_DAYS` days of the
account's own calendar on every run, because platforms report late (Meta and TikTok
by hours, Google up to a day) and revise what they reported: a re-read day *replaces*
the stored rows of that day (delete and insert in one transaction), so nothing counts
twice and a revision downwards lowers the numbers.

From the stored campaign-level rows it then updates, per campaign, `budget_spent`,
`performance_metrics` (the platform's numbers beside Usher's own attribution) and the
budget's ledger: one SPENT row per campaign and day for the difference between what the
platform reports now and what the ledger already holds for that day (negative when the
platform revised down), under the budget's row lock (`usher.campaigns.ledger`).

A failing account (outage, throttling, revoked credential) is recorded on the account
(`record_health`) and skipped; the others go on, and the next run catches up, since
every run re-reads the whole look-back window.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from usher.campaigns import ledger
from usher.campaigns.accounts import contract_account, record_health
from usher.campaigns.models import (
    LIVE_STATUSES,
    ZERO,
    AdAccount,
    AutomatedCampaign,
    CampaignAttribution,
    CampaignMetrics,
    CampaignStatus,
    LedgerKind,
)
from usher.lib.timezones import local_date
from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_base import MetricsLevel, MetricsRow
from usher.platforms.registry import get_insights_connector

logger = logging.getLogger("usher.campaigns")

# Days re-read on every run, today included: platforms revise yesterday's numbers.
METRICS_LOOKBACK_DAYS = 3
CENT = Decimal("0.01")
CONVERSIONS_QUANTUM = Decimal("0.0001")
# (level, hourly): the reads of one account per run.
READS = (
    (MetricsLevel.CAMPAIGN, True),
    (MetricsLevel.AD_GROUP, False),
    (MetricsLevel.AD, False),
)


@dataclass
class SyncSummary:
    accounts: int = 0
    campaigns: int = 0
    rows: int = 0
    failed_accounts: dict[int, str] = field(default_factory=dict)
    budget_ids: set[int] = field(default_factory=set)  # budgets whose spend was re-read


def live_campaigns(now: datetime) -> QuerySet[AutomatedCampaign]:
    """Campaigns that exist on their platform and may have spent: live ones, and those
    completed within the look-back window, whose last days platforms still report late
    (their spend must reach the ledger all the same)."""
    recently_completed = Q(
        status=CampaignStatus.COMPLETED,
        ends_at__gte=now - timedelta(days=METRICS_LOOKBACK_DAYS),
    )
    return (
        AutomatedCampaign.objects.filter(
            Q(status__in=LIVE_STATUSES) | recently_completed, ad_account__isnull=False
        )
        .exclude(external_campaign_id="")
        .select_related("ad_account", "budget")
        .order_by("ad_account_id", "id")
    )


def accounts_to_sync(now: datetime) -> dict[int, list[AutomatedCampaign]]:
    """The live campaigns to read, by ad account (the unit of one read)."""
    by_account: dict[int, list[AutomatedCampaign]] = defaultdict(list)
    for campaign in live_campaigns(now):
        assert campaign.ad_account is not None
        by_account[campaign.ad_account_id].append(campaign)
    return by_account


def sync_campaign_metrics(*, now: datetime | None = None) -> SyncSummary:
    """Read and store every live campaign's delivery; one account's failure is its own.
    (The scheduled job runs `sync_account_metrics` as one task per account instead.)"""
    now = now or timezone.now()
    summary = SyncSummary()
    for campaigns in accounts_to_sync(now).values():
        _sync_into(summary, campaigns, now)
    logger.info(
        "metrics sync: accounts=%d campaigns=%d rows=%d failed=%d",
        summary.accounts,
        summary.campaigns,
        summary.rows,
        len(summary.failed_accounts),
    )
    return summary


def sync_account_metrics(account_id: int, *, now: datetime | None = None) -> SyncSummary:
    """Read and store one ad account's live campaigns (the per-account task's work)."""
    now = now or timezone.now()
    summary = SyncSummary()
    campaigns = list(live_campaigns(now).filter(ad_account_id=account_id))
    if campaigns:
        _sync_into(summary, campaigns, now)
    return summary


def _sync_into(summary: SyncSummary, campaigns: list[AutomatedCampaign], now: datetime) -> None:
    account = campaigns[0].ad_account
    assert account is not None
    try:
        summary.rows += sync_account(account, campaigns, now=now)
    except PlatformError as error:
        logger.warning("metrics sync account=%s failed: %s", account.pk, error)
        record_health(account, error)
        summary.failed_accounts[account.pk] = str(error)
        return
    except Exception as exc:  # a bug or bad data in one account must not stop the rest
        logger.exception("metrics sync account=%s failed inside Usher", account.pk)
        error = PlatformError(
            ErrorKind.TRANSIENT,
            f"internal error: {type(exc).__name__}",
            platform=account.platform,
        )
        record_health(account, error)
        summary.failed_accounts[account.pk] = str(error)
        return
    record_health(account)
    summary.accounts += 1
    summary.campaigns += len(campaigns)
    summary.budget_ids.update(campaign.budget_id for campaign in campaigns)


def window(account: AdAccount, now: datetime) -> tuple[date, date]:
    """The look-back days in the account's time zone, today included."""
    today = local_date(now, account.timezone)
    return today - timedelta(days=METRICS_LOOKBACK_DAYS - 1), today


def sync_account(account: AdAccount, campaigns: list[AutomatedCampaign], *, now: datetime) -> int:
    """Read the account's three levels, then store them; nothing is written unless every
    read succeeded (a half-read account would replace days with partial rows)."""
    connector = get_insights_connector(account.platform)
    target = contract_account(account)
    since, until = window(account, now)
    by_external = {campaign.external_campaign_id: campaign for campaign in campaigns}
    reads: list[tuple[MetricsLevel, bool, list[MetricsRow]]] = []
    for level, hourly in READS:
        rows = connector.fetch_metrics(
            target,
            level=level,
            since=since,
            until=until,
            hourly=hourly,
            campaign_ids=sorted(by_external),
        )
        reads.append((level, hourly, rows))
    with transaction.atomic():
        # One writer per account at a time: two overlapping runs would both delete and
        # insert the same days and collide on the unique slots.
        AdAccount.objects.select_for_update().filter(pk=account.pk).first()
        stored = replace_days(by_external, since, until, reads)
    reported = reported_days(campaigns)
    record_spends(campaigns, since, until, reported)
    refresh_performances(campaigns, reported)
    return stored


def object_id(row: MetricsRow) -> str | None:
    return {
        MetricsLevel.CAMPAIGN: row.campaign_id,
        MetricsLevel.AD_GROUP: row.ad_group_id,
        MetricsLevel.AD: row.ad_id,
    }[row.level]


def replace_days(
    by_external: dict[str, AutomatedCampaign],
    since: date,
    until: date,
    reads: list[tuple[MetricsLevel, bool, list[MetricsRow]]],
) -> int:
    """Replace the stored rows of these campaigns and days, at each (level, hourly) that
    was read, with the rows read: one delete and one insert for all the levels."""
    read_slots = Q()
    for level, hourly, _ in reads:
        read_slots |= Q(level=level, hour__isnull=not hourly)
    CampaignMetrics.objects.filter(
        read_slots, campaign__in=list(by_external.values()), date__range=(since, until)
    ).delete()
    merged: dict[tuple[int, MetricsLevel, str, date, int | None], CampaignMetrics] = {}
    for level, hourly, rows in reads:
        for row in rows:
            campaign = by_external.get(row.campaign_id)
            key_id = object_id(row)
            if campaign is None or not key_id or not since <= row.date <= until:
                continue
            key = (campaign.pk, level, key_id, row.date, row.hour if hourly else None)
            slot = merged.get(key)
            if slot is None:
                slot = merged[key] = CampaignMetrics(
                    campaign=campaign, level=level, object_id=key_id, date=row.date, hour=key[4]
                )
            # Platforms may split one slot (e.g. by attribution window); the slot is their sum.
            slot.impressions += row.impressions
            slot.clicks += row.clicks
            slot.spend += row.spend
            slot.conversions += row.conversions
            slot.conversion_value += row.conversion_value
    for slot in merged.values():
        slot.spend = slot.spend.quantize(CENT, rounding=ROUND_HALF_UP)
        slot.conversion_value = slot.conversion_value.quantize(CENT, rounding=ROUND_HALF_UP)
        slot.conversions = slot.conversions.quantize(CONVERSIONS_QUANTUM, rounding=ROUND_HALF_UP)
    CampaignMetrics.objects.bulk_create(merged.values())
    return len(merged)


# The sums of a campaign's stored campaign-level rows, per day.
DAY_SUMS = {
    "impressions": Sum("impressions"),
    "clicks": Sum("clicks"),
    "spend": Sum("spend"),
    "conversions": Sum("conversions"),
    "conversion_value": Sum("conversion_value"),
}


def reported_days(campaigns: list[AutomatedCampaign]) -> dict[int, dict[date, dict[str, Any]]]:
    """What the platform reports per campaign (by id) and day, every stored day (one
    query): the ledger takes the look-back days' spend from it and the performance the
    lifetime totals, so the rows are read once for both."""
    rows = (
        CampaignMetrics.objects.filter(campaign__in=campaigns, level=MetricsLevel.CAMPAIGN)
        .values("campaign_id", "date")
        .annotate(**DAY_SUMS)
    )
    days: dict[int, dict[date, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        days[row["campaign_id"]][row["date"]] = row
    return days


def record_spends(
    campaigns: list[AutomatedCampaign],
    since: date,
    until: date,
    reported: dict[int, dict[date, dict[str, Any]]] | None = None,
) -> None:
    """Bring the ledger's SPENT rows of each campaign and day from `since` to `until` to
    what the platform reports now (`reported_days`, read here when not given): per
    budget, one transaction under its lock that reads what the ledger holds, appends the
    differences and sets each campaign's `budget_spent` (nothing is written for a budget
    whose ledger already agrees: half the runs, between two hours of the platforms'
    reports)."""
    reported = reported_days(campaigns) if reported is None else reported
    by_budget: dict[int, list[AutomatedCampaign]] = defaultdict(list)
    for campaign in campaigns:
        by_budget[campaign.budget_id].append(campaign)
    for budget_id, group in sorted(by_budget.items()):
        with transaction.atomic():
            budget = ledger.lock_budget(budget_id)
            held = ledger.spent_by_day(group)  # every day: their sum is `budget_spent`
            corrections = []
            for campaign in group:
                spends = {
                    day: row["spend"] or ZERO
                    for day, row in reported.get(campaign.pk, {}).items()
                    if since <= day <= until
                }
                days = set(spends) | {day for day in held[campaign.pk] if since <= day <= until}
                for day in sorted(days):
                    delta = spends.get(day, ZERO) - held[campaign.pk].get(day, ZERO)
                    if delta != 0:
                        corrections.append(
                            ledger.NewEntry(
                                campaign=campaign,
                                amount=delta,
                                spend_date=day,
                                reference=f"{campaign.platform}:{campaign.external_campaign_id}",
                            )
                        )
            if not corrections:
                continue  # `budget_spent` changes only with SPENT rows, written only here
            ledger.append_many(
                budget, LedgerKind.SPENT, corrections, note="spend as reported by the platform"
            )
            for campaign in group:
                campaign.budget_spent = sum(held[campaign.pk].values(), ZERO) + sum(
                    (entry.amount for entry in corrections if entry.campaign is campaign), ZERO
                )
            AutomatedCampaign.objects.bulk_update(group, ["budget_spent"])


def ratio(numerator: Decimal, denominator: Decimal, places: str = "0.01") -> str | None:
    if not denominator:
        return None
    return str((numerator / denominator).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def refresh_performances(
    campaigns: list[AutomatedCampaign], reported: dict[int, dict[date, dict[str, Any]]]
) -> None:
    """Lifetime totals as the platform reports them (`reported_days`), beside Usher's own
    attribution (platforms over-count), stored on each campaign for the API and the
    dashboards (one query for the attribution, one write)."""
    totals = {campaign_id: lifetime(days) for campaign_id, days in reported.items()}
    attributed = {
        row["campaign_id"]: row
        for row in CampaignAttribution.objects.filter(campaign__in=campaigns)
        .values("campaign_id")
        .annotate(orders=Count("id"), revenue=Sum("value"), tickets=Sum("tickets"))
    }
    synced_at = timezone.now().isoformat()
    for campaign in campaigns:
        campaign.performance_metrics = performance(
            totals.get(campaign.pk, {}), attributed.get(campaign.pk, {}), synced_at
        )
    AutomatedCampaign.objects.bulk_update(campaigns, ["performance_metrics"])


def lifetime(days: dict[date, dict[str, Any]]) -> dict[str, Any]:
    """A campaign's reported days summed over its life, with its last reported day."""
    totals: dict[str, Any] = {
        name: sum((row[name] or 0 for row in days.values()), 0) for name in DAY_SUMS
    }
    totals["last_date"] = max(days) if days else None
    return totals


def performance(
    totals: dict[str, Any], attributed: dict[str, Any], synced_at: str
) -> dict[str, object]:
    """One campaign's `performance_metrics` from its summed metrics rows and its
    attributed orders (either may be empty: nothing reported or attributed yet)."""
    spend = totals.get("spend") or ZERO
    conversions = totals.get("conversions") or ZERO
    value = totals.get("conversion_value") or ZERO
    revenue = attributed.get("revenue") or ZERO
    impressions = totals.get("impressions") or 0
    clicks = totals.get("clicks") or 0
    orders = attributed.get("orders") or 0
    last_date = totals.get("last_date")
    return {
        "impressions": impressions,
        "clicks": clicks,
        "spend": str(spend),
        "ctr": ratio(Decimal(clicks) * 100, Decimal(impressions), "0.0001"),
        "cpc": ratio(spend, Decimal(clicks)),
        "platform": {
            "conversions": str(conversions),
            "revenue": str(value),
            "cpa": ratio(spend, conversions),
            "roas": ratio(value, spend),
        },
        "usher": {
            "conversions": orders,
            "tickets": attributed.get("tickets") or 0,
            "revenue": str(revenue),
            "cpa": ratio(spend, Decimal(orders)),
            "roas": ratio(revenue, spend),
        },
        "reported_until": last_date.isoformat() if last_date else None,
        "synced_at": synced_at,
    }
