"""What the optimizer answers: decisions to apply and recommendations to show.

Every decision carries its reason, the numbers behind it and the expected effect, so
the job can log it as is (the plan's ``optimization_log``) and staff can audit it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum

CENT = Decimal("0.01")


class DecisionKind(StrEnum):
    SET_BUDGET = "set_budget"
    PAUSE_CAMPAIGN = "pause_campaign"
    RESUME_CAMPAIGN = "resume_campaign"
    PAUSE_CREATIVE = "pause_creative"
    KEEP_OVERRIDE = "keep_override"


class DecisionRule(StrEnum):
    """Which part of the optimizer decided (for the log and the dashboards)."""

    ALLOCATION = "allocation"
    CPA_GUARD = "cpa_guard"
    ROAS_GUARD = "roas_guard"
    CREATIVE_TEST = "creative_test"
    SPEND_SAFETY = "spend_safety"
    PACING = "pacing"
    STAFF_OVERRIDE = "staff_override"


class RecommendationKind(StrEnum):
    RAISE_BUDGET = "raise_budget"
    PAUSE_CREATIVE = "pause_creative"
    SATURATED = "saturated"


@dataclass(frozen=True)
class Decision:
    """One change to make on a platform (or, for overrides, one deliberately not made)."""

    kind: DecisionKind
    rule: DecisionRule
    campaign_id: str
    reason: str
    numbers: dict[str, float | str] = field(default_factory=dict)
    expected_effect: str = ""
    daily_budget: Decimal | None = None
    creative_id: str | None = None
    # The flight day this decision plans (the daily rebalance): once applied, the job
    # records it as the campaign's ``budget_set_day`` so the rebalance runs once a day.
    plan_day: int | None = None


@dataclass(frozen=True)
class Recommendation:
    """Advice for the organizer, from the model, with its expected effect."""

    kind: RecommendationKind
    message: str
    campaign_id: str | None = None
    numbers: dict[str, float | str] = field(default_factory=dict)


@dataclass(frozen=True)
class CampaignPlan:
    """The model's view of one campaign this cycle (for dashboards and the log)."""

    campaign_id: str
    planned_spend_today: float
    expected_conversions_today: float
    value_per_conversion: float
    mean_a: float
    mean_b: float
    change_day: int | None


@dataclass(frozen=True)
class CycleResult:
    decisions: tuple[Decision, ...]
    recommendations: tuple[Recommendation, ...]
    plans: tuple[CampaignPlan, ...]


def money(amount: float) -> Decimal:
    """A float amount as Decimal cents, rounded down (a budget is never rounded up)."""
    return Decimal(str(max(amount, 0.0))).quantize(CENT, rounding=ROUND_DOWN)
