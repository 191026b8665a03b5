"""The decision log: every change to a budget or campaign, automatic or by staff, is a
row with its reason and the numbers behind it (the plan's `optimization_log`)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from usher.campaigns.models import (
    AdCampaignBudget,
    AutomatedCampaign,
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
