"""The hourly optimization job: the optimizer's inputs read from what Usher stored, its
decisions applied through spend control and publishing, each one logged; staff
overrides win until lifted; recommendations stored for the panel."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from usher.campaigns import optimization, publishing
from usher.campaigns.models import (
    CampaignAttribution,
    CampaignMetrics,
    CampaignStatus,
    DecisionKind,
    OptimizationLogEntry,
)
from usher.campaigns.optimizer import decisions as opt
from usher.marketplace.tests.factories import OrderFactory
from usher.platforms.base import PlatformError

pytestmark = pytest.mark.django_db


def decision(kind, campaign, rule=opt.DecisionRule.ALLOCATION, **fields) -> opt.Decision:
    return opt.Decision(
        kind=kind,
        rule=rule,
        campaign_id=str(campaign.pk),
        reason="because the model says so",
        numbers={"marginal_roas": 1.5},
        expected_effect="about 2.0 sales today",
        plan_day=0,
        **fields,
    )


@pytest.fixture
def decide(monkeypatch):
    """Make the optimizer answer the given decisions and advice."""

    def answer(decisions, recommendations=()):
        result = opt.CycleResult(tuple(decisions), tuple(recommendations), ())
        monkeypatch.setattr(optimization, "run_cycle", lambda state, **kw: result)

    return answer


def test_the_job_applies_each_decision_on_the_platform_and_logs_it(
    daily_campaigns, platform, decide
) -> None:
    lowered, paused, rotated = daily_campaigns
    ad = rotated.creatives.get()
    ad_id = ad.external_ad_id
    decide(
        [
            decision(opt.DecisionKind.SET_BUDGET, lowered, daily_budget=Decimal("6.00")),
            decision(opt.DecisionKind.PAUSE_CAMPAIGN, paused, rule=opt.DecisionRule.CPA_GUARD),
            decision(
                opt.DecisionKind.PAUSE_CREATIVE,
                rotated,
                rule=opt.DecisionRule.CREATIVE_TEST,
                creative_id=ad_id,
            ),
        ],
        [opt.Recommendation(opt.RecommendationKind.SATURATED, "retargeting is saturated")],
    )
    outcome = optimization.optimize_budget(lowered.budget_id)
    assert (outcome.decisions, outcome.applied, outcome.recommendations) == (3, 3, 1)
    for campaign in (lowered, paused):
        campaign.refresh_from_db()
    assert lowered.desired_daily_budget == lowered.daily_budget == Decimal("6.00")
    assert platform.campaigns[lowered.reference].daily_budget == Decimal("6.00")
    assert paused.status == CampaignStatus.PAUSED and paused.desired_daily_budget == 0
    assert not platform.campaigns[paused.reference].active
    assert ("set_ad_status", ad_id) in platform.calls
    ad.refresh_from_db()
    assert not ad.is_active
    log = OptimizationLogEntry.objects.filter(actor_label="optimizer")
    entries = {(e.campaign_id, e.kind): e for e in log.exclude(kind=DecisionKind.RECOMMENDATION)}
    assert set(entries) == {
        (lowered.pk, DecisionKind.BUDGET_CHANGE),
        (paused.pk, DecisionKind.PAUSE),
        (rotated.pk, DecisionKind.CREATIVE_ROTATION),
    }
    budget_entry = entries[(lowered.pk, DecisionKind.BUDGET_CHANGE)]
    assert budget_entry.applied and budget_entry.numbers["daily_budget"] == "6.00"
    assert budget_entry.numbers["rule"] == "allocation" and budget_entry.numbers["plan_day"] == 0
    assert budget_entry.reason.startswith("allocation: because")
    assert budget_entry.expected_effect == "about 2.0 sales today"
    advice = log.get(kind=DecisionKind.RECOMMENDATION)
    assert not advice.applied and advice.numbers["recommendation"] == "saturated"


def test_what_the_optimizer_did_is_read_back_into_its_next_inputs(
    daily_campaigns, platform, decide
) -> None:
    lowered, paused, _ = daily_campaigns
    decide(
        [
            decision(opt.DecisionKind.SET_BUDGET, lowered, daily_budget=Decimal("6.00")),
            decision(opt.DecisionKind.PAUSE_CAMPAIGN, paused, rule=opt.DecisionRule.CPA_GUARD),
        ]
    )
    optimization.optimize_budget(lowered.budget_id)
    state = _state(lowered.budget)
    by_id = {c.campaign_id: c for c in state.campaigns}
    assert by_id[str(lowered.pk)].budget_set_day == 0
    assert by_id[str(lowered.pk)].daily_budget == Decimal("6.00")
    assert by_id[str(paused.pk)].paused_by_rule and not by_id[str(paused.pk)].active


def test_a_decision_the_platform_refuses_is_logged_as_not_applied(
    daily_campaigns, platform, decide
) -> None:
    campaign = daily_campaigns[0]
    decide([decision(opt.DecisionKind.SET_BUDGET, campaign, daily_budget=Decimal("6.00"))])
    platform.fail_next = [PlatformError("transient", "service unavailable", platform="meta")]
    outcome = optimization.optimize_budget(campaign.budget_id)
    assert (outcome.applied, outcome.refused) == (0, 1)
    entry = OptimizationLogEntry.objects.get(actor_label="optimizer", campaign=campaign)
    assert not entry.applied
    # Not applied: the optimizer has not set this day's budget and will decide again.
    assert _campaign_state(campaign).budget_set_day is None


def test_the_inputs_carry_reported_hours_and_usher_attributed_orders(
    daily_campaigns, event
) -> None:
    campaign = daily_campaigns[0]
    budget = campaign.budget
    start = optimization.flight_of(budget, daily_campaigns).start
    for hour in range(24):
        CampaignMetrics.objects.create(
            campaign=campaign,
            level="campaign",
            object_id=campaign.external_campaign_id,
            date=start.date(),
            hour=hour,
            spend=Decimal("1.50"),
            conversions=Decimal("0.5"),
            conversion_value=Decimal("60"),
        )
    order = OrderFactory(event=event, placed_at=start + timedelta(hours=5), tickets_count=3)
    CampaignAttribution.objects.create(
        order=order, campaign=campaign, matched_by="fbc", value=Decimal("180"), currency="RON"
    )
    state = optimization.suite_state(
        budget,
        daily_campaigns,
        optimization.flight_of(budget, daily_campaigns),
        start + timedelta(days=1, hours=2),
    )
    day = state.campaigns[0].days[0]
    assert day.spend == pytest.approx(36.0) and day.complete
    assert day.platform_conversions == pytest.approx(12.0)
    assert (day.attributed_conversions, day.attributed_revenue) == (1, 180.0)
    assert state.reported_hours == 24 and state.hour_of_flight == 26
    assert state.hourly_profile is None  # only finished days before yesterday count
    assert state.total_budget == Decimal("1000.00")


def test_each_creative_carries_the_orders_its_landing_tag_brought(daily_campaigns, event) -> None:
    """The creative test compares variants on Usher's own orders: an order's
    `utm_content` (the variant's landing URL tag) says which creative sold it."""
    campaign = daily_campaigns[0]
    campaign.creatives.update(external_ad_id="ad-a")
    campaign.creatives.create(
        variant="B", headline="h", landing_url="https://tix.example/e", external_ad_id="ad-b"
    )
    for n, variant in enumerate(["B", "B", "A", "B"]):
        order = OrderFactory(event=event, utm_content=f"{campaign.campaign_type}-{variant}")
        CampaignAttribution.objects.create(
            order=order, campaign=campaign, matched_by="utm", value=Decimal(10 + n), currency="RON"
        )
    other = OrderFactory(event=event, utm_content=f"{campaign.campaign_type}-B")
    CampaignAttribution.objects.create(  # another campaign's sale is not this one's
        order=other, campaign=daily_campaigns[1], matched_by="utm", value=1, currency="RON"
    )
    creatives = {c.name: c for c in _campaign_state(campaign).creatives}
    assert (creatives["A"].attributed_conversions, creatives["B"].attributed_conversions) == (1, 3)


def test_a_staff_override_wins_over_the_optimizer_until_lifted(daily_campaigns, platform) -> None:
    held = daily_campaigns[0]
    publishing.override_daily_budget(held.pk, Decimal("7.00"), user=None, reason="staff test")
    optimization.optimize_budget(held.budget_id)
    optimization.optimize_budget(held.budget_id)  # the same day: logged once
    held.refresh_from_db()
    assert held.daily_budget == Decimal("7.00")
    assert platform.campaigns[held.reference].daily_budget == Decimal("7.00")
    [kept] = OptimizationLogEntry.objects.filter(actor_label="optimizer", campaign=held)
    assert kept.kind == DecisionKind.OVERRIDE and kept.overridden
    others = OptimizationLogEntry.objects.filter(
        actor_label="optimizer", kind=DecisionKind.BUDGET_CHANGE
    )
    assert {e.campaign_id for e in others} == {c.pk for c in daily_campaigns[1:]}
    publishing.lift_budget_override(held.pk, user=None)
    tomorrow = timezone.now() + timedelta(days=1)
    optimization.optimize_budget(held.budget_id, now=tomorrow)
    assert OptimizationLogEntry.objects.filter(
        actor_label="optimizer", campaign=held, kind=DecisionKind.BUDGET_CHANGE
    ).exists()


def _state(budget):
    campaigns = list(
        budget.campaigns.filter(status__in=optimization.OPTIMIZED_STATUSES).order_by("pk")
    )
    flight = optimization.flight_of(budget, campaigns)
    return optimization.suite_state(budget, campaigns, flight, timezone.now())


def _campaign_state(campaign):
    state = _state(campaign.budget)
    return next(c for c in state.campaigns if c.campaign_id == str(campaign.pk))
