"""The decision log: every change to a budget or campaign, automatic or by staff, is a
row with its reason and the numbers behind it (the plan's `optimization_log`)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import TruncDay

from usher.campaigns.models import (
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetStatus,
    DecisionKind,
    OptimizationLogEntry,
)
from usher.marketplace.models import User

logger = logging.getLogger("usher.campaigns")


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def log_decision(
    budget: AdCampaignBudget,
    kind: DecisionKind,
    reason: str,
    *,
    campaign: AutomatedCampaign | None = None,
    numbers: dict[str, Any] | None = None,
    expected_effect: str = "",
    user: User | None = None,
    actor: str = "",
    applied: bool = True,
    overridden: bool = False,
) -> OptimizationLogEntry:
    entry = OptimizationLogEntry.objects.create(
        client_id=budget.client_id,
        budget=budget,
        campaign=campaign,
        kind=kind,
        reason=reason[:1000],
        numbers={key: _jsonable(value) for key, value in (numbers or {}).items()},
        expected_effect=expected_effect[:500],
        applied=applied,
        overridden=overridden,
        actor=user,
        actor_label=actor or (user.get_username() if user else "system"),
    )
    logger.info(
        "campaign decision: budget=%s campaign=%s kind=%s applied=%s actor=%s",
        budget.pk,
        campaign.pk if campaign else None,
        kind,
        applied,
        entry.actor_label,
    )
    return entry


# Budgets whose advice still matters: money is left to act on.
ADVISED_BUDGET_STATUSES = (BudgetStatus.ACTIVE, BudgetStatus.PAUSED)


def current_advice(entries: QuerySet[OptimizationLogEntry]) -> QuerySet[OptimizationLogEntry]:
    """The optimizer's advice in force: each live budget's newest day of `recommendation`
    rows, the newest first.

    Advice is written once a day per budget as a whole set (optimization.py), so the
    newest day's rows replace the day before's: yesterday's "raise the budget" is not
    still advice once today's model has spoken, and a finished budget advises nothing.
    `entries` is already scoped to a tenant (`for_organizer`/`for_client`)."""
    newest = (
        OptimizationLogEntry.objects.filter(
            budget=OuterRef("budget"), kind=DecisionKind.RECOMMENDATION
        )
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    return (
        entries.filter(kind=DecisionKind.RECOMMENDATION, budget__status__in=ADVISED_BUDGET_STATUSES)
        .annotate(advice_day=TruncDay(Subquery(newest)))
        .filter(created_at__gte=F("advice_day"))
        .select_related("campaign", "budget")
        .order_by("-created_at", "-id")
    )
