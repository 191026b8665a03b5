"""The budget ledger: every change of a budget's money is one appended row, and the
budget's cached totals are recomputed from the rows in the same transaction.

Callers hold the budget's row lock (`lock_budget`) for the whole decision: reading the
balances, deciding and writing happen under it, so two workers (or a worker and a staff
edit) cannot both spend the same remainder.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Max, Q, QuerySet, Sum

from usher.campaigns.models import (
    CENTS,
    ZERO,
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetLedgerEntry,
    LedgerKind,
)
from usher.marketplace.models import User


def statement(
    budget: AdCampaignBudget, *, with_commitments: bool = False
) -> QuerySet | list[BudgetLedgerEntry | SpentDay]:
    """The budget's movements newest first, as its owner reads them: money paid in,
    refunded and adjusted, and each campaign's spend of a day on one line (the platforms
    report it hour by hour: five campaigns wrote 120 lines a day); every row, the
    commitments too, only when asked for, because they are spend safety's reserve moving
    around (hundreds a day on a busy suite, netted in `Balances.outstanding`) and would
    bury the rest."""
    rows = BudgetLedgerEntry.objects.filter(budget=budget)
    if with_commitments:
        return rows.select_related("campaign").order_by("-created_at", "-id")
    money = list(
        rows.exclude(kind__in=(*COMMITMENT_KINDS, LedgerKind.SPENT)).select_related("campaign")
    )
    days = (
        rows.filter(kind=LedgerKind.SPENT)
        .values("campaign_id", "spend_date", "currency")
        .annotate(
            amount=Sum("amount"),
            created_at=Max("created_at"),
            last_id=Max("id"),
            reports=Count("id"),
            note=Max("note"),
        )
    )
    campaigns = AutomatedCampaign.objects.in_bulk({day["campaign_id"] for day in days})
    spent = [
        SpentDay(
            pk=day["last_id"],
            campaign=campaigns.get(day["campaign_id"]),
            spend_date=day["spend_date"],
            amount=_cents(day["amount"]),
            currency=day["currency"],
            created_at=day["created_at"],
            reports=day["reports"],
            note=day["note"],
        )
        for day in days
    ]
    return sorted([*money, *spent], key=lambda line: (line.created_at, line.pk), reverse=True)


@dataclass(frozen=True)
class SpentDay:
    """One campaign's spend of one day in the statement: the sum of its reports (the
    platforms report hour by hour, and correct a day by a row of the difference), dated
    by the last of them and known by its id."""

    pk: int
    campaign: AutomatedCampaign | None
    spend_date: date | None
    amount: Decimal
    currency: str
    created_at: datetime
    reports: int
    note: str
    kind: str = LedgerKind.SPENT

    @property
    def campaign_id(self) -> int | None:
        return self.campaign.pk if self.campaign else None

    def get_kind_display(self) -> str:
        return LedgerKind.SPENT.label


def lock_budget(budget_id: int) -> AdCampaignBudget:
    """The budget, locked until the surrounding transaction ends."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_budget must run inside transaction.atomic()")
    return AdCampaignBudget.objects.select_for_update().get(pk=budget_id)


@dataclass(frozen=True)
class Balances:
    """A budget's money as its ledger explains it."""

    paid_in: Decimal
    adjustments: Decimal
    refunded: Decimal
    spent: Decimal
    outstanding: Decimal  # committed to campaigns and not yet spent
    outstanding_by_campaign: dict[int, Decimal]

    @property
    def total(self) -> Decimal:
        return self.paid_in + self.adjustments - self.refunded

    @property
    def remaining(self) -> Decimal:
        return self.total - self.spent

    @property
    def available(self) -> Decimal:
        """What may still be committed: the remainder less every open commitment."""
        return self.remaining - self.outstanding


def _cents(amount: Decimal | None) -> Decimal:
    """Sums come back unscaled from some databases (SQLite): answer in cents."""
    return (amount or ZERO).quantize(CENTS)


# The sums by kind a budget's balances are made of.
TOTAL_KINDS = (
    ("paid_in", LedgerKind.PAID_IN),
    ("adjustments", LedgerKind.ADJUSTMENT),
    ("refunded", LedgerKind.REFUNDED),
    ("spent", LedgerKind.SPENT),
)
COMMITMENT_SUMS = (("committed", LedgerKind.COMMITTED), ("released", LedgerKind.RELEASED))


def _sums(kinds: tuple[tuple[str, LedgerKind], ...]) -> dict[str, Sum]:
    return {name: Sum("amount", filter=Q(kind=kind)) for name, kind in kinds}


def balances(budget: AdCampaignBudget) -> Balances:
    """The budget's balances in one query (they are read on every money move): its
    rows summed per campaign and kind, the totals the sum of the campaigns' sums."""
    rows = (
        BudgetLedgerEntry.objects.filter(budget=budget)
        .values("campaign_id")
        .annotate(**_sums(TOTAL_KINDS + COMMITMENT_SUMS))
    )
    totals = dict.fromkeys((name for name, _ in TOTAL_KINDS), ZERO)
    per_campaign: dict[int, Decimal] = {}
    for row in rows:
        for name in totals:
            totals[name] += row[name] or ZERO
        if row["campaign_id"] is not None:
            open_amount = (
                (row["committed"] or ZERO) - (row["released"] or ZERO) - (row["spent"] or ZERO)
            )
            per_campaign[row["campaign_id"]] = max(open_amount, ZERO)
    return Balances(
        **{name: _cents(amount) for name, amount in totals.items()},
        outstanding=sum(per_campaign.values(), ZERO),
        outstanding_by_campaign=per_campaign,
    )


def _totals_by_kind(budget: AdCampaignBudget) -> dict[str, Decimal]:
    """The budget's totals per kind in one pass (`refresh_totals`)."""
    totals = BudgetLedgerEntry.objects.filter(budget=budget).aggregate(**_sums(TOTAL_KINDS))
    return {name: _cents(amount) for name, amount in totals.items()}


# Commitments move money between the free remainder and a campaign: the budget's
# cached totals (total and spent) do not change, so they are not recomputed for them
# (spend control writes one on almost every change).
COMMITMENT_KINDS = frozenset({LedgerKind.COMMITTED, LedgerKind.RELEASED})


def append(
    budget: AdCampaignBudget,
    kind: LedgerKind,
    amount: Decimal,
    *,
    campaign: AutomatedCampaign | None = None,
    spend_date: date | None = None,
    reference: str = "",
    note: str = "",
    user: User | None = None,
) -> BudgetLedgerEntry:
    """Append one row and refresh the budget's cached totals from the ledger."""
    entry = BudgetLedgerEntry.objects.create(
        budget=budget,
        campaign=campaign,
        kind=kind,
        amount=amount,
        currency=budget.currency,
        spend_date=spend_date,
        reference=reference[:255],
        note=note[:500],
        created_by=user,
    )
    if kind not in COMMITMENT_KINDS:
        refresh_totals(budget)
    return entry


def refresh_totals(budget: AdCampaignBudget) -> None:
    """The budget's cached total and spent from its ledger (the commitments per campaign,
    which `balances` also reads, do not enter them)."""
    totals = _totals_by_kind(budget)
    budget.total_budget = totals["paid_in"] + totals["adjustments"] - totals["refunded"]
    budget.spent_budget = totals["spent"]
    AdCampaignBudget.objects.filter(pk=budget.pk).update(
        total_budget=budget.total_budget, spent_budget=budget.spent_budget
    )


def commit_to(
    budget: AdCampaignBudget, campaign: AutomatedCampaign, outstanding: Decimal, note: str
) -> Decimal:
    """Make `campaign`'s open commitment exactly `outstanding` (commit or release the
    difference); returns the change. The caller checked `available` under the lock."""
    current = balances(budget).outstanding_by_campaign.get(campaign.pk, ZERO)
    delta = outstanding - current
    if delta > 0:
        append(budget, LedgerKind.COMMITTED, delta, campaign=campaign, note=note)
    elif delta < 0:
        append(budget, LedgerKind.RELEASED, -delta, campaign=campaign, note=note)
    return delta


def settle_commitments(
    budget: AdCampaignBudget, targets: dict[AutomatedCampaign, Decimal], note: str
) -> dict[int, Decimal]:
    """`commit_to` for several campaigns at once, from one reading of the balances
    (the caller holds the budget's lock, so nothing moves between them): the changes,
    by campaign id, of those whose open commitment was not already their target."""
    outstanding = balances(budget).outstanding_by_campaign
    entries = []
    changes: dict[int, Decimal] = {}
    for campaign, target in targets.items():
        delta = target - outstanding.get(campaign.pk, ZERO)
        if not delta:
            continue
        changes[campaign.pk] = delta
        entries.append(
            BudgetLedgerEntry(
                budget=budget,
                campaign=campaign,
                kind=LedgerKind.COMMITTED if delta > 0 else LedgerKind.RELEASED,
                amount=abs(delta),
                currency=budget.currency,
                note=note[:500],
            )
        )
    BudgetLedgerEntry.objects.bulk_create(entries)
    return changes


@dataclass(frozen=True)
class NewEntry:
    """One row of `append_many`: what differs from row to row."""

    campaign: AutomatedCampaign
    amount: Decimal
    spend_date: date | None = None
    reference: str = ""


def append_many(
    budget: AdCampaignBudget, kind: LedgerKind, entries: list[NewEntry], note: str
) -> None:
    """`append` for several rows of one kind in one insert, the totals refreshed once."""
    if not entries:
        return
    BudgetLedgerEntry.objects.bulk_create(
        BudgetLedgerEntry(
            budget=budget,
            campaign=entry.campaign,
            kind=kind,
            amount=entry.amount,
            currency=budget.currency,
            spend_date=entry.spend_date,
            reference=entry.reference[:255],
            note=note[:500],
        )
        for entry in entries
    )
    if kind not in COMMITMENT_KINDS:
        refresh_totals(budget)


def spent_by_day(
    campaigns: list[AutomatedCampaign], since: date | None = None, until: date | None = None
) -> dict[int, dict[date, Decimal]]:
    """What the ledger holds as spent per campaign (by id) and day, from `since` to
    `until` or on every day (whose sum is the lifetime spend), one query."""
    rows = BudgetLedgerEntry.objects.filter(campaign__in=campaigns, kind=LedgerKind.SPENT)
    if since is not None and until is not None:
        rows = rows.filter(spend_date__range=(since, until))
    rows = rows.values("campaign_id", "spend_date").annotate(total=Sum("amount"))
    held: dict[int, dict[date, Decimal]] = defaultdict(dict)
    for row in rows:
        held[row["campaign_id"]][row["spend_date"]] = _cents(row["total"])
    return held


def spent_by_campaign(campaigns: list[AutomatedCampaign]) -> dict[int, Decimal]:
    """Each campaign's (by id) lifetime spend in the ledger, one query."""
    rows = (
        BudgetLedgerEntry.objects.filter(campaign__in=campaigns, kind=LedgerKind.SPENT)
        .values("campaign_id")
        .annotate(total=Sum("amount"))
    )
    return {row["campaign_id"]: _cents(row["total"]) for row in rows}


def spent_on_days(days: dict[int, date]) -> dict[int, Decimal]:
    """Each campaign's (by id) spend on its own date in `days` (campaign id -> date),
    one query."""
    rows = (
        BudgetLedgerEntry.objects.filter(
            campaign_id__in=days, kind=LedgerKind.SPENT, spend_date__in=set(days.values())
        )
        .values("campaign_id", "spend_date")
        .annotate(total=Sum("amount"))
    )
    return {
        row["campaign_id"]: _cents(row["total"])
        for row in rows
        if days[row["campaign_id"]] == row["spend_date"]
    }


def spent_on(campaign: AutomatedCampaign, spend_date: date | None = None) -> Decimal:
    rows = BudgetLedgerEntry.objects.filter(campaign=campaign, kind=LedgerKind.SPENT)
    if spend_date is not None:
        rows = rows.filter(spend_date=spend_date)
    return _cents(rows.aggregate(s=Sum("amount"))["s"])
