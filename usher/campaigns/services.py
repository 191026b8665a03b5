"""Budgets: an organizer asks, staff confirm the transfer, then pause, cancel, adjust or
refund. The one path the API, the admin and the tasks take; money moves only through
the ledger (`usher.campaigns.ledger`), under the budget's row lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from usher.campaigns import ledger, publishing
from usher.campaigns.accounts import ad_account_for, allowed_platforms, campaign_settings
from usher.campaigns.decisions import log_decision
from usher.campaigns.models import (
    AdCampaignBudget,
    AllocationStrategy,
    BudgetStatus,
    DecisionKind,
    LedgerKind,
)
from usher.lib.errors import InvalidInput
from usher.lib.tenancy import get_for_organizer_or_404
from usher.marketplace.models import MarketplaceClient, MarketplaceEvent, MarketplaceOrganizer, User

logger = logging.getLogger("usher.campaigns")

# Which status a staff action may move a budget to, from which.
BUDGET_TRANSITIONS: dict[str, set[str]] = {
    BudgetStatus.PENDING_PAYMENT: {BudgetStatus.CANCELLED},
    BudgetStatus.ACTIVE: {BudgetStatus.PAUSED, BudgetStatus.CANCELLED, BudgetStatus.EXHAUSTED},
    BudgetStatus.PAUSED: {BudgetStatus.ACTIVE, BudgetStatus.CANCELLED, BudgetStatus.EXHAUSTED},
    BudgetStatus.EXHAUSTED: {BudgetStatus.ACTIVE, BudgetStatus.CANCELLED},
    BudgetStatus.CANCELLED: set(),
}


# --- asking for a budget ---


@dataclass
class BudgetRequest:
    amount: Decimal
    event_id: int | None = None
    currency: str | None = None
    daily_budget_limit: Decimal | None = None
    allocation_strategy: str = AllocationStrategy.EQUAL_SPLIT
    platform_allocations: dict[str, dict[str, Any]] = field(default_factory=dict)
    target_cpa: Decimal | None = None
    target_roas: Decimal | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    notes: str = ""
    image_url: str = ""
    video_url: str = ""


def _clean_allocations(client: MarketplaceClient, raw: dict[str, dict[str, Any]], strategy: str):
    allowed = allowed_platforms(client)
    cleaned: dict[str, dict[str, str]] = {}
    for platform, spec in raw.items():
        loc = ["body", "platform_allocations", platform]
        if platform not in allowed:
            raise InvalidInput(loc, f"not a platform this marketplace runs: {', '.join(allowed)}.")
        percentage = Decimal(str(spec.get("percentage", 0)))
        if not Decimal(0) <= percentage <= 100:
            raise InvalidInput([*loc, "percentage"], "must be between 0 and 100.")
        entry = {"percentage": str(percentage)}
        if spec.get("daily_limit") is not None:
            daily = Decimal(str(spec["daily_limit"]))
            if daily <= 0:
                raise InvalidInput([*loc, "daily_limit"], "must be positive.")
            entry["daily_limit"] = str(daily)
        cleaned[platform] = entry
    total = sum((Decimal(v["percentage"]) for v in cleaned.values()), Decimal(0))
    if cleaned and total > 100:
        raise InvalidInput(["body", "platform_allocations"], "percentages add up to over 100.")
    if strategy == AllocationStrategy.MANUAL and cleaned and total != 100:
        raise InvalidInput(["body", "platform_allocations"], "manual percentages must add to 100.")
    return cleaned


def budget_platforms(budget: AdCampaignBudget) -> list[str]:
    """The platforms a budget funds: those it allocates, else all the marketplace runs."""
    allowed = allowed_platforms(budget.client)
    chosen = [p for p in budget.platform_allocations if p in allowed]
    return chosen or allowed


def request_budget(organizer: MarketplaceOrganizer, data: BudgetRequest) -> AdCampaignBudget:
    """An organizer asks for a budget; it waits for the transfer (pending_payment)."""
    client = organizer.client
    event = (
        get_for_organizer_or_404(MarketplaceEvent, organizer, pk=data.event_id)
        if data.event_id is not None
        else None
    )
    currency = data.currency or client.currency
    allocations = _clean_allocations(client, data.platform_allocations, data.allocation_strategy)
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        raise InvalidInput(["body", "ends_at"], "must be after starts_at.")
    if data.daily_budget_limit is not None and data.daily_budget_limit > data.amount:
        raise InvalidInput(["body", "daily_budget_limit"], "cannot exceed the amount.")
    budget = AdCampaignBudget(
        client=client,
        organizer=organizer,
        event=event,
        requested_amount=data.amount,
        currency=currency,
        daily_budget_limit=data.daily_budget_limit,
        allocation_strategy=data.allocation_strategy,
        platform_allocations=allocations,
        target_cpa=data.target_cpa or campaign_settings(client).default_target_cpa,
        target_roas=data.target_roas or campaign_settings(client).default_target_roas,
        started_at=data.starts_at,
        ends_at=data.ends_at,
        notes=data.notes,
        image_url=data.image_url,
        video_url=data.video_url,
    )
    for platform in budget_platforms(budget):
        account = ad_account_for(organizer, platform)
        if account is not None and account.currency != currency:
            raise InvalidInput(
                ["body", "currency"],
                f"the {platform} ad account bills in {account.currency}; ask in that currency.",
            )
    budget.save()
    budget.refresh_from_db()  # answer with the stored (quantized) amounts
    logger.info("budget requested: id=%s organizer=%s", budget.pk, organizer.pk)
    return budget


# --- staff actions ---


def confirm_payment(
    budget_id: int, *, reference: str, amount_received: Decimal, user: User | None
) -> AdCampaignBudget:
    """Staff saw the transfer: the amount is paid in and a pending budget becomes active.
    A second transfer on a live budget tops it up."""
    if amount_received <= 0:
        raise InvalidInput(["amount_received"], "must be positive.")
    if not reference.strip():
        raise InvalidInput(["reference"], "the transfer's reference is required.")
    with transaction.atomic():
        budget = ledger.lock_budget(budget_id)
        if budget.status == BudgetStatus.CANCELLED:
            raise InvalidInput(["status"], "a cancelled budget cannot be paid into.")
        ledger.append(budget, LedgerKind.PAID_IN, amount_received, reference=reference, user=user)
        now = timezone.now()
        budget.payment_reference = reference
        budget.paid_at = now
        if budget.status in (BudgetStatus.PENDING_PAYMENT, BudgetStatus.EXHAUSTED):
            _set_status(budget, BudgetStatus.ACTIVE, user, "payment received")
            budget.started_at = budget.started_at or now
        budget.save()
        _create_suites_on_commit(budget)
        log_decision(
            budget,
            DecisionKind.PAYMENT,
            f"transfer {reference} received",
            numbers={"amount": amount_received, "total": budget.total_budget},
            user=user,
        )
    return budget


def _create_suites_on_commit(budget: AdCampaignBudget) -> None:
    """A paid budget gets its suites (for review), and its live campaigns a new pace."""
    from usher.campaigns.tasks import create_suites_task

    transaction.on_commit(lambda: create_suites_task.delay(budget.pk))
    publishing.rebalance_on_commit(budget)


def _set_status(budget: AdCampaignBudget, status: str, user: User | None, reason: str) -> None:
    budget.status = status
    budget.status_reason = reason[:500]
    budget.status_changed_at = timezone.now()
    budget.status_changed_by = user


def change_budget_status(
    budget_id: int, status: BudgetStatus, *, user: User | None, reason: str = ""
) -> AdCampaignBudget:
    """Pause, resume or cancel a budget (exhaustion comes from spend_control). Its
    campaigns follow on their platforms (`usher.campaigns.publishing`)."""
    with transaction.atomic():
        budget = ledger.lock_budget(budget_id)
        if status == budget.status:
            return budget
        if status not in BUDGET_TRANSITIONS[budget.status]:
            raise InvalidInput(["status"], f"a {budget.status} budget cannot become {status}.")
        _set_status(budget, status, user, reason or f"set to {status}")
        budget.save()
        log_decision(budget, DecisionKind.STATUS, budget.status_reason, user=user)
        publishing.rebalance_on_commit(budget)
    return budget


def adjust_budget(
    budget_id: int, amount: Decimal, *, note: str, user: User | None
) -> AdCampaignBudget:
    """A correction of the funds (either sign); never below what is spent or committed."""
    if amount == 0:
        raise InvalidInput(["amount"], "must not be zero.")
    if not note.strip():
        raise InvalidInput(["note"], "say why the budget is adjusted.")
    with transaction.atomic():
        budget = ledger.lock_budget(budget_id)
        if amount < 0 and -amount > ledger.balances(budget).available:
            raise InvalidInput(["amount"], "more than the uncommitted remainder.")
        ledger.append(budget, LedgerKind.ADJUSTMENT, amount, note=note, user=user)
        log_decision(
            budget, DecisionKind.BUDGET_CHANGE, note, numbers={"amount": amount}, user=user
        )
    return budget


def refund_budget(
    budget_id: int, amount: Decimal, *, reference: str, user: User | None
) -> AdCampaignBudget:
    """Money given back to the organizer: at most the uncommitted remainder."""
    if amount <= 0:
        raise InvalidInput(["amount"], "must be positive.")
    with transaction.atomic():
        budget = ledger.lock_budget(budget_id)
        if amount > ledger.balances(budget).available:
            raise InvalidInput(["amount"], "more than the uncommitted remainder.")
        ledger.append(budget, LedgerKind.REFUNDED, amount, reference=reference, user=user)
        log_decision(budget, DecisionKind.BUDGET_CHANGE, f"refund {reference}", user=user)
    return budget


def set_targets(
    budget_id: int, target_cpa: Decimal | None, target_roas: Decimal | None
) -> AdCampaignBudget:
    """The organizer's targets the optimizer pauses and boosts by; empty restores the
    marketplace's defaults."""
    with transaction.atomic():
        budget = ledger.lock_budget(budget_id)
        defaults = campaign_settings(budget.client)
        budget.target_cpa = target_cpa or defaults.default_target_cpa
        budget.target_roas = target_roas or defaults.default_target_roas
        budget.save(update_fields=["target_cpa", "target_roas", "updated_at"])
        log_decision(
            budget,
            DecisionKind.BUDGET_CHANGE,
            "targets changed by the organizer",
            numbers={"target_cpa": budget.target_cpa, "target_roas": budget.target_roas},
            actor="organizer",
        )
    return budget
