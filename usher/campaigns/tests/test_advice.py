"""The optimizer's advice in force: each live budget's newest day of advice, in the
organizer API (scoped, filtered) and the panel (in the organizer's language)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from usher.campaigns import decisions, optimization
from usher.campaigns.models import BudgetStatus, DecisionKind, OptimizationLogEntry
from usher.campaigns.optimizer.decisions import Recommendation, RecommendationKind
from usher.campaigns.tests.factories import BudgetFactory, CampaignFactory

pytestmark = pytest.mark.django_db

ADS = "/api/marketplace-client/organizer/ads"


def advise(budget, reason, *, campaign=None, days_ago=0, kind="raise_budget", **numbers):
    entry = decisions.log_decision(
        budget,
        DecisionKind.RECOMMENDATION,
        reason,
        campaign=campaign,
        numbers={"recommendation": kind, **numbers},
        actor="optimizer",
        applied=False,
    )
    if days_ago:
        when = entry.created_at - timedelta(days=days_ago)
        OptimizationLogEntry.objects.filter(pk=entry.pk).update(created_at=when)
    return entry


@pytest.fixture
def budget(organizer):
    return BudgetFactory(organizer=organizer, status=BudgetStatus.ACTIVE)


def advice_reasons(entries) -> list[str]:
    return [entry.reason for entry in decisions.current_advice(entries)]


def test_only_each_budgets_newest_day_of_advice_is_in_force(organizer, budget):
    other = BudgetFactory(organizer=organizer, status=BudgetStatus.PAUSED)
    advise(budget, "yesterday's raise", days_ago=1)
    advise(budget, "today's raise")
    advise(budget, "today's saturation", kind="saturated")
    advise(other, "the other budget's two-day-old advice", days_ago=2)
    decisions.log_decision(budget, DecisionKind.BUDGET_CHANGE, "a decision, not advice")

    reasons = advice_reasons(OptimizationLogEntry.objects.for_organizer(organizer))

    assert sorted(reasons) == [
        "the other budget's two-day-old advice",
        "today's raise",
        "today's saturation",
    ]


@pytest.mark.parametrize("status", [BudgetStatus.EXHAUSTED, BudgetStatus.CANCELLED])
def test_a_finished_budget_advises_nothing(organizer, status):
    finished = BudgetFactory(organizer=organizer, status=status)
    advise(finished, "raise it")
    assert advice_reasons(OptimizationLogEntry.objects.for_organizer(organizer)) == []


def test_the_api_lists_the_advice_with_its_campaign_and_platform(organizer_api, organizer, budget):
    campaign = CampaignFactory(budget=budget, platform="tiktok", name="Prospecting TikTok")
    advise(budget, "raise the budget", extra_money=120)
    advise(budget, "tiktok is saturated", campaign=campaign, kind="saturated", marginal_roas=0.4)
    advise(budget, "stale", days_ago=1)

    body = organizer_api.get(f"{ADS}/recommendations").json()

    by_reason = {item["message"]: item for item in body["items"]}
    assert set(by_reason) == {"raise the budget", "tiktok is saturated"}
    saturated = by_reason["tiktok is saturated"]
    assert (saturated["campaign"], saturated["campaign_name"]) == (campaign.pk, campaign.name)
    assert (saturated["platform"], saturated["advice"]) == ("tiktok", "saturated")
    assert saturated["numbers"]["marginal_roas"] == 0.4 and saturated["budget"] == budget.pk
    whole = by_reason["raise the budget"]
    assert (whole["campaign"], whole["platform"], whole["advice"]) == (None, "", "raise_budget")


def test_the_api_filters_advice_by_budget_and_campaign(organizer_api, organizer, budget):
    second = BudgetFactory(organizer=organizer, status=BudgetStatus.ACTIVE)
    campaign = CampaignFactory(budget=budget)
    advise(budget, "about the campaign", campaign=campaign, kind="saturated")
    advise(budget, "about the budget")
    advise(second, "about the second budget")

    def messages(query: str) -> set[str]:
        items = organizer_api.get(f"{ADS}/recommendations?{query}").json()["items"]
        return {item["message"] for item in items}

    assert messages(f"budget={second.pk}") == {"about the second budget"}
    assert messages(f"campaign={campaign.pk}") == {"about the campaign"}
    assert organizer_api.get(f"{ADS}/recommendations?budget=0").status_code == 422


def test_the_optimizers_job_stores_advice_the_api_then_shows(organizer_api, budget):
    """The rows store_recommendations writes are the ones the API reads."""
    campaign = CampaignFactory(budget=budget)
    optimization.store_recommendations(
        budget,
        [campaign],
        (
            Recommendation(
                RecommendationKind.PAUSE_CREATIVE,
                "creative 'poster' loses: pause it",
                campaign_id=str(campaign.pk),
                numbers={"probability": 0.83, "creative": "poster"},
            ),
        ),
    )
    (item,) = organizer_api.get(f"{ADS}/recommendations").json()["items"]
    assert (item["campaign"], item["advice"]) == (campaign.pk, "pause_creative")
    assert item["numbers"]["creative"] == "poster"
