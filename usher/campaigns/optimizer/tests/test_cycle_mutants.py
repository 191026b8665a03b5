"""The cycle's parts, each checked where a mutation run (docs/mutation.md) showed that
`test_cycle.py`'s end-to-end tests let a fault through.

Those tests run whole cycles and markets and check what an organizer sees; a constant
or a boundary changed inside one step often leaves that picture intact. These tests
pin each step's rule on a small suite (pure: no database, milliseconds each).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from usher.campaigns.optimizer import cycle
from usher.campaigns.optimizer.allocation import allocate, expected_revenue
from usher.campaigns.optimizer.creatives import judge_creatives, suite_clicks
from usher.campaigns.optimizer.curves import DemandPattern, ResponseCurve
from usher.campaigns.optimizer.decisions import (
    CampaignPlan,
    DecisionKind,
    DecisionRule,
    RecommendationKind,
)
from usher.campaigns.optimizer.evidence import CampaignEvidence
from usher.campaigns.optimizer.learner import B_PRIOR_CENTER_RATIO, CurvePosterior
from usher.campaigns.optimizer.rules import cpa_guard
from usher.campaigns.optimizer.state import (
    CampaignState,
    CreativeState,
    DayMetrics,
    Override,
    SuiteState,
)


def suite(campaigns, *, day=0, hour=0, total=3000.0, flight_days=10, **kwargs) -> SuiteState:
    """A suite at ``day``/``hour`` of a flight, every hour reported."""
    return SuiteState(
        budget_id="b",
        total_budget=Decimal(str(total)),
        spent=Decimal("0"),
        daily_limit=kwargs.pop("daily_limit", None),
        target_cpa=kwargs.pop("target_cpa", None),
        target_roas=kwargs.pop("target_roas", None),
        flight_days=flight_days,
        first_weekday=kwargs.pop("first_weekday", 0),
        hour_of_flight=day * 24 + hour,
        reported_hours=kwargs.pop("reported_hours", day * 24 + hour),
        campaigns=tuple(campaigns),
        **kwargs,
    )


def campaign(cid: str, budget: float = 100.0, **kwargs) -> CampaignState:
    return CampaignState(cid, "meta", "prospecting", True, Decimal(str(budget)), **kwargs)


def test_the_exploration_floor_is_a_tenth_of_the_equal_split_until_the_last_three_days():
    three = [campaign(str(i)) for i in range(3)]
    # 3,000 over 10 days and 3 campaigns: 100 a day each, a floor of 10.
    assert cycle._exploration_floor(suite(three, day=6)) == pytest.approx(10.0)
    assert cycle._exploration_floor(suite(three, day=7)) == 0.0
    # The daily limit, when lower, sets the day's money: 150 / 3 = 50, a floor of 5.
    limited = suite(three, day=0, daily_limit=Decimal("150"))
    assert cycle._exploration_floor(limited) == pytest.approx(5.0)
    assert cycle._exploration_floor(replace(limited, daily_limit=Decimal("3000"))) == (
        pytest.approx(10.0)
    )


def test_with_floor_keeps_the_plan_lifts_it_to_the_floor_and_sets_an_unplanned_one_off_or_at_its_minimum():
    minimum_20 = campaign("c", min_daily_budget=Decimal("20"))
    assert cycle._with_floor(minimum_20, 50.0, 10.0, trial=False) == 50.0
    assert cycle._with_floor(minimum_20, 5.0, 10.0, trial=False) == 10.0
    assert cycle._with_floor(minimum_20, 0.5, 0.2, trial=False) == 0.5
    # Left off by the plan: on a trial day at the minimum, else at the floor where the
    # platform takes a budget that small (the floor reaching the minimum), else off.
    assert cycle._with_floor(minimum_20, 0.0, 10.0, trial=True) == 20.0
    assert cycle._with_floor(minimum_20, 0.0, 10.0, trial=False) == 0.0
    assert cycle._with_floor(minimum_20, 0.0, 20.0, trial=False) == 20.0
    assert cycle._with_floor(minimum_20, 0.0, 25.0, trial=False) == 25.0


def test_exploration_alternates_budgets_by_fifteen_percent_and_keeps_the_days_total():
    three = suite([campaign(str(i)) for i in range(3)], day=0)
    planned = {0: 100.0, 1: 100.0, 2: 100.0}
    # Day 0: campaigns 0 and 2 up (115), 1 down (85); rescaled to the plan's 300.
    explored = cycle._explore(three, planned, set())
    assert explored == pytest.approx({0: 115 * 300 / 315, 1: 85 * 300 / 315, 2: 115 * 300 / 315})
    # The next day the swing flips.
    explored = cycle._explore(replace(three, hour_of_flight=24), planned, set())
    assert explored == pytest.approx({0: 85 * 300 / 285, 1: 115 * 300 / 285, 2: 85 * 300 / 285})
    # A campaign at its audience's ceiling is left as planned; the others swing alone.
    assert cycle._explore(three, planned, {2}) == pytest.approx({0: 115.0, 1: 85.0, 2: 100.0})
    # Nothing to swing: the plan as it is.
    assert cycle._explore(three, planned, {0, 1, 2}) == planned
    assert cycle._explore(three, {0: 0.0, 1: 0.0}, set()) == {0: 0.0, 1: 0.0}
    # Budgets under one are alternated and rescaled alike.
    tiny = cycle._explore(three, {0: 0.5, 1: 0.3}, set())
    assert tiny == pytest.approx({0: 0.575 * 0.8 / 0.83, 1: 0.255 * 0.8 / 0.83})


def test_exploration_stops_three_days_before_the_event():
    planned = {0: 100.0, 1: 100.0}
    two = [campaign("0"), campaign("1")]
    assert cycle._explore(suite(two, day=7), planned, set()) == planned
    assert cycle._explore(suite(two, day=6), planned, set()) != planned


def test_a_weekly_cap_counts_the_spend_of_the_calendar_week_so_far():
    days = tuple(DayMetrics(d, 10.0 + d, 100.0) for d in range(12))
    capped = campaign("c", days=days, weekly_cap_days=7.0)
    # Day 9 of a flight starting on a Monday is a Wednesday: days 7, 8 and 9.
    assert cycle._week_room(suite([capped], day=9), capped) == (7.0, 17.0 + 18.0 + 19.0)
    # Starting on a Thursday, day 9 is a Saturday: the week began on day 4.
    on_thursday = suite([capped], day=9, first_weekday=3)
    assert cycle._week_room(on_thursday, capped) == (7.0, sum(10.0 + d for d in range(4, 10)))
    uncapped = campaign("u", days=days)
    assert cycle._week_room(suite([uncapped], day=9), uncapped) == (np.inf, 0.0)
    rooms, spent = cycle._week_rooms(suite([capped, uncapped], day=9), [1, 0])
    assert rooms.tolist() == [np.inf, 7.0] and spent.tolist() == [0.0, 54.0]


def test_the_share_of_a_day_left_counts_the_current_hour():
    profile = tuple([0.0] * 20 + [0.25] * 4)
    # From 20:00 every hour left delivers a quarter: the whole day (capped at 1).
    assert cycle._share_left(suite([], hour=20, hourly_profile=profile)) == 1.0
    assert cycle._share_left(suite([], hour=23, hourly_profile=profile)) == pytest.approx(
        0.25 * 1.15
    )
    # Without a profile: the hours' even share with a margin, 12 of 24 x 1.5.
    assert cycle._share_left(suite([], hour=12)) == pytest.approx(0.75)


def test_a_days_step_is_measured_from_the_budget_in_force_or_yesterdays_if_higher():
    days = (DayMetrics(3, 80.0, 120.0), DayMetrics(4, 90.0, 150.0), DayMetrics(5, 10.0, 60.0))
    assert cycle._step_base(suite([], day=5), campaign("c", 60.0, days=days)) == 150.0
    assert cycle._step_base(suite([], day=5), campaign("c", 200.0, days=days)) == 200.0
    assert cycle._step_base(suite([], day=4), campaign("c", 60.0, days=days)) == 120.0


def test_the_rebalance_is_due_once_a_day_when_yesterday_is_reported_or_at_six_at_the_latest():
    complete = (DayMetrics(4, 100.0, 100.0),)
    partial = (DayMetrics(4, 100.0, 100.0, complete=False),)
    assert not cycle._rebalance_due(suite([], day=5, hour=10), campaign("c", budget_set_day=5))
    assert cycle._rebalance_due(suite([], day=5, hour=2), campaign("c", days=complete))
    assert not cycle._rebalance_due(suite([], day=5, hour=5), campaign("c", days=partial))
    assert not cycle._rebalance_due(suite([], day=5, hour=5), campaign("c"))
    assert cycle._rebalance_due(suite([], day=5, hour=6), campaign("c", days=partial))
    assert cycle._rebalance_due(suite([], day=0, hour=0), campaign("c", budget_set_day=None))
    # A paused campaign has no report to wait for.
    paused = replace(campaign("c", days=partial, budget_set_day=3), active=False)
    assert cycle._rebalance_due(suite([], day=5, hour=2), paused)
    assert not cycle._rebalance_due(suite([], day=5, hour=2), replace(paused, budget_set_day=5))


def test_the_budget_in_force_is_the_overrides_then_the_campaigns_if_live():
    assert cycle._budget_in_force(campaign("c", 80.0)) == 80.0
    assert cycle._budget_in_force(replace(campaign("c", 80.0), active=False)) == 0.0
    held = Override(daily_budget=Decimal("30"))
    assert cycle._budget_in_force(campaign("c", 80.0, override=held)) == 30.0
    paused = Override(paused=True, daily_budget=Decimal("30"))
    assert cycle._budget_in_force(campaign("c", 80.0, override=paused)) == 0.0
    assert cycle._budget_in_force(campaign("c", 80.0, override=Override())) == 80.0


def test_a_creatives_hours_are_those_its_campaign_delivered_today_so_far():
    creatives = (
        CreativeState("a", "A", True, hours_live=100.0),
        CreativeState("b", "B", True, hours_live=30.0),
        CreativeState("c", "C", True, hours_live=100.0),
    )
    days = (
        DayMetrics(0, 50.0, 50.0),  # every creative (none named): 24 h each
        DayMetrics(1, 0.0, 50.0),  # no delivery: no hours
        DayMetrics(2, 50.0, 50.0, complete=False, active_creatives=("a", "b")),  # today
    )
    delivered = cycle._delivered_hours(
        suite([], day=2, hour=7), campaign("x", creatives=creatives, days=days)
    )
    assert [c.hours_live for c in delivered] == [31.0, 30.0, 24.0]
    assert [c.creative_id for c in delivered] == ["a", "b", "c"]
    # A day that spent under one delivered; an ad live on no day that spent, nothing.
    days = (DayMetrics(0, 0.5, 50.0, active_creatives=("a",)),)
    delivered = cycle._delivered_hours(
        suite([], day=2, hour=7), campaign("x", creatives=creatives, days=days)
    )
    assert [c.hours_live for c in delivered] == [24.0, 0.0, 0.0]


def test_an_override_is_reported_kept_unless_staff_set_it_today():
    held = campaign("h", override=Override(daily_budget=Decimal("40")), budget_set_day=2)
    paused = campaign("p", override=Override(paused=True))
    today = campaign("t", override=Override(paused=True), budget_set_day=3)
    decisions: list = []
    cycle._overrides(suite([held, paused, today, campaign("free")], day=3), decisions)
    assert [(d.campaign_id, d.kind, d.rule, d.plan_day) for d in decisions] == [
        ("h", DecisionKind.KEEP_OVERRIDE, DecisionRule.STAFF_OVERRIDE, 3),
        ("p", DecisionKind.KEEP_OVERRIDE, DecisionRule.STAFF_OVERRIDE, 3),
    ]
    assert decisions[0].numbers == {"paused": "False", "daily_budget": "40"}
    assert decisions[1].numbers == {"paused": "True", "daily_budget": "0"}
    assert decisions[0].reason == (
        "a staff override holds this campaign; the optimizer leaves it alone"
    )


def test_the_spend_scale_is_a_days_equal_share_and_never_divides_by_zero():
    assert cycle._spend_scale(suite([campaign("a"), campaign("b")], total=1000.0)) == 50.0
    assert cycle._spend_scale(suite([], total=1000.0)) == 100.0
    assert cycle._spend_scale(suite([campaign("a")], total=1000.0, flight_days=0)) == 1000.0
    limited = suite([campaign("a"), campaign("b")], total=1000.0, daily_limit=Decimal("60"))
    assert cycle._spend_scale(limited) == 30.0


def test_a_curves_scale_is_the_equal_share_or_its_platforms_minimum_if_higher():
    state = suite([campaign("a"), campaign("b", min_daily_budget=Decimal("250"))], total=2000.0)
    assert cycle._curve_scales(state).tolist() == [100.0, 250.0]
    assert cycle._minimums(state, [1, 0]).tolist() == [250.0, 1.0]


def point_posterior(a: float, b: float) -> CurvePosterior:
    """A posterior sure of its curve: conversions a day = a · (1 - exp(-spend / b))."""
    return CurvePosterior(np.array([b]), np.array([1.0]), np.array([a]), np.array([1.0]))


def evidence_of(cid: str, days: int, value=200.0, tickets=1.0) -> CampaignEvidence:
    ones = np.ones(days)
    return CampaignEvidence(
        cid, np.arange(days), 100.0 * ones, 100.0 * ones, ones, ones, value, tickets, False
    )


LEDGER = cycle._Ledger(
    free=1000.0, plannable=1000.0, mean_ratio=0.8, low_share=0.75, max_ratio=1.2, fixed_daily=0.0
)
# Demand that ramps: day 3's factor (1 + (3/9)²) is not day 4's.
RAMPING = DemandPattern(10, 0, ramp=1.0)


def recommend(evidence, posteriors, plan, extra, target_roas=None, day=3):
    """`_recommend` on a suite of these campaigns; ``extra`` is (revenue, sales, money)
    that more money would bring."""
    state = suite(
        [replace(campaign(e.campaign_id), campaign_type="cold_audience") for e in evidence],
        day=day,
        target_roas=target_roas,
        currency="RON",
    )
    model = cycle._Model(posteriors, RAMPING, np.full(len(evidence), np.inf))
    managed = list(range(len(evidence)))
    return cycle._recommend(state, evidence, model, LEDGER, managed, plan, lambda share: extra)


def raise_advice(extra, target_roas=None, days=3) -> list:
    evidence = [evidence_of("a", days, tickets=2.5), evidence_of("b", days, tickets=1.5)]
    posteriors = [point_posterior(1.0, 100.0)] * 2
    advice = recommend(evidence, posteriors, {0: 0.0, 1: 0.0}, extra, target_roas)
    return [r for r in advice if r.kind == RecommendationKind.RAISE_BUDGET]


def test_a_bigger_budget_is_advised_with_its_expected_tickets_and_roas():
    extra_money = 100.25123
    [advice] = raise_advice((2.50018 * extra_money, 1.23456, extra_money), Decimal("2.5"))
    # 1.23456 sales at 2 tickets each (the managed campaigns' mean).
    assert advice.message == "raise the budget by 20%: expected +2 tickets at ROAS 2.5x"
    assert advice.numbers == {
        "extra_money": 100.25,
        "extra_revenue": round(2.50018 * extra_money, 2),
        "extra_tickets": 2.5,
        "roas_of_extra_money": 2.5,
    }


def test_a_bigger_budget_is_advised_from_a_return_of_exactly_the_target_or_one_without_one():
    assert raise_advice((250.0, 1.0, 100.0), Decimal("2.5"))
    assert not raise_advice((249.0, 1.0, 100.0), Decimal("2.5"))
    # Without a target, any money returned in full is worth advising.
    assert raise_advice((150.0, 1.0, 100.0))
    assert not raise_advice((99.0, 1.0, 100.0))
    # However little the extra money.
    assert raise_advice((5.0, 0.1, 0.5))
    assert not raise_advice((0.0, 0.0, 0.0))


def test_advice_needs_two_fully_reported_days():
    assert raise_advice((500.0, 2.0, 100.0), days=2)
    assert not raise_advice((500.0, 2.0, 100.0), days=1)
    assert (
        cycle._recommend(suite([]), [], None, LEDGER, [], {}, lambda share: (1.0, 1.0, 1.0)) == []
    )


def test_saturation_is_flagged_where_the_next_unit_buys_under_a_third_of_the_average():
    evidence = [
        evidence_of("young", 1),  # one day: too soon to say
        evidence_of("full", 2, value=153.0),
        evidence_of("unplanned", 3),
        evidence_of("tiny", 3),
    ]
    steep = point_posterior(10.0, 0.1)  # saturated at any spend
    posteriors = [steep, point_posterior(10.0, 100.0), steep, steep]
    plan = {0: 50.0, 1: 300.0, 3: 1.125}
    advice = recommend(evidence, posteriors, plan, (0.0, 0.0, 0.0))
    saturated = {r.campaign_id: r for r in advice if r.kind == RecommendationKind.SATURATED}
    # The unplanned campaign spends nothing; the tiny one 0.9 a day, and saturates there.
    assert sorted(saturated) == ["full", "tiny"]
    factor = RAMPING.factors(3, 4)[0]
    spend = 300.0 * 0.8
    average = posteriors[1].expected_conversions(spend, factor) / spend
    marginal = posteriors[1].expected_marginal(spend, factor)
    assert marginal < average / 3 < posteriors[1].expected_marginal(spend / 2, factor)
    # (Numbers with more decimals than shown, so that the rounding is checked too.)
    assert round(marginal * 153.0, 4) != round(marginal * 153.0, 3)
    assert round(average * 153.0, 4) != round(average * 153.0, 3)
    assert saturated["full"].numbers == {
        "marginal_roas": round(marginal * 153.0, 3),
        "average_roas": round(average * 153.0, 3),
    }
    assert saturated["full"].message == (
        f"cold audience on meta is saturated: the next 100 RON buy {marginal * 100:.2f} sales, "
        f"the average 100 RON {average * 100:.2f}"
    )


def fitted_ramp(spend, sales, quality, days=14) -> tuple[float, list]:
    """The demand ramp and change days `_fit` finds on a 20-day flight from campaigns
    with these days (arrays of days x campaigns, or one array for every campaign)."""
    evidence = [
        CampaignEvidence(
            str(k), np.arange(days), spend[k], spend[k], sales[k], quality[k], 200.0, 1.0, False
        )
        for k in range(len(sales))
    ]
    state = replace(
        suite([campaign(e.campaign_id) for e in evidence], day=days, hour=6, total=20000.0),
        flight_days=20,
    )
    model = cycle._fit(state, evidence, np.full(len(evidence), np.inf))
    return model.demand.ramp, [p.change_day for p in model.posteriors]


DAYS = np.arange(14)
RAMP_3 = 1 + 3 * (DAYS / 19) ** 2
FLAT = np.ones(14)


def test_demand_is_learned_from_each_days_own_spend():
    # Spend alternating 200 / 50 on a demand ramp of 3: each day's sales are set against
    # what that day's spend buys.
    spend = np.where(DAYS % 2, 50.0, 200.0)
    sales = np.round(30 * -np.expm1(-spend / 100) * RAMP_3)
    ramp, _ = fitted_ramp([spend] * 2, [sales] * 2, [FLAT] * 2)
    assert ramp == pytest.approx(2.78, abs=0.05)


def test_sales_that_rise_with_the_creatives_quality_are_not_read_as_demand():
    quality = np.linspace(0.5, 2.0, 14)
    sales = np.round(20 * quality)
    spend = np.full(14, 100.0)
    explained, _ = fitted_ramp([spend] * 2, [sales] * 2, [quality] * 2)
    unexplained, _ = fitted_ramp([spend] * 2, [sales] * 2, [FLAT] * 2)
    assert explained < 0.5
    assert unexplained > 3.0


def test_a_campaign_whose_market_changed_is_left_out_of_the_demand_pattern():
    spend = np.full(14, 100.0)
    rising = np.round(20 * RAMP_3)
    collapsed = np.where(DAYS < 7, 20.0, 0.0)
    alone, _ = fitted_ramp([spend] * 2, [rising] * 2, [FLAT] * 2)
    ramp, change_days = fitted_ramp([spend] * 3, [rising, rising, collapsed], [FLAT] * 3)
    assert change_days == [None, None, 7]
    assert ramp == pytest.approx(alone, rel=1e-6)


def test_a_days_observation_is_its_spend_sales_and_demand_times_creative_quality():
    evidence = CampaignEvidence(
        "c",
        np.array([0, 1, 2]),
        np.array([10.0, 20.0, 30.0]),
        np.array([10.0, 20.0, 30.0]),
        np.array([1.0, 2.0, 3.0]),
        np.array([1.0, 2.0, 0.5]),
        200.0,
        1.0,
        False,
    )
    # A two-day pattern (factors 1 and 2): day 2 is past it and left out.
    observations = cycle._observations(evidence, DemandPattern(2, 0, ramp=1.0))
    assert [(o.spend, o.conversions, o.exposure) for o in observations] == [
        (10.0, 1.0, 1.0),
        (20.0, 2.0, 4.0),
    ]


def test_without_any_sale_the_prior_expects_the_target_cpa_or_one_sale_a_day_at_the_scale():
    saturation = -np.expm1(-1.0 / B_PRIOR_CENTER_RATIO)
    state = suite(
        [campaign("a"), replace(campaign("b"), campaign_type="retargeting")],
        total=2000.0,
        target_cpa=Decimal("25"),
    )
    evidence = [evidence_of("a", 0), evidence_of("b", 0)]
    demand = DemandPattern(10, 0)
    scales = cycle._curve_scales(state)
    # 2,000 over 10 days and 2 campaigns: 100 a day, 4 sales at a CPA of 25.
    prior = cycle._prior_a(state, evidence, demand, scales)
    assert prior.tolist() == pytest.approx([4.0 / saturation] * 2)
    prior = cycle._prior_a(replace(state, target_cpa=None), evidence, demand, scales)
    assert prior.tolist() == pytest.approx([1.0 / saturation] * 2)


def test_the_worst_case_of_budgets_kept_is_their_days_over_delivery_within_their_weeks_room():
    week = tuple(DayMetrics(d, 165.0, 50.0) for d in (7, 8))
    state = suite(
        [campaign("free", 100.0), campaign("capped", 50.0, days=week, weekly_cap_days=7.0)], day=9
    )
    # 100 x 1.2 x half a day; the capped one could spend 30 today but has 350 - 330 left.
    assert cycle._worst(state, [0, 1], [100.0, 50.0], LEDGER, 0.5) == pytest.approx(60.0 + 20.0)
    assert cycle._worst(state, [], [], LEDGER, 0.5) == 0.0


def selling(cid: str, days: int, spend: float, sales: float, value=200.0) -> CampaignEvidence:
    """Evidence of ``days`` days (0 on) at this spend and these sales a day."""
    ones = np.ones(days)
    return CampaignEvidence(
        cid, np.arange(days), spend * ones, spend * ones, sales * ones, ones, value, 1.0, False
    )


def boost(target_roas, current=100.0, days=10, posterior=None, sales=12.0) -> bool:
    """Whether the ROAS guard raises a budget of ``current`` on day 10, after ``days``
    days at 100 a day selling ``sales`` at 200 (the last 7 days judged)."""
    state = suite([campaign("c")], day=10, target_roas=target_roas)
    evidence = selling("c", days, 100.0, sales)
    if posterior is None:
        posterior = point_posterior(10.0, 100.0)
    return cycle._boost(state, evidence, posterior, current, LEDGER)


def test_the_roas_guard_boosts_only_where_the_next_money_still_pays_the_target():
    # The next money is priced at the boosted budget's expected spend, 100 x 1.2 x 0.8:
    # 96, where the curve returns 20·exp(-0.96) = 7.66 per unit.
    assert boost(Decimal("7"))
    assert not boost(Decimal("8"))
    # A saturated curve returns nearly nothing there.
    assert not boost(Decimal("2"), posterior=point_posterior(10.0, 10.0))


def test_the_roas_guard_needs_a_target_a_live_budget_and_a_credible_week():
    assert not boost(None)
    assert not boost(Decimal("2"), current=0.0)
    assert boost(Decimal("2"), current=0.5)
    # Two days are too few; a ROAS of 12 is not credibly above twice 7.
    assert not boost(Decimal("2"), days=2)
    assert not boost(Decimal("7"), sales=6.0)


def test_the_free_money_holds_back_the_unreported_hours_by_their_share_of_the_days_delivery():
    # Day 4 at 10:00, reported to 04:00: hours 4 to 10 (the current one included) are
    # unreported. They carry 0.1 of a day's delivery each to 09:00, and 0.4 / 18 after.
    profile = tuple(0.1 if 4 <= h <= 9 else 0.4 / 18 for h in range(24))
    campaigns = [
        campaign("a", 100.0),
        campaign("b", 100.0),
        campaign("held", 80.0, override=Override(daily_budget=Decimal("50"))),
        replace(campaign("off", 100.0), active=False),
    ]
    state = replace(
        suite(campaigns, day=4, hour=10, reported_hours=100, hourly_profile=profile),
        spent=Decimal("900"),
    )
    ledger = cycle._ledger(
        state, [evidence_of(c.campaign_id, 0) for c in campaigns], np.full(4, np.inf)
    )
    share = (0.6 + 0.4 / 18) * 1.15
    # No delivery seen yet: the documented worst ratio, 2.
    assert ledger.max_ratio == 2.0 and ledger.mean_ratio == 1.0 and ledger.low_share == 0.75
    assert ledger.free == pytest.approx(3000.0 - 900.0 - 250.0 * 2.0 * share)
    assert ledger.fixed_daily == 50.0


def test_delivery_ratios_come_only_from_campaigns_free_of_an_audience_ceiling():
    # Five days at half the budget: a mean ratio of 0.5 and a worst of 1 (the floor);
    # none at all from a campaign at its audience's ceiling, which leaves the defaults.
    halves = CampaignEvidence(
        "c",
        np.arange(5),
        np.full(5, 50.0),
        np.full(5, 100.0),
        np.ones(5),
        np.ones(5),
        200.0,
        1.0,
        False,
    )
    state = suite([campaign("c")], day=5)
    free = cycle._ledger(state, [halves], np.array([np.inf]))
    assert free.mean_ratio == 0.5 and free.max_ratio == 1.0
    capped = cycle._ledger(state, [halves], np.array([55.0]))
    assert capped.mean_ratio == 1.0 and capped.max_ratio == 2.0 and capped.low_share == 0.75


def test_the_plan_gets_the_total_less_what_was_spent_before_today():
    def plannable(spent: float, reported_hours: int, total=3000.0) -> float:
        today = (DayMetrics(3, 100.0, 100.0), DayMetrics(4, 60.0, 100.0, complete=False))
        state = replace(
            suite(
                [campaign("c", days=today)],
                day=4,
                hour=10,
                reported_hours=reported_hours,
                total=total,
            ),
            spent=Decimal(str(spent)),
        )
        return cycle._plannable(state, in_force=200.0, mean_ratio=0.8)

    # Today's 60 is part of today's plan, not gone from it.
    assert plannable(900.0, 100) == pytest.approx(3000.0 - 840.0)
    # Six hours of yesterday unreported: 200 x 6/24 x 0.8 more counted as spent.
    assert plannable(900.0, 90) == pytest.approx(3000.0 - 840.0 - 40.0)
    assert plannable(900.0, 96) == pytest.approx(3000.0 - 840.0)
    # Reports that lag today's own figures never add money; an overspent total plans none.
    assert plannable(30.0, 100) == 3000.0
    assert plannable(900.0, 100, total=500.0) == 0.0


# Two campaigns on known curves (revenue per sale 200 and 100) on day 3 of 10.
PLAN_CURVES = [ResponseCurve(10.0, 100.0, 200.0), ResponseCurve(8.0, 50.0, 100.0)]


def plan_of(plannable: float, fixed_daily=0.0, daily_limit=None):
    """`_plan` on the two campaigns (and the ledger's money): today's budgets, and
    what 20% more money would bring (revenue, sales, money)."""
    state = suite([campaign("a"), campaign("b")], day=3, total=10000.0, daily_limit=daily_limit)
    evidence = [selling("a", 3, 100.0, 2.0, value=200.0), selling("b", 3, 100.0, 2.0, value=100.0)]
    posteriors = [point_posterior(c.a, c.b) for c in PLAN_CURVES]
    model = cycle._Model(posteriors, RAMPING, np.full(2, np.inf))
    ledger = replace(LEDGER, plannable=plannable, fixed_daily=fixed_daily)
    budgets, value_of_more = cycle._plan(state, evidence, model, ledger, [0, 1])
    return budgets, value_of_more(0.2)


def test_the_plan_shares_the_money_left_over_the_days_as_the_exact_allocation_does():
    # 700 plannable at a delivery ratio of 0.8, less 10 a day held by an override over
    # the 7 days left: 805 budget units, 644 of spend.
    budgets, (revenue, sales, money) = plan_of(700.0, fixed_daily=10.0)
    assert money == pytest.approx(805.0 * 0.2 * 0.8)
    demand = RAMPING.factors(3, 10)
    exact = allocate(PLAN_CURVES, demand, 644.0)
    today = [budgets[0] * 0.8, budgets[1] * 0.8]
    assert today == pytest.approx(exact[:, 0].tolist(), rel=0.01)
    assert today[0] != pytest.approx(exact[0, 1], rel=0.01)  # the ramp: tomorrow is not today
    more = allocate(PLAN_CURVES, demand, 644.0 * 1.2)
    assert revenue == pytest.approx(
        expected_revenue(PLAN_CURVES, demand, more) - expected_revenue(PLAN_CURVES, demand, exact),
        rel=0.01,
    )
    extra_sales = sum(
        c.conversions(more[i], demand).sum() - c.conversions(exact[i], demand).sum()
        for i, c in enumerate(PLAN_CURVES)
    )
    assert sales == pytest.approx(extra_sales, rel=0.01)


def test_overrides_holding_more_than_the_money_left_leave_the_plan_nothing():
    budgets, (_, _, money) = plan_of(50.0, fixed_daily=10.0)
    assert budgets == {0: 0.0, 1: 0.0} and money == 0.0


def test_today_may_use_the_daily_limit_less_the_overrides_budgets():
    budgets, _ = plan_of(5000.0, fixed_daily=30.0, daily_limit=Decimal("150"))
    assert sum(budgets.values()) == pytest.approx(120.0, rel=1e-3)
    # Overrides holding the whole limit leave nothing to plan today.
    budgets, _ = plan_of(5000.0, fixed_daily=30.0, daily_limit=Decimal("20"))
    assert budgets == {0: 0.0, 1: 0.0}


def test_each_campaigns_plan_shows_todays_spend_its_expected_sales_and_its_curve():
    posterior = replace(point_posterior(10.123456, 100.12345), change_day=2)
    held = campaign("held", override=Override(daily_budget=Decimal("50")))
    state = suite([campaign("a"), held], day=3)
    evidence = [selling("a", 3, 100.0, 2.0, value=201.23456), selling("held", 3, 50.0, 1.0)]
    model = cycle._Model([posterior, point_posterior(1.0, 10.0)], RAMPING, np.full(2, np.inf))
    plans = cycle._plans(state, evidence, model, {0: 123.4567}, LEDGER)
    spend = 123.4567 * 0.8
    sales = posterior.expected_conversions(spend, RAMPING.factors(3, 4)[0])
    assert round(sales, 4) != round(sales, 3)
    assert plans[0] == CampaignPlan("a", 98.77, round(sales, 3), 201.23, 10.1235, 100.12, 2)
    # A campaign the plan does not manage is shown at its budget in force.
    assert plans[1].planned_spend_today == 40.0 and plans[1].change_day is None


def rebalance(campaigns, plan, *, day=7, free=1000.0, fixed_daily=0.0, ceilings=None, **kwargs):
    """`_rebalance` at 08:00 of ``day`` (of 10) with this plan: per campaign, its
    decisions as (kind, rule, budget). Overridden campaigns are not managed; those
    whose budget was set today are kept; every campaign's curve is 10·(1 - exp(-S/100))
    and it sold 1 a day at 100 (unless ``evidence``/``posteriors`` say otherwise)."""
    state = suite(campaigns, day=day, hour=8, **kwargs.pop("suite", {}))
    n = len(campaigns)
    managed = [i for i, c in enumerate(campaigns) if c.override is None]
    due = [i for i in managed if campaigns[i].budget_set_day != day]
    evidence = kwargs.pop("evidence", None) or [
        selling(c.campaign_id, day, 100.0, 1.0) for c in campaigns
    ]
    posteriors = kwargs.pop("posteriors", None) or [point_posterior(10.0, 100.0)] * n
    limits = np.full(n, np.inf) if ceilings is None else np.array(ceilings, dtype=float)
    model = cycle._Model(posteriors, kwargs.pop("demand", DemandPattern(10, 0)), limits)
    ledger = replace(LEDGER, free=free, fixed_daily=fixed_daily)
    decisions = kwargs.pop("decisions", [])
    rng = np.random.default_rng(0)
    cycle._rebalance(state, evidence, model, ledger, managed, due, plan, decisions, rng)
    made: dict = {}
    for d in decisions:
        budget = None if d.daily_budget is None else float(d.daily_budget)
        made.setdefault(d.campaign_id, []).append((d.kind, d.rule, budget))
    return made


SET, PAUSE = DecisionKind.SET_BUDGET, DecisionKind.PAUSE_CAMPAIGN
ALLOCATION, SAFETY = DecisionRule.ALLOCATION, DecisionRule.SPEND_SAFETY


def due_and_kept(min_a="1", min_b="30") -> list[CampaignState]:
    """Two campaigns due (a: minimum 1, b: 30), one whose budget was set today (kept,
    80) and one held by an override."""
    return [
        campaign("a", 100.0, budget_set_day=6, min_daily_budget=Decimal(min_a)),
        campaign("b", 100.0, budget_set_day=6, min_daily_budget=Decimal(min_b)),
        campaign("kept", 80.0, budget_set_day=7),
        campaign("held", 20.0, override=Override(daily_budget=Decimal("20"))),
    ]


def set_budgets(made) -> dict:
    return {cid: d[-1][2] for cid, d in made.items() if d[-1][0] == SET}


def test_the_rebalance_sets_the_plans_budgets_within_a_days_step():
    made = rebalance(due_and_kept(), {0: 150.0, 1: 60.0, 2: 80.0})
    assert made == {"a": [(SET, ALLOCATION, 150.0)], "b": [(SET, ALLOCATION, 60.0)]}
    # At most x2 / x0.5 of the budget in force a day.
    assert set_budgets(rebalance(due_and_kept(), {0: 300.0, 1: 20.0, 2: 80.0})) == {
        "a": 200.0,
        "b": 50.0,
    }


def test_a_budget_under_one_still_steps_and_a_paused_one_starts_afresh():
    tiny = [campaign("a", 0.5, budget_set_day=6, min_daily_budget=Decimal("0.1"))]
    assert set_budgets(rebalance(tiny, {0: 150.0})) == {"a": 1.0}
    zero = [campaign("a", 0.0, budget_set_day=6)]
    assert set_budgets(rebalance(zero, {0: 150.0})) == {"a": 150.0}
    # A plan under one is a budget, not a campaign left off.
    small = [campaign("a", 1.0, min_daily_budget=Decimal("0.5"))]
    assert set_budgets(rebalance(small, {0: 0.8})) == {"a": 0.8}


def test_the_due_budgets_are_cut_to_what_the_kept_and_overridden_budgets_leave():
    # 300 free, less the worst case of the override (20 x 1.2) and of the kept budget
    # (80 x 1.2 x the rest of today, a whole day's share from 08:00 without a profile).
    budgets = set_budgets(
        rebalance(due_and_kept(), {0: 150.0, 1: 60.0, 2: 80.0}, free=300.0, fixed_daily=20.0)
    )
    assert (budgets["a"] + budgets["b"]) * 1.2 == pytest.approx(300.0 - 24.0 - 96.0, abs=0.05)
    assert budgets["a"] / budgets["b"] == pytest.approx(150.0 / 60.0, rel=1e-3)


def test_with_nothing_left_the_due_campaigns_are_paused_for_spend_safety():
    made = rebalance(
        due_and_kept(min_a="0.5"), {0: 150.0, 1: 60.0, 2: 80.0}, free=100.0, fixed_daily=20.0
    )
    assert made == {"a": [(PAUSE, SAFETY, None)], "b": [(PAUSE, SAFETY, None)]}


def test_under_the_daily_limit_the_due_budgets_share_what_the_kept_and_overridden_leave():
    limited = {"daily_limit": Decimal("300")}
    budgets = set_budgets(
        rebalance(due_and_kept(), {0: 150.0, 1: 60.0, 2: 80.0}, fixed_daily=20.0, suite=limited)
    )
    assert budgets["a"] + budgets["b"] == pytest.approx(300.0 - 20.0 - 80.0, abs=0.05)
    # A limit the kept budgets already fill leaves the due campaigns nothing.
    full = {"daily_limit": Decimal("90")}
    made = rebalance(
        due_and_kept(min_a="0.5"), {0: 150.0, 1: 60.0, 2: 80.0}, fixed_daily=20.0, suite=full
    )
    assert made == {"a": [(PAUSE, SAFETY, None)], "b": [(PAUSE, SAFETY, None)]}


def test_the_roas_guard_raises_a_budget_the_plan_would_hold_under_its_boost():
    evidence = [selling("a", 7, 100.0, 12.0)]
    roas = {"target_roas": Decimal("7")}
    a = [campaign("a", 100.0, budget_set_day=6)]
    made = rebalance(a, {0: 100.0}, evidence=evidence, suite=roas)
    assert made == {"a": [(SET, DecisionRule.ROAS_GUARD, 120.0)]}
    # A plan at the boost already is the plan's.
    made = rebalance(a, {0: 120.0}, evidence=evidence, suite=roas)
    assert made == {"a": [(SET, ALLOCATION, 120.0)]}


def test_a_campaign_planned_at_its_audiences_ceiling_is_left_out_of_exploration():
    three = [campaign(str(i), 100.0, budget_set_day=2) for i in range(3)]
    budgets = set_budgets(
        rebalance(three, {0: 150.0, 1: 100.0, 2: 100.0}, day=3, ceilings=[150.0, np.inf, np.inf])
    )
    # (Budgets are rounded down to the cent.)
    assert budgets == pytest.approx({"0": 150.0, "1": 115.0, "2": 85.0}, abs=0.02)


def test_a_trial_day_runs_a_campaign_the_plan_leaves_off_at_its_minimum():
    # The plan leaves "new" off; its curve (a draw of a ~ 50) says its minimum of 20
    # pays far more than the plan's price: a trial day. Without one it would be off
    # (the exploration floor of 10 is under its minimum).
    campaigns = [
        campaign("0", 100.0, budget_set_day=2),
        campaign("1", 100.0, budget_set_day=2),
        campaign("new", 100.0, budget_set_day=2, min_daily_budget=Decimal("20")),
    ]
    posteriors = [point_posterior(10.0, 100.0)] * 2 + [point_posterior(50.0, 100.0)]
    made = rebalance(campaigns, {0: 100.0, 1: 100.0, 2: 0.0}, day=3, posteriors=posteriors)
    assert made["new"][0][0] == SET and made["new"][0][2] >= 20.0


def trials(plan, *, day=3, posteriors=None, ceilings=(np.inf, np.inf, np.inf), **kwargs) -> set:
    """`_trials_at_minimum` for campaigns 0 and 1 (minimum 1) and "new" (minimum 20),
    whose curve (a draw of a ~ 50 by default) pays its minimum far better than 0 and 1."""
    campaigns = [
        campaign("0"),
        campaign("1"),
        campaign("new", min_daily_budget=Decimal("20")),
    ]
    state = suite(campaigns, day=day, **kwargs)
    if posteriors is None:
        posteriors = [point_posterior(10.0, 100.0)] * 2 + [point_posterior(50.0, 100.0)]
    model = cycle._Model(posteriors, DemandPattern(10, 0), np.array(ceilings, dtype=float))
    evidence = [selling(c.campaign_id, day, 100.0, 1.0) for c in campaigns]
    rng = np.random.default_rng(0)
    return cycle._trials_at_minimum(state, evidence, model, LEDGER, [0, 1, 2], plan, 1.0, rng)


def test_a_campaign_the_plan_leaves_off_gets_a_trial_day_while_exploring_and_affordable():
    plan = {0: 100.0, 1: 100.0, 2: 0.0}
    assert trials(plan) == {2}
    # Exploration stops three days before the event.
    assert trials(plan, day=7) == set()
    # A daily limit the plan fills to within 10 leaves no room for its minimum of 20.
    assert trials(plan, daily_limit=Decimal("210")) == set()
    assert trials(plan, daily_limit=Decimal("220")) == {2}


def test_the_trials_price_is_set_by_campaigns_funded_between_their_minimum_and_ceiling():
    # Campaign 0 sits at its audience's ceiling with a steep curve: its marginal return
    # (about 1,800 a unit) is no price for the day's money, which 1 sets (about 9).
    steep = [
        point_posterior(1000.0, 100.0),
        point_posterior(10.0, 100.0),
        point_posterior(50.0, 100.0),
    ]
    plan = {0: 100.0, 1: 100.0, 2: 0.0}
    assert trials(plan, posteriors=steep, ceilings=(100.0, np.inf, np.inf)) == {2}
    assert trials(plan, posteriors=steep) == set()


def pace_decisions(free: float, *, day=5, ceilings=(np.inf, np.inf), budget=100.0, **kwargs):
    """`_pace_today`'s decisions at noon of ``day`` (of 10) for two live campaigns at
    ``budget`` (a: minimum 1, b: 30) beside an override of 20 and a paused campaign."""
    campaigns = [
        campaign("a", budget, budget_set_day=day),
        campaign("b", budget, budget_set_day=day, min_daily_budget=Decimal("30")),
        campaign("held", 20.0, override=Override(daily_budget=Decimal("20"))),
        replace(campaign("asleep", 100.0, budget_set_day=day), active=False),
    ]
    state = suite(campaigns, day=day, hour=12, **kwargs.pop("suite", {}))
    ledger = replace(LEDGER, free=free, fixed_daily=20.0, **kwargs)
    decisions: list = []
    limits = np.array([*ceilings, np.inf, np.inf])
    cycle._pace_today(state, ledger, limits, [0, 1, 3], [], decisions)
    return decisions


def pace(free: float, **kwargs) -> dict:
    """`pace_decisions` per campaign, (kind, rule, budget), and the first one's numbers."""
    decisions = pace_decisions(free, **kwargs)
    return {
        d.campaign_id: (d.kind, d.rule, None if d.daily_budget is None else float(d.daily_budget))
        for d in decisions
    } | {"numbers": decisions[0].numbers if decisions else None}


# From noon the rest of the day holds 12/24 x 1.5 = 0.75 of a day's delivery: a budget
# B can spend B x 1.2 x 0.75 = 0.9 B, and the override's 20 takes 18 of the free money.


def test_budgets_in_force_that_could_overspend_the_free_money_are_cut():
    made = pace(108.0)
    assert made == {
        "a": (SET, SAFETY, 50.0),
        "b": (SET, SAFETY, 50.0),
        "numbers": {
            "previous_budget": 100.0,
            "new_budget": 50.0,
            "free_money": 108.0,
            "max_delivery_ratio": 1.2,
            "hours_left_today": 12,
        },
    }


def test_a_cut_under_half_a_percent_is_not_worth_an_edit():
    assert pace(18.0 + 0.9 * 199.5) == {"numbers": None}
    assert pace(18.0 + 0.9 * 198.0) == {
        "a": (SET, SAFETY, 99.0),
        "b": (SET, SAFETY, 99.0),
        "numbers": pace(18.0 + 0.9 * 198.0)["numbers"],
    }


def test_a_cut_under_a_platforms_minimum_pauses_the_campaign():
    made = pace(18.0 + 0.9 * 20.0)
    assert (made["a"], made["b"]) == ((SET, SAFETY, 10.0), (PAUSE, SAFETY, None))


def test_on_the_last_day_budgets_rise_at_most_fourfold_and_to_an_audiences_ceiling():
    made = pace(1000.0, day=9, ceilings=(150.0, np.inf))
    assert (made["a"], made["b"]) == (
        (SET, DecisionRule.PACING, 150.0),
        (SET, DecisionRule.PACING, 400.0),
    )
    # Not on other days.
    assert pace(1000.0, day=8) == {"numbers": None}


def test_on_the_last_day_a_daily_limit_caps_the_rise_only_where_it_binds():
    # A limit of 2,020 (2,000 after the override) does not bind a rise to 800; one of
    # 520 shares 500. (The cap was divided by the raised total, not the budgets in
    # force: the first rose to 250 each, the second not at all, money the event never
    # spent.)
    made = pace(1000.0, day=9, suite={"daily_limit": Decimal("2020")})
    assert (made["a"][2], made["b"][2]) == (400.0, 400.0)
    made = pace(1000.0, day=9, suite={"daily_limit": Decimal("520")})
    assert (made["a"][2], made["b"][2]) == (250.0, 250.0)
    # A limit under twice the budgets shares what it leaves (300) alike.
    made = pace(1000.0, day=9, suite={"daily_limit": Decimal("320")})
    assert (made["a"][2], made["b"][2]) == (150.0, 150.0)


def cycle_state(day=1) -> SuiteState:
    """A managed campaign and an overridden one whose creative B clicks a tenth as well
    as A over a whole delivered day."""
    creatives = (
        CreativeState("a", "A", True, spend=50.0, hours_live=34.0, clicks=200.0),
        CreativeState("b", "B", True, spend=50.0, hours_live=34.0, clicks=20.0),
    )
    days = (DayMetrics(0, 100.0, 100.0, 2, 400.0), DayMetrics(1, 50.0, 100.0, complete=False))
    held = campaign(
        "held",
        100.0,
        days=days,
        creatives=creatives,
        override=Override(daily_budget=Decimal("100")),
    )
    return suite([campaign("free", 100.0, days=days, budget_set_day=0), held], day=day, hour=10)


def test_an_overridden_campaigns_losing_creative_is_advised_beside_the_plans_advice():
    result = cycle.run_cycle(cycle_state())
    assert [(r.kind, r.campaign_id) for r in result.recommendations][:1] == [
        (RecommendationKind.PAUSE_CREATIVE, "held")
    ]
    assert [(d.kind, d.campaign_id) for d in result.decisions if d.campaign_id == "held"] == [
        (DecisionKind.KEEP_OVERRIDE, "held")
    ]
    assert [p.campaign_id for p in result.plans] == ["free", "held"]


def test_the_cycle_is_the_same_for_the_same_seed_and_day():
    # Creatives close enough that the test's draws set the advice's probability.
    close = (
        CreativeState("a", "A", True, spend=50.0, hours_live=34.0, clicks=40.0),
        CreativeState("b", "B", True, spend=50.0, hours_live=34.0, clicks=25.0),
    )
    free, held = cycle_state().campaigns
    state = replace(cycle_state(), campaigns=(free, replace(held, creatives=close)))
    assert cycle.run_cycle(state) == cycle.run_cycle(state, seed=0)
    assert cycle.run_cycle(state) == cycle.run_cycle(state)
    assert cycle.run_cycle(state, seed=1) != cycle.run_cycle(state, seed=0)


def test_a_campaign_whose_minimum_sold_nothing_is_drawn_for_a_trial_and_left_off():
    # "weak" sold nothing in three days at its platform's minimum of 50, which the day's
    # trial allowance (a quarter of 3 x 100) could fund: a posterior draw weighs it.
    def reported(spend: float, sales: int) -> tuple[DayMetrics, ...]:
        return tuple(DayMetrics(d, spend, spend, sales, sales * 100.0) for d in range(3))

    campaigns = [
        campaign("good", 100.0, days=reported(100.0, 5), budget_set_day=2),
        campaign("good2", 100.0, days=reported(100.0, 5), budget_set_day=2),
        campaign(
            "weak", 50.0, days=reported(50.0, 0), budget_set_day=2, min_daily_budget=Decimal("50")
        ),
    ]
    result = cycle.run_cycle(suite(campaigns, day=3, hour=8))
    [weak] = [d for d in result.decisions if d.campaign_id == "weak"]
    assert (weak.kind, weak.rule, weak.reason) == (PAUSE, ALLOCATION, cycle.UNFUNDED_REASON)
    assert result.plans[2].planned_spend_today == 0.0


def test_after_the_flight_nothing_is_planned():
    result = cycle.run_cycle(replace(cycle_state(), flight_days=1))
    assert result.plans == ()
    assert not [d for d in result.decisions if d.kind == DecisionKind.SET_BUDGET]


def guard(ceilings=(np.inf, np.inf, np.inf)) -> list:
    """`_guard_pauses` on day 7 (target CPA 50 RON): an inactive campaign that sold
    nothing, one selling at 25 and one that sold once on 200.1234 a day."""
    state = suite(
        [
            replace(campaign("off"), active=False),
            campaign("good"),
            campaign("bad"),
        ],
        day=7,
        target_cpa=Decimal("50"),
        currency="RON",
    )
    bad = selling("bad", 7, 200.1234, 0.0)
    bad = replace(bad, conversions=np.array([1.0, 0, 0, 0, 0, 0, 0]))
    evidence = [selling("off", 7, 200.0, 0.0), selling("good", 7, 100.0, 4.0), bad]
    decisions: list = []
    pausing = cycle._guard_pauses(state, evidence, np.array(ceilings), decisions)
    return pausing, decisions


def test_the_cpa_guard_pauses_with_its_reason_numbers_and_effect():
    pausing, [decision] = guard()
    assert pausing == {2}
    spend = 7 * 200.1234
    # The rest of the suite's CPA (25) is the prior, worth three sales.
    probability = cpa_guard(spend, 1, 7, 50.0, 25.0).probability
    assert round(probability, 3) != round(cpa_guard(spend, 1, 7, 50.0).probability, 3)
    assert (decision.kind, decision.rule, decision.campaign_id) == (
        DecisionKind.PAUSE_CAMPAIGN,
        DecisionRule.CPA_GUARD,
        "bad",
    )
    assert decision.numbers == {
        "spend": round(spend, 2),
        "conversions": 1,
        "cpa": round(spend, 2),
        "target_cpa": 50.0,
        "probability": round(probability, 3),
        "suite_cpa": 25.0,
    }
    assert decision.reason == (
        f"CPA above 2x the target (50.00 RON) with probability {probability:.2f} over 7 "
        "days; the rest of the suite buys at 25.00 RON"
    )
    assert decision.expected_effect == (
        "about 200 RON a day moves to campaigns selling at 25 RON per sale"
    )


def test_the_cpa_guard_pauses_nothing_when_the_others_cannot_take_the_money():
    # The only other live campaign is at its audience's ceiling.
    assert guard(ceilings=(np.inf, 120.0, np.inf)) == (set(), [])


def test_a_rebalance_decision_carries_its_numbers_reason_and_expected_effect():
    priced = (DayMetrics(6, 100.0, 100.0, 1, 200.0),)
    campaigns = [
        campaign("a", 100.0, days=priced, budget_set_day=6),
        replace(campaign("again", 0.0), active=False),
        campaign("off", 100.0, budget_set_day=6),
    ]
    posterior = point_posterior(10.123456, 100.12345)
    decisions: list = []
    rebalance(
        campaigns,
        {0: 150.1234, 1: 50.0, 2: 0.0},
        free=1000.4567,
        posteriors=[posterior] * 3,
        demand=RAMPING,
        decisions=decisions,
        suite={"currency": "RON"},
    )
    [a, resume, again, off] = decisions
    factor = RAMPING.factors(7, 8)[0]
    sales = posterior.expected_conversions(150.1234 * 0.8, factor)
    marginal = posterior.expected_marginal(150.1234 * 0.8, factor)
    assert (a.kind, a.rule, a.campaign_id, a.plan_day) == (SET, ALLOCATION, "a", 7)
    assert a.daily_budget == Decimal("150.12")
    assert a.numbers == {
        "previous_budget": 100.0,
        "new_budget": 150.12,
        "expected_conversions_today": round(sales, 3),
        "expected_revenue_today": round(sales * 200.0, 2),
        "marginal_roas": round(marginal * 200.0, 3),
        "curve_a": 10.1235,
        "curve_b": 100.12,
        "free_money": 1000.46,
        "days_left": 3,
    }
    assert round(sales, 4) != round(sales, 3) and round(marginal * 200, 4) != round(
        marginal * 200, 3
    )
    assert a.reason == "daily rebalance: equal marginal return across the suite over the days left"
    assert a.expected_effect == f"about {sales:.1f} sales ({sales * 200:.0f} RON of tickets) today"
    # A paused campaign the plan funds is resumed, then given its budget.
    resumed_sales = posterior.expected_conversions(50.0 * 0.8, factor)
    assert (resume.kind, resume.rule, resume.campaign_id, resume.plan_day) == (
        DecisionKind.RESUME_CAMPAIGN,
        ALLOCATION,
        "again",
        7,
    )
    assert resume.reason == "the plan funds it again"
    assert resume.expected_effect == f"about {resumed_sales:.1f} sales today"
    assert resume.numbers["new_budget"] == 50.0
    assert (again.kind, again.daily_budget) == (SET, Decimal("50.00"))
    # One the plan leaves off is paused, and says why.
    assert (off.kind, off.rule, off.campaign_id, off.plan_day) == (PAUSE, ALLOCATION, "off", 7)
    assert off.reason == cycle.UNFUNDED_REASON
    assert off.expected_effect == "no further spend"
    assert off.numbers["new_budget"] == 0.0


def test_a_pause_for_spend_safety_and_a_roas_boost_say_why():
    decisions: list = []
    rebalance(due_and_kept(), {0: 150.0, 1: 60.0, 2: 80.0}, free=10.0, decisions=decisions)
    assert [(d.campaign_id, d.reason, d.expected_effect, d.plan_day) for d in decisions] == [
        (cid, "the money left cannot fund this campaign's minimum budget", "no further spend", 7)
        for cid in ("a", "b")
    ]
    assert decisions[0].numbers["free_money"] == 10.0
    decisions = []
    rebalance(
        [campaign("a", 100.0, budget_set_day=6)],
        {0: 100.0},
        evidence=[selling("a", 7, 100.0, 12.0)],
        suite={"target_roas": Decimal("7")},
        decisions=decisions,
    )
    assert decisions[0].reason == (
        "ROAS credibly above twice the target and the curve is not saturated"
    )


def test_a_creative_test_pauses_the_loser_with_its_numbers_or_advises_it_under_an_override():
    held = cycle_state().campaigns[1]
    live = replace(held, campaign_id="live", override=None)
    asleep = replace(held, campaign_id="asleep", override=None, active=False)
    state = replace(cycle_state(), campaigns=(asleep, live, held))
    decisions: list = []
    recommendations: list = []
    cycle._creative_tests(state, np.random.default_rng(0), decisions, recommendations)
    [verdict] = [
        v
        for v in judge_creatives(
            cycle._delivered_hours(state, live), np.random.default_rng(0), suite_clicks([()])[0]
        )
        if v.decisive
    ]
    [pause] = decisions
    assert (pause.kind, pause.rule, pause.campaign_id, pause.creative_id) == (
        DecisionKind.PAUSE_CREATIVE,
        DecisionRule.CREATIVE_TEST,
        "live",
        "b",
    )
    assert pause.reason == (
        f"creative a beats it with probability {verdict.probability_winner_better:.2f}"
    )
    assert pause.numbers == {
        "probability_winner_better": round(verdict.probability_winner_better, 3),
        "loser_conversions_per_1000": round(verdict.loser_rate * 1000, 3),
        "winner_conversions_per_1000": round(verdict.winner_rate * 1000, 3),
    }
    lift = verdict.winner_rate / verdict.loser_rate - 1
    assert pause.expected_effect == f"its spend goes to a creative converting {lift:.0%} better"
    [hint] = recommendations
    assert (hint.kind, hint.campaign_id) == (RecommendationKind.PAUSE_CREATIVE, "held")
    p = verdict.probability_winner_better
    assert (
        hint.message
        == f"creative 'B' loses (probability {p:.0%} that another does better): pause it"
    )
    assert hint.numbers == {"probability": round(p, 3), "creative": "B"}


def test_an_hourly_cut_says_why_with_its_numbers():
    # 20 x 1.2345 x 0.75 = 18.52 for the override; each budget B can spend 0.926 B.
    free = 111.0567
    [a, _] = pace_decisions(free, budget=100.5, max_ratio=1.2345)
    assert (a.kind, a.rule, a.daily_budget) == (SET, SAFETY, Decimal("49.97"))
    assert a.numbers == {
        "previous_budget": 100.5,
        "new_budget": round(float(a.numbers["new_budget"]), 2),
        "free_money": 111.06,
        "max_delivery_ratio": 1.234,
        "hours_left_today": 12,
    }
    assert a.numbers["new_budget"] == pytest.approx((free - 18.5175) / 2 / 0.925875, abs=0.01)
    assert a.reason == "the worst day's delivery of the budgets in force would overspend the budget"
    assert a.expected_effect == "total spend stays within the paid budget"
    # Kept at its minimum (30) while the other's cut fits: a cut, not a pause.
    made = pace(18.0 + 0.9 * 40.0)
    assert (made["a"], made["b"]) == ((SET, SAFETY, 10.0), (SET, SAFETY, 30.0))
    [_, b] = pace_decisions(18.0 + 0.9 * 20.0)
    assert b.reason == "the budget is nearly spent: the worst day's delivery would overspend it"
    assert b.expected_effect == "no further spend"


def test_on_the_last_day_a_budget_above_its_audiences_ceiling_is_not_cut_for_it():
    [b] = pace_decisions(1000.0, day=9, ceilings=(50.0, np.inf))
    assert (b.campaign_id, b.kind, b.rule, b.daily_budget) == (
        "b",
        SET,
        DecisionRule.PACING,
        Decimal("400.00"),
    )
    assert b.reason == "the flight's last day: spend what is left of the budget"
    assert b.expected_effect == "the budget is used up by the event, without overspending"


def days_of(cid: str, spend, budget) -> CampaignEvidence:
    n = len(spend)
    ones = np.ones(n)
    return CampaignEvidence(
        cid,
        np.arange(n),
        np.array(spend, float),
        np.array(budget, float),
        ones,
        ones,
        200.0,
        1.0,
        False,
    )


def test_a_campaign_that_spends_well_under_its_budget_gets_its_audiences_ceiling():
    full = [days_of(str(i), [100.0] * 7, [100.0] * 7) for i in range(3)]
    small = days_of("small", [40.0, 38.0, 41.0, 39.0, 40.0, 42.0, 40.0], [100.0] * 7)
    # The most it spent, plus a tenth.
    assert cycle._ceilings([*full, small]).tolist() == [np.inf] * 3 + [pytest.approx(46.2)]
    # One capped day is enough; a later day spending its budget and above them refutes it.
    once = days_of("once", [100.0] * 6 + [30.0], [100.0] * 7)
    assert cycle._ceilings([*full, once]).tolist() == [np.inf] * 3 + [pytest.approx(110.0)]
    refuted = days_of("refuted", [30.0] + [100.0] * 6, [100.0] * 7)
    assert cycle._ceilings([*full, refuted]).tolist() == [np.inf] * 4
    # A budget lowered mid-week that the platform's weekly cap stops is no ceiling.
    lowered = days_of("lowered", [100.0] * 6 + [10.0], [100.0] * 6 + [50.0])
    assert cycle._ceilings([*full, lowered]).tolist() == [np.inf] * 4
    assert cycle._ceilings([]).tolist() == []


def sold(cid: str, spend, sales, quality=None) -> CampaignEvidence:
    """Evidence of days 0, 1, ... at these spends and sales (creative quality 1 unless given)."""
    n = len(spend)
    return CampaignEvidence(
        cid,
        np.arange(n),
        np.array(spend, dtype=float),
        np.array(spend, dtype=float),
        np.array(sales, dtype=float),
        np.ones(n) if quality is None else np.array(quality, dtype=float),
        200.0,
        1.0,
        False,
    )


def prior_of(evidence, types, target_cpa=None) -> list[float]:
    """`_prior_a` on a 10-day ramping flight, every campaign's curve scaled to 100 a day."""
    state = suite(
        [
            replace(campaign(e.campaign_id), campaign_type=t)
            for e, t in zip(evidence, types, strict=True)
        ],
        total=2000.0 * len(evidence) / 2,
        target_cpa=target_cpa,
    )
    scales = np.full(len(evidence), 100.0)
    return cycle._prior_a(state, evidence, RAMPING, scales).tolist()


def test_a_campaigns_prior_is_its_types_pooled_rate_shrunk_to_the_suites():
    evidence = [
        sold("a", [100.0, 50.0], [3.0, 1.0], quality=[2.0, 0.5]),
        sold("b", [80.0], [1.0]),
        sold("alone", [100.0, 100.0, 100.0], [6.0, 5.0, 7.0]),
        sold("new", [], []),
    ]
    types = ["prospecting", "prospecting", "retargeting", "video"]
    factors = RAMPING.factors()

    def exposure(e: CampaignEvidence) -> float:
        # Each day's demand x creative quality x how saturated its spend is at the scale.
        return float(
            np.sum(factors[e.days] * e.quality * -np.expm1(-e.spend / (B_PRIOR_CENTER_RATIO * 100)))
        )

    a, b, alone = (exposure(e) for e in evidence[:3])
    suite_rate = (4.0 + 1.0 + 18.0) / (a + b + alone)  # the campaign without days adds 0
    # The pair's own 5 sales plus three at the suite's rate; the lone campaigns the suite's.
    pair = (5.0 + 3.0) / (a + b + 3.0 / suite_rate)
    assert prior_of(evidence, types) == pytest.approx([pair, pair, suite_rate, suite_rate])


def test_the_suites_rate_needs_both_sales_and_exposure_else_the_target_cpa_sets_it():
    saturation = -np.expm1(-1.0 / B_PRIOR_CENTER_RATIO)
    # 2,000 over 10 days and 2 campaigns: 100 a day, 4 sales at a CPA of 25.
    from_target = [4.0 / saturation] * 2
    types = ["prospecting", "retargeting"]
    target = Decimal("25")
    spent_unsold = [sold("a", [100.0], [0.0]), sold("b", [100.0], [0.0])]
    assert prior_of(spent_unsold, types, target) == pytest.approx(from_target)
    # Sales on days without spend (late reports) give no rate to divide by.
    sold_unspent = [sold("a", [0.0], [2.0]), sold("b", [0.0], [0.0])]
    assert prior_of(sold_unspent, types, target) == pytest.approx(from_target)
    # Half a sale, or a fraction of a saturated day's exposure, is a rate all the same.
    half_a_sale = [sold("a", [100.0], [0.5]), sold("b", [100.0], [0.0])]
    exposure = 2 * float(-np.expm1(-100.0 / (B_PRIOR_CENTER_RATIO * 100)))
    assert prior_of(half_a_sale, types, target) == pytest.approx([0.5 / exposure] * 2)
    small = [sold("a", [10.0], [1.0]), sold("b", [10.0], [0.0])]
    exposure = 2 * float(-np.expm1(-10.0 / (B_PRIOR_CENTER_RATIO * 100)))
    assert exposure < 1.0
    assert prior_of(small, types, target) == pytest.approx([1.0 / exposure] * 2)


def guard_week(*weeks, ceilings=None) -> tuple[set, dict]:
    """`_guard_pauses` on day 7 (target CPA 25) for campaigns whose last 7 days spent
    and sold these (spend, sales) in all: the campaigns paused, and their decisions."""
    state = suite([campaign(str(k)) for k in range(len(weeks))], day=7, target_cpa=Decimal("25"))
    evidence = [
        sold(str(k), [spend] + [0.0] * 6, [sales] + [0.0] * 6)
        for k, (spend, sales) in enumerate(weeks)
    ]
    limits = np.full(len(weeks), np.inf) if ceilings is None else np.array(ceilings, dtype=float)
    decisions: list = []
    pausing = cycle._guard_pauses(state, evidence, limits, decisions)
    return pausing, {d.campaign_id: d for d in decisions}


def test_the_cpa_guard_pauses_from_a_cpa_of_one_and_a_half_times_the_others():
    # 3 sales on 450 (150 each) against the others' 100 a sale: exactly 1.5 times, paused.
    pausing, decisions = guard_week((450.0, 3.0), (700.0, 7.0))
    assert pausing == {0} and list(decisions) == ["0"]
    probability = cpa_guard(450.0, 3, 7, 25.0, 100.0).probability
    assert round(probability, 3) != round(probability, 4)
    assert decisions["0"].numbers["probability"] == round(probability, 3)
    # 3 sales on 449: a better use of the money is not clear enough.
    assert guard_week((449.0, 3.0), (700.0, 7.0)) == (set(), {})


def test_a_guard_whose_others_sold_nothing_does_not_stop_the_next_campaigns():
    # 0's others are 1 (no sales) and 2 (at its audience's ceiling): no better use for
    # 0's money. 1 sold nothing on 1,400; its others include 0 (a sale per 1,400).
    week = ((1400.1234, 1.0), (1400.0, 0.0), (700.0, 7.0))
    pausing, decisions = guard_week(*week, ceilings=[np.inf, np.inf, 100.0])
    assert pausing == {1} and list(decisions) == ["1"]
    # Without a sale its CPA is "none"; the others' is shown to the cent.
    assert decisions["1"].numbers["cpa"] == "none"
    assert decisions["1"].numbers["suite_cpa"] == 1400.12


def test_the_due_budgets_fit_the_money_within_their_weekly_caps_and_above_their_minimums():
    # "a"'s week (from day 6) spent 650 of its cap of 7 budgets. The plan's 100 a day
    # is raised to 730 / 7 = 104.28 so today's 80 fits the week, which then lets it
    # spend only 80 more: with "b"'s 100 x 1.2, 200 of the 210 free. Nothing is cut.
    week = (DayMetrics(6, 650.0, 100.0),)
    campaigns = [
        campaign("a", 100.0, budget_set_day=6, days=week, weekly_cap_days=7.0),
        campaign("b", 100.0, budget_set_day=6),
    ]
    made = rebalance(campaigns, {0: 100.0, 1: 100.0}, free=210.0, suite={"first_weekday": 1})
    assert set_budgets(made) == {"a": 104.28, "b": 100.0}
    # 180 free for "a" and "b" (minimum 50) after the kept and overridden budgets: "b" is
    # held at its minimum while "a"'s cut alone makes the day fit, not paused.
    made = rebalance(
        due_and_kept(min_b="50"), {0: 150.0, 1: 60.0, 2: 80.0}, free=300.0, fixed_daily=20.0
    )
    assert set_budgets(made) == pytest.approx({"a": 100.0, "b": 50.0}, abs=0.02)


def sure_posterior(a: float, b: float) -> CurvePosterior:
    """A posterior whose draws are all (a, b) to a millionth: a · (1 - exp(-spend / b))."""
    return CurvePosterior(np.array([b]), np.array([1.0]), np.array([a * 1e12]), np.array([1e12]))


# The trials' price setter: planned at 100 (spend 80) on a curve 10·(1 - exp(-S/100)),
# on a day of demand 1.25: its marginal return is 1.25 x 10 x exp(-0.8) / 100 a unit.
PRICE_FACTOR = 1.25
SETTER = sure_posterior(10.0, 100.0)


def trial_days(candidates, *, setter_plan=100.0, value=200.0, total=None, **kwargs) -> set:
    """`_trials_at_minimum` on day 3 of 10 for a price setter (index 0, minimum 1) and
    candidates given as (minimum, plan, posterior, ceiling); a quarter of the equal
    split per campaign is the trials' allowance (by default 25 each)."""
    campaigns = [campaign("setter")] + [
        campaign(f"c{k}", min_daily_budget=Decimal(str(minimum)))
        for k, (minimum, *_) in enumerate(candidates, start=1)
    ]
    n = len(campaigns)
    state = suite(campaigns, day=3, total=total or 1000.0 * n, **kwargs)
    plan = {0: setter_plan} | {k: c[1] for k, c in enumerate(candidates, start=1)}
    posteriors = [kwargs.pop("setter", SETTER)] + [c[2] for c in candidates]
    ceilings = np.array([np.inf] + [c[3] for c in candidates], dtype=float)
    model = cycle._Model(posteriors, DemandPattern(10, 0), ceilings)
    evidence = [selling(c.campaign_id, 3, 100.0, 1.0, value=value) for c in campaigns]
    rng = np.random.default_rng(0)
    return cycle._trials_at_minimum(
        state, evidence, model, LEDGER, list(range(n)), plan, PRICE_FACTOR, rng
    )


def paying(ratio: float, minimum: float = 20.0, b: float = 20.0) -> CurvePosterior:
    """A sure curve (half-saturation ``b``) whose minimum's spend (x 0.8) earns ``ratio``
    times the setter's price for it on the day."""
    spend = minimum * 0.8
    price = PRICE_FACTOR * 10.0 * np.exp(-0.8) / 100.0
    a = ratio * price * spend / (PRICE_FACTOR * -np.expm1(-spend / b))
    return sure_posterior(float(a), b)


def test_a_trial_needs_a_draw_earning_more_than_the_plans_price_for_the_minimums_spend():
    assert trial_days([(20.0, 0.0, paying(1.05), np.inf)]) == {1}
    assert trial_days([(20.0, 0.0, paying(0.95), np.inf)]) == set()
    # A campaign the plan funds, even under one, is no candidate.
    assert trial_days([(0.1, 0.5, paying(10.0), np.inf)]) == set()
    # A plan under one prices a trial all the same; nothing funded, nothing to price it.
    assert trial_days([(20.0, 0.0, paying(10.0), np.inf)], setter_plan=0.5) == {1}
    assert trial_days([(20.0, 0.0, paying(10.0), np.inf)], setter_plan=0.0) == set()


def test_the_trials_price_is_the_median_return_of_the_campaigns_funded_above_their_minimum():
    # A second funded campaign planned at its minimum (to a millionth) or at its
    # audience's ceiling (to a millionth) does not set the price; one between does.
    between = (1.0, 100.0, sure_posterior(1.0, 100.0), np.inf)
    at_minimum = (100.0, 100.0 * (1 + 1e-6), sure_posterior(1.0, 100.0), np.inf)
    exactly_minimum = (100.0, 100.0, sure_posterior(1.0, 100.0), np.inf)
    at_ceiling = (1.0, 100.0, sure_posterior(1.0, 100.0), 100.0 / (1 - 1e-6))
    pays = (20.0, 0.0, paying(0.8), np.inf)
    # With "between" the price is the median of 10x and 1x the setter's: 5.5x lower.
    assert trial_days([between, pays]) == {2}
    assert trial_days([at_minimum, pays]) == set()
    assert trial_days([exactly_minimum, pays]) == set()
    assert trial_days([at_ceiling, pays]) == set()
    # A plan well above the minimum (twice and more) sets the price.
    assert trial_days([(50.0, 100.0, sure_posterior(1.0, 100.0), np.inf), pays]) == {2}


def test_the_best_trials_come_first_while_the_allowance_lasts():
    # Advantages 2, 3 and 4 at minimums 40, 30 and 20; an allowance of 50 (a quarter of
    # 4 x 50): the best two, 20 + 30, and then nothing fits.
    candidates = [
        (40.0, 0.0, paying(2.0, 40.0), np.inf),
        (30.0, 0.0, paying(3.0, 30.0), np.inf),
        (20.0, 0.0, paying(4.0, 20.0), np.inf),
    ]
    assert trial_days(candidates, total=2000.0) == {2, 3}
    # Under a price below one (sales worth 10), the same order.
    assert trial_days(candidates, total=2000.0, value=10.0) == {2, 3}


def test_a_days_share_of_its_budget_is_judged_on_days_with_a_budget_not_just_lowered():
    full = [days_of(str(i), [100.0] * 7, [100.0] * 7) for i in range(3)]
    # Shares, not spends: 50 of a budget of 50 is full delivery, 100 of 400 is not.
    halves = [days_of(str(i), [50.0] * 7, [50.0] * 7) for i in range(3)]
    wide = days_of("wide", [100.0] * 7, [400.0] * 7)
    assert cycle._ceilings([*halves, wide]).tolist() == [np.inf] * 3 + [pytest.approx(110.0)]
    # A budget under one is a budget: spending a tenth of it is a ceiling.
    tiny = days_of("tiny", [0.05] * 7, [0.5] * 7)
    assert cycle._ceilings([*full, tiny]).tolist() == [np.inf] * 3 + [pytest.approx(0.055)]
    # A campaign's first day is judged too (nothing was lowered before it).
    first = days_of("first", [30.0], [100.0])
    assert cycle._ceilings([*full, first]).tolist() == [np.inf] * 3 + [pytest.approx(33.0)]
    # A budget raised after a cut is judged (against the day before, not the first day),
    # and one the same to a billionth is not a cut.
    raised = days_of("raised", [100.0, 50.0, 20.0], [100.0, 50.0, 60.0])
    assert cycle._ceilings([*full, raised]).tolist() == [np.inf] * 3 + [pytest.approx(110.0)]
    same = days_of("same", [100.0, 30.0], [100.0, 100.0 * (1 - 1e-9)])
    assert cycle._ceilings([*full, same]).tolist() == [np.inf] * 3 + [pytest.approx(110.0)]
    # Days without a budget (spend reported after a pause) are not judged: a week of them
    # does not make every share typical.
    paused = days_of("paused", [5.0] * 7, [0.0] * 7)
    small = days_of("small", [40.0] * 7, [100.0] * 7)
    ceilings = cycle._ceilings([full[0], small, paused]).tolist()
    assert ceilings == [np.inf, pytest.approx(44.0), np.inf]


def ads(clicks_a: float, clicks_b: float) -> tuple[CreativeState, ...]:
    """Ads "ad-a" and "ad-b" (variants A and B), each 50 spent over a delivered day."""
    return (
        CreativeState("a", "A", True, spend=50.0, hours_live=34.0, clicks=clicks_a, content="ad-a"),
        CreativeState("b", "B", True, spend=50.0, hours_live=34.0, clicks=clicks_b, content="ad-b"),
    )


def creative_test(clicks_a: float, clicks_b: float):
    """`_creative_tests` on a live campaign running the two ads, beside a paused one where
    they clicked 40 and 30: its decisions, advice, and the verdict with and without the
    paused campaign's clicks."""
    held = cycle_state().campaigns[1]
    live = replace(held, campaign_id="live", override=None, creatives=ads(clicks_a, clicks_b))
    elsewhere = replace(live, campaign_id="asleep", active=False, creatives=ads(40.0, 30.0))
    state = replace(cycle_state(), campaigns=(live, elsewhere))
    decisions: list = []
    recommendations: list = []
    cycle._creative_tests(state, np.random.default_rng(0), decisions, recommendations)
    delivered = cycle._delivered_hours(state, live)
    pooled = suite_clicks([live.creatives, elsewhere.creatives])[0]
    [verdict] = judge_creatives(delivered, np.random.default_rng(0), pooled)
    [alone] = judge_creatives(delivered, np.random.default_rng(0))
    return decisions, recommendations, verdict, alone


def test_a_creative_test_counts_the_same_ads_clicks_elsewhere_and_reports_its_probability():
    decisions, _, verdict, alone = creative_test(60.0, 25.0)
    p = verdict.probability_winner_better
    assert p != alone.probability_winner_better and round(p, 3) != round(p, 4)
    [pause] = decisions
    assert pause.creative_id == "b"
    assert pause.numbers["probability_winner_better"] == round(p, 3)
    assert pause.reason == f"creative a beats it with probability {p:.2f}"
    # Not decisive, but likely enough to advise.
    decisions, [hint], verdict, alone = creative_test(38.0, 30.0)
    p = verdict.probability_winner_better
    assert decisions == [] and p != alone.probability_winner_better and round(p, 3) != round(p, 4)
    assert hint.numbers == {"probability": round(p, 3), "creative": "B"}


def test_an_audiences_ceiling_is_under_six_tenths_of_the_upper_quartile_share_and_stays_unless_refuted():
    # Beside a campaign spending 0.8 of its budget, the upper quartile of the two shares
    # is 0.25 s + 0.6: a share s is capped below 0.4235 (s < 0.6 x that).
    typical = days_of("typical", [80.0], [100.0])
    assert cycle._ceilings([typical, days_of("s", [42.0], [100.0])])[1] == pytest.approx(46.2)
    assert cycle._ceilings([typical, days_of("s", [42.5], [100.0])])[1] == np.inf
    # Beside three such campaigns a share under 0.48 is capped: 30 of 65 is. A later day
    # delivering more of the same budget (32 of 65) but not past the ceiling's headroom
    # (30 x 1.1) keeps it; one spending more (34) refutes it.
    three = [days_of(str(k), [80.0], [100.0]) for k in range(3)]
    kept = days_of("kept", [30.0, 32.0], [65.0, 65.0])
    assert cycle._ceilings([*three, kept])[3] == pytest.approx(32.0 * 1.1)
    at_headroom = days_of("at", [30.0, 30.0 * cycle.CEILING_HEADROOM], [65.0, 65.0])
    assert cycle._ceilings([*three, at_headroom])[3] == pytest.approx(33.0 * 1.1)
    refuted = days_of("refuted", [30.0, 34.0], [65.0, 65.0])
    # A refuted campaign does not stop the next one's ceiling.
    assert cycle._ceilings([*three, refuted, kept]).tolist() == [np.inf] * 4 + [pytest.approx(35.2)]


def paced(campaigns, *, free: float, day=5, fixed_daily=0.0, ceilings=None, **suite_kwargs):
    """`_pace_today`'s decisions at noon of ``day`` (of 10) for these live campaigns:
    from noon a budget B can spend B x 1.2 x 0.75 = 0.9 B of the ``free`` money."""
    state = suite(campaigns, day=day, hour=12, **suite_kwargs)
    ledger = replace(LEDGER, free=free, fixed_daily=fixed_daily)
    limits = np.full(len(campaigns), np.inf) if ceilings is None else np.array(ceilings)
    decisions: list = []
    cycle._pace_today(state, ledger, limits, list(range(len(campaigns))), [], decisions)
    return {d.campaign_id: d for d in decisions}


def test_the_hourly_fit_counts_a_weekly_caps_room_and_no_money_as_none():
    # 650 of a week's cap of 7 x 100 spent: the rest of today can spend 50, not 90.
    week = (DayMetrics(4, 650.0, 100.0),)
    capped = campaign("a", 100.0, days=week, weekly_cap_days=7.0)
    assert paced([capped], free=60.0) == {}
    # Overrides whose worst case takes more than is free leave nothing: a pause, even for
    # a platform taking a thousandth.
    thousandth = campaign("a", 100.0, min_daily_budget=Decimal("0.001"))
    [pause] = paced([thousandth], free=10.0, fixed_daily=20.0).values()
    assert pause.kind == PAUSE


def test_on_the_last_day_budgets_under_one_rise_too_and_the_daily_limit_caps_them():
    small = [campaign(c, 0.1, min_daily_budget=Decimal("0.01")) for c in "ab"]
    made = paced(small, free=1000.0, day=9, daily_limit=Decimal("0.5"))
    assert [float(d.daily_budget) for d in made.values()] == [0.25, 0.25]
    # Up to an audience's ceiling above a budget under one.
    half = campaign("a", 0.5, min_daily_budget=Decimal("0.01"))
    [rise] = paced([half], free=1000.0, day=9, ceilings=[1.0]).values()
    assert rise.daily_budget == Decimal("1.00")
    # A live campaign without a budget is left alone under a limit.
    assert paced([campaign("a", 0.0)], free=1000.0, day=9, daily_limit=Decimal("50")) == {}


def test_an_hourly_cut_shows_the_budget_it_replaces_to_the_cent():
    [cut] = paced([campaign("a", 100.125)], free=45.0).values()
    assert round(100.125, 3) != round(100.125, 2)
    assert cut.numbers["previous_budget"] == round(100.125, 2)


def test_the_plans_grid_reaches_twice_a_minimum_or_forty_equal_shares_and_a_hundredth_of_one_under_a_ceiling():
    def top(minimum: float, ceiling: float) -> float:
        """Today's plan for one campaign on a curve that never saturates, money without
        end, an equal share of 2 a day: the top of its grid of budgets."""
        state = suite([campaign("a", min_daily_budget=Decimal(str(minimum)))], day=3, total=20.0)
        model = cycle._Model([point_posterior(1000.0, 1e7)], RAMPING, np.array([ceiling]))
        ledger = replace(LEDGER, plannable=1e6)
        budgets, _ = cycle._plan(state, [selling("a", 3, 1.0, 1.0)], model, ledger, [0])
        return budgets[0]

    assert top(100.0, np.inf) == pytest.approx(200.0)
    assert top(1.0, np.inf) == pytest.approx(80.0)
    # An audience's ceiling bounds it, but not under a hundredth of the equal share.
    assert top(1.0, 50.0) == pytest.approx(50.0)
    assert top(1.0, 0.001) == pytest.approx(0.02)


def test_on_the_last_day_a_lifetime_budgets_wish_rises_like_a_daily_budget():
    """A campaign on a lifetime budget has no daily budget in force (0); on the last day
    its daily wish is what the pacing raises (left at 0, it never rose, and the money
    the daily campaigns could not take stayed unspent)."""
    lifetime = campaign("life", 0.0, lifetime_wish=Decimal("50"))
    made = paced([lifetime, campaign("daily", 50.0)], free=1000.0, day=9)
    assert made["life"].daily_budget == made["daily"].daily_budget == Decimal("200.00")
    assert made["life"].numbers["previous_budget"] == 50.0
    # Before the last day a lifetime budget is the daily rebalance's alone.
    assert "life" not in paced([lifetime, campaign("daily", 50.0)], free=1000.0, day=8)


def test_a_rebalance_logs_a_lifetime_budgets_daily_wish_as_its_previous_budget():
    """A campaign on a lifetime budget has no daily budget in force (0 in the state):
    the rebalance's numbers say what it was asked a day before, as staff read it."""
    campaigns = [
        campaign("life", 0.0, lifetime_wish=Decimal("80")),
        campaign("daily", 100.0),
    ]
    made = {d.campaign_id: d for d in cycle.run_cycle(suite(campaigns, day=1, hour=8)).decisions}
    assert made["life"].kind == SET and made["daily"].kind == SET
    assert made["life"].numbers["previous_budget"] == 80.0
    assert made["daily"].numbers["previous_budget"] == 100.0
