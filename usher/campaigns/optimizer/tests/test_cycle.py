"""The hourly cycle end to end on a market drawn from the model (no database, no HTTP)."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal

import numpy as np
import pytest

from usher.campaigns.optimizer.allocation import allocate
from usher.campaigns.optimizer.curves import DemandPattern, ResponseCurve
from usher.campaigns.optimizer.cycle import run_cycle
from usher.campaigns.optimizer.decisions import (
    Decision,
    DecisionKind,
    DecisionRule,
    RecommendationKind,
)
from usher.campaigns.optimizer.state import (
    CampaignState,
    CreativeState,
    DayMetrics,
    Override,
    SuiteState,
)
from usher.campaigns.optimizer.tests.synthetic import SyntheticMarket, TrueCampaign

RICH = SyntheticMarket(
    campaigns=[
        TrueCampaign(a=12.0, b=500.0, value=200.0),
        TrueCampaign(a=5.0, b=80.0, value=220.0),
        TrueCampaign(a=6.0, b=350.0, value=210.0),
        TrueCampaign(a=2.5, b=400.0, value=150.0),
    ],
    days=21,
    total_budget=15000.0,
    daily_limit=1500.0,
    ramp=1.0,
)
THIN = SyntheticMarket(
    campaigns=[
        TrueCampaign(a=1.2, b=150.0, value=200.0),
        TrueCampaign(a=0.8, b=60.0, value=200.0),
        TrueCampaign(a=1.0, b=250.0, value=200.0),
        TrueCampaign(a=0.6, b=200.0, value=200.0),
    ],
    days=14,
    total_budget=1400.0,
)


def oracle_revenue(market: SyntheticMarket) -> float:
    curves = [ResponseCurve(c.a, c.b, c.value) for c in market.campaigns]
    plan = allocate(curves, market.demand(), market.total_budget, market.daily_limit)
    return market.expected_revenue(plan, np.ones_like(plan))


def mean_revenue(market: SyntheticMarket, strategy: str, seeds=range(6)) -> float:
    return float(np.mean([market.run(seed, strategy)[0] for seed in seeds]))


def test_with_rich_data_the_optimizer_comes_close_to_the_oracle():
    usher = mean_revenue(RICH, "usher", range(3))
    assert usher >= 0.9 * oracle_revenue(RICH)
    assert usher > mean_revenue(RICH, "equal_split", range(3))


def test_on_thin_data_the_optimizer_is_no_worse_than_equal_split_in_expectation():
    usher = mean_revenue(THIN, "usher")
    equal = mean_revenue(THIN, "equal_split")
    assert usher >= 0.98 * equal


@pytest.mark.parametrize("market", [RICH, THIN, replace(RICH, overdelivery=0.5)])
def test_the_optimizer_never_overspends(market):
    for seed in range(3):
        _, spent, _ = market.run(seed, "usher")
        assert spent <= market.total_budget + 0.01


def test_it_follows_a_change_point_down():
    falling = replace(
        RICH,
        campaigns=[replace(RICH.campaigns[0], change=(7, 0.05)), *RICH.campaigns[1:]],
        ramp=0.0,
    )
    _, _, decisions = falling.run(1, "usher")
    budgets = {
        d.plan_day: float(d.daily_budget)
        for d in decisions
        if d.campaign_id == "0" and d.kind == DecisionKind.SET_BUDGET and d.plan_day is not None
    }
    before = np.mean([budgets[d] for d in range(4, 7)])
    after = np.mean([budgets[d] for d in range(16, 20)])
    assert after < 0.6 * before


def test_a_staff_override_wins_over_the_optimizer():
    held = replace(RICH, overrides={1: Override(daily_budget=Decimal("50.00"))})
    _, spent, decisions = held.run(2, "usher")
    mine = [d for d in decisions if d.campaign_id == "1"]
    assert mine and all(d.kind == DecisionKind.KEEP_OVERRIDE for d in mine)
    assert all(d.rule == DecisionRule.STAFF_OVERRIDE for d in mine)
    assert spent <= held.total_budget + 0.01


def test_a_losing_creative_is_paused_by_the_ab_test():
    market = replace(
        RICH, campaigns=[replace(RICH.campaigns[0], qualities=(1.5, 0.6)), *RICH.campaigns[1:]]
    )
    _, _, decisions = market.run(4, "usher")
    paused = [d for d in decisions if d.kind == DecisionKind.PAUSE_CREATIVE]
    assert [(d.campaign_id, d.creative_id) for d in paused] == [("0", "0-1")]


def state_on(day: int, hour: int, campaigns, total=3000.0, spent=0.0, reported=None) -> SuiteState:
    return SuiteState(
        budget_id="b",
        total_budget=Decimal(str(total)),
        spent=Decimal(str(spent)),
        daily_limit=None,
        target_cpa=None,
        target_roas=Decimal("2"),
        flight_days=10,
        first_weekday=0,
        hour_of_flight=day * 24 + hour,
        reported_hours=day * 24 + hour if reported is None else reported,
        campaigns=tuple(campaigns),
    )


def campaign(cid: str, budget: float, days=(), **kwargs) -> CampaignState:
    return CampaignState(
        cid, "meta", "prospecting", True, Decimal(str(budget)), tuple(days), **kwargs
    )


def steady_days(n: int, spend: float, sales: int) -> list[DayMetrics]:
    return [
        DayMetrics(d, spend, spend, sales, sales * 200.0, sales * 2.0, sales * 1.3, sales * 260.0)
        for d in range(n)
    ]


def test_on_day_one_every_campaign_gets_the_same_plan():
    result = run_cycle(state_on(0, 0, [campaign(str(i), 100.0) for i in range(4)]))
    planned = {p.planned_spend_today for p in result.plans}
    assert len(planned) == 1
    budgets = [float(d.daily_budget) for d in result.decisions if d.kind == DecisionKind.SET_BUDGET]
    # Exploration alternates budgets around the plan, symmetric around it.
    assert len(budgets) == 4
    assert np.mean(budgets) == pytest.approx(planned.pop(), rel=0.01)


def test_every_budget_decision_says_why_with_its_numbers_and_expected_effect():
    result = run_cycle(
        replace(
            state_on(3, 2, [campaign(str(i), 100.0, steady_days(3, 100.0, 3)) for i in range(3)]),
            currency="RON",
        )
    )
    assert result.decisions
    for decision in result.decisions:
        assert decision.reason
        assert decision.expected_effect
        assert "new_budget" in decision.numbers and "expected_conversions_today" in decision.numbers
        # Money in the organizer's text carries its currency: "(212 RON of tickets)".
        assert re.search(r"\(\d+ RON of tickets\) today$", decision.expected_effect), (
            decision.expected_effect
        )


def test_before_any_sale_is_priced_the_expected_effect_names_no_amount():
    # No finished day with revenue: a sale is valued at a placeholder of 1, which ranks
    # campaigns but must not read as "1 RON of tickets".
    unpriced = [DayMetrics(d, 100.0, 100.0, 0, 0.0, 0.0, 0.0, 0.0) for d in range(3)]
    result = run_cycle(
        replace(
            state_on(3, 2, [campaign(str(i), 100.0, unpriced) for i in range(3)]),
            currency="RON",
        )
    )
    budget_changes = [d for d in result.decisions if "new_budget" in d.numbers]
    assert budget_changes
    for decision in budget_changes:
        assert re.fullmatch(r"about \d+\.\d sales today", decision.expected_effect), (
            decision.expected_effect
        )


def test_safety_cuts_budgets_that_could_overspend_what_is_left():
    # 2,900 of 3,000 reported; budgets of 300 in force at noon could spend far more.
    campaigns = [
        campaign(str(i), 300.0, steady_days(5, 300.0, 4), budget_set_day=5) for i in range(2)
    ]
    result = run_cycle(state_on(5, 12, campaigns, spent=2900.0), recommend=False)
    cuts = [d for d in result.decisions if d.rule == DecisionRule.SPEND_SAFETY]
    assert len(cuts) == 2
    new = sum(float(d.daily_budget or 0) for d in cuts)
    worst_ratio = cuts[0].numbers["max_delivery_ratio"]
    free = cuts[0].numbers["free_money"]
    assert free < 100.0  # the hour in progress may already have spent some
    assert new * worst_ratio * min(1.0, 12 / 24 * 1.5) <= free + 0.01  # numbers are rounded
    assert new * worst_ratio * min(1.0, 12 / 24 * 1.5) >= 0.99 * free


def test_on_the_last_day_budgets_rise_to_spend_what_is_left_without_overspending():
    campaigns = [
        campaign(str(i), 50.0, steady_days(9, 50.0, 1), budget_set_day=9) for i in range(2)
    ]
    result = run_cycle(state_on(9, 10, campaigns, spent=2000.0), recommend=False)
    raises = [d for d in result.decisions if d.rule == DecisionRule.PACING]
    assert len(raises) == 2
    assert all(d.daily_budget > Decimal("50") for d in raises)
    worst_ratio = raises[0].numbers["max_delivery_ratio"]
    worst = sum(float(d.daily_budget) for d in raises) * worst_ratio * min(1.0, 14 / 24 * 1.5)
    assert worst <= 1000.0 + 1e-6


def test_on_the_last_day_even_a_small_rise_is_made():
    # 102 left, less the hour now running (2 budgets of 50 x 1.05 x 1.5/24 = 6.56); the
    # rest of today at the worst ratio (1.05 x 14/24 x 1.5 of a day) could spend 91.875
    # of the budgets in force: a rise under 4% fits, and the event is tonight.
    campaigns = [
        campaign(str(i), 50.0, steady_days(9, 50.0, 1), budget_set_day=9) for i in range(2)
    ]
    result = run_cycle(state_on(9, 10, campaigns, spent=2898.0), recommend=False)
    raises = [float(d.daily_budget) for d in result.decisions if d.rule == DecisionRule.PACING]
    assert len(raises) == 2
    fits = (102.0 - 6.5625) / 91.875
    assert all(50.5 < budget <= 50.0 * fits for budget in raises)


def test_reporting_delay_is_held_back_as_possibly_spent():
    days = steady_days(4, 200.0, 3)
    fresh = run_cycle(state_on(4, 4, [campaign("0", 200.0, days)], spent=800.0), recommend=False)
    stale = run_cycle(
        state_on(4, 4, [campaign("0", 200.0, days)], spent=800.0, reported=60), recommend=False
    )
    assert stale.decisions[0].numbers["free_money"] < fresh.decisions[0].numbers["free_money"]


def test_recommendations_flag_saturation_and_price_a_bigger_budget():
    saturated = [
        DayMetrics(d, s, s, c, c * 200.0, c * 2.0, c, c * 200.0)
        for d, (s, c) in enumerate([(100, 6), (300, 7), (150, 6), (400, 7), (120, 6), (350, 7)])
    ]
    linear = [
        DayMetrics(d, s, s, c, c * 200.0, c * 2.0, c, c * 200.0)
        for d, (s, c) in enumerate([(100, 2), (300, 6), (150, 3), (400, 8), (120, 2), (350, 7)])
    ]
    state = replace(
        state_on(6, 3, [replace(campaign("sat", 250.0, saturated), campaign_type="retargeting")]),
        currency="RON",
        campaigns=(
            replace(campaign("sat", 250.0, saturated), campaign_type="retargeting"),
            campaign("lin", 250.0, linear),
        ),
        target_roas=Decimal("1.2"),
    )
    result = run_cycle(state)
    kinds = {(r.kind, r.campaign_id) for r in result.recommendations}
    assert (RecommendationKind.SATURATED, "sat") in kinds
    assert (RecommendationKind.SATURATED, "lin") not in kinds
    [saturation] = [r for r in result.recommendations if r.kind == RecommendationKind.SATURATED]
    assert "the next 100 RON buy" in saturation.message
    raise_advice = [r for r in result.recommendations if r.kind == RecommendationKind.RAISE_BUDGET]
    assert raise_advice and "tickets at ROAS" in raise_advice[0].message
    assert raise_advice[0].numbers["roas_of_extra_money"] >= 1.2
    # The same suite with a target the extra money cannot reach gets no such advice.
    strict = run_cycle(replace(state, target_roas=Decimal("5")))
    assert not [r for r in strict.recommendations if r.kind == RecommendationKind.RAISE_BUDGET]


def guard_state(days_of_bad: int) -> SuiteState:
    good = [DayMetrics(d, 200.0, 200.0, 5, 1000.0, 10.0, 5.0, 1000.0) for d in range(days_of_bad)]
    bad = [DayMetrics(d, 200.0, 200.0, 0, 0.0, 0.0, 0.0, 0.0) for d in range(days_of_bad)]
    return replace(
        state_on(days_of_bad, 3, [campaign("good", 200.0, good), campaign("bad", 200.0, bad)]),
        target_cpa=Decimal("60"),
    )


def test_the_cpa_guard_pauses_a_campaign_credibly_above_twice_the_target():
    result = run_cycle(guard_state(5), recommend=False)
    pauses = [d for d in result.decisions if d.rule == DecisionRule.CPA_GUARD]
    assert [(d.kind, d.campaign_id) for d in pauses] == [(DecisionKind.PAUSE_CAMPAIGN, "bad")]
    assert pauses[0].numbers["probability"] >= 0.95
    assert pauses[0].numbers["suite_cpa"] == 40.0
    # Its money goes to the others: no budget decision for the paused campaign.
    assert not [
        d for d in result.decisions if d.campaign_id == "bad" and d.kind == DecisionKind.SET_BUDGET
    ]


def test_the_cpa_guard_never_acts_on_one_day():
    result = run_cycle(guard_state(1), recommend=False)
    assert not [d for d in result.decisions if d.rule == DecisionRule.CPA_GUARD]


def test_demand_pattern_is_seen_from_the_suite():
    demand = DemandPattern(21, 0, 1.5).factors()
    assert demand[-1] == pytest.approx(2.5)


def test_a_new_campaign_leans_on_the_campaigns_of_its_own_type():
    def of_type(cid: str, kind: str, sales_per_day: int, days: int) -> CampaignState:
        history = [
            DayMetrics(day=d, spend=50.0, budget=50.0, attributed_conversions=sales_per_day)
            for d in range(days)
        ]
        return replace(campaign(cid, 50.0, history), campaign_type=kind)

    state = replace(
        state_on(
            5,
            0,
            [
                of_type("r1", "retargeting", 3, 5),
                of_type("r2", "retargeting", 3, 5),
                of_type("p1", "prospecting", 0, 5),
                of_type("p2", "prospecting", 0, 5),
                of_type("r-new", "retargeting", 0, 0),
                of_type("p-new", "prospecting", 0, 0),
            ],
            total=6000.0,
            spent=1000.0,
        ),
        flight_days=20,
    )
    plans = {p.campaign_id: p for p in run_cycle(state, seed=1).plans}
    assert plans["r-new"].mean_a > 3 * plans["p-new"].mean_a


def test_exploration_moves_money_between_campaigns_but_never_off_a_capped_day():
    # Three like campaigns, more money than the daily limit lets out: on a day when two
    # of three budgets alternate down, the third takes up the difference.
    history = [
        DayMetrics(
            day=d, spend=300.0, budget=300.0, attributed_conversions=4, attributed_revenue=800.0
        )
        for d in range(3)
    ]
    state = replace(
        state_on(3, 0, [campaign(str(i), 300.0, history) for i in range(3)], 30000.0, 2700.0),
        daily_limit=Decimal("900"),
        target_roas=None,
        flight_days=20,
    )
    budgets = [
        float(d.daily_budget)
        for d in run_cycle(state, seed=1).decisions
        if d.kind == DecisionKind.SET_BUDGET
    ]
    assert len(budgets) == 3
    assert len({round(b) for b in budgets}) > 1  # it explores
    assert sum(budgets) == pytest.approx(900.0, rel=0.01)


def test_under_the_daily_limit_a_weekly_capped_campaign_can_still_spend_its_saturday():
    # Monday to Friday campaign 0 ran on 400 a day; the limit now shares 900 among three
    # like campaigns (each sells a sale per 50 spent). Meta stops it once the week has
    # spent 7 budgets, so its Saturday budget must leave room for its plan after the day
    # is fitted to the limit.
    def history(budget: float) -> list[DayMetrics]:
        return [
            DayMetrics(
                day=d,
                spend=budget,
                budget=budget,
                attributed_conversions=round(budget / 50),
                attributed_revenue=budget * 4,
            )
            for d in range(5)
        ]

    campaigns = [
        campaign("0", 400.0, history(400.0), weekly_cap_days=7.0),
        campaign("1", 250.0, history(250.0)),
        campaign("2", 250.0, history(250.0)),
    ]
    state = replace(
        state_on(5, 0, campaigns, 30000.0, 4500.0),
        daily_limit=Decimal("900"),
        target_roas=None,
        flight_days=20,
    )
    budgets = {
        d.campaign_id: float(d.daily_budget)
        for d in run_cycle(state, seed=1).decisions
        if d.kind == DecisionKind.SET_BUDGET
    }
    assert sum(budgets.values()) <= 900.0 + 0.01
    saturday_room = 7 * budgets["0"] - 5 * 400.0
    # Campaigns 0 and 2 are alike and swing the same way today: the capped one's room
    # is a day like campaign 2's, not the 200 that scaling its raised budget would leave.
    assert saturday_room >= 0.95 * budgets["2"]


def minimum_state(weak_sales_per_day: int, minimum: float) -> SuiteState:
    """Two campaigns selling 4 a day at 100, and a third selling `weak_sales_per_day` at
    100 on a platform whose daily minimum is `minimum`."""
    return state_on(
        5,
        2,
        [
            campaign("strong-1", 100.0, steady_days(5, 100.0, 4), budget_set_day=4),
            campaign("strong-2", 100.0, steady_days(5, 100.0, 4), budget_set_day=4),
            campaign(
                "weak",
                100.0,
                steady_days(5, 100.0, weak_sales_per_day),
                budget_set_day=4,
                min_daily_budget=Decimal(str(minimum)),
            ),
        ],
        spent=1500.0,
    )


def test_a_campaign_not_worth_its_platforms_minimum_is_paused_instead_of_raised_to_it():
    result = run_cycle(minimum_state(weak_sales_per_day=0, minimum=100.0), recommend=False)
    weak = [d for d in result.decisions if d.campaign_id == "weak"]
    assert [(d.kind, d.rule) for d in weak] == [
        (DecisionKind.PAUSE_CAMPAIGN, DecisionRule.ALLOCATION)
    ]
    assert "minimum" in weak[0].reason


def test_a_campaign_planned_under_its_minimum_but_worth_it_is_funded_at_the_minimum():
    # Selling as well as the others: the plan's share (about 80 today) is under the
    # minimum of 130, and 130 there sells more than the same money at the others'
    # margin. (At 160 the plan keeps it off today, the day of least demand, and runs it
    # at 160 on the four days after: the oracle's choice too.)
    result = run_cycle(minimum_state(weak_sales_per_day=4, minimum=130.0), recommend=False)
    weak = [d for d in result.decisions if d.campaign_id == "weak"]
    assert [d.kind for d in weak] == [DecisionKind.SET_BUDGET]
    assert float(weak[0].daily_budget or 0) >= 130.0


def test_a_campaign_at_its_audience_ceiling_pays_its_minimum_with_what_it_can_spend():
    # Retargeting on a small audience spends 40 a day whatever its budget of 100 (the
    # platform's minimum) and sells 1: its minimum costs 40 a day, not 100, and 40 there
    # sells more than 40 at the margin of the others (6 a day at 100). Costed at 100 it
    # was paused.
    small_audience = [DayMetrics(d, 40.0, 100.0, 1, 200.0, 2.0, 1.3, 260.0) for d in range(5)]
    state = state_on(
        5,
        2,
        [
            campaign("strong-1", 100.0, steady_days(5, 100.0, 6), budget_set_day=4),
            campaign("strong-2", 100.0, steady_days(5, 100.0, 6), budget_set_day=4),
            campaign(
                "retargeting",
                100.0,
                small_audience,
                budget_set_day=4,
                min_daily_budget=Decimal("100"),
            ),
        ],
        spent=1200.0,
    )
    result = run_cycle(state, recommend=False)
    retargeting = [d for d in result.decisions if d.campaign_id == "retargeting"]
    assert [d.kind for d in retargeting] == [DecisionKind.SET_BUDGET]
    assert float(retargeting[0].daily_budget or 0) >= 100.0


def day_five_budget_of(budget: float, days_reported: int) -> list[Decision]:
    """Day 5's rebalance of a campaign with this budget in force and these days
    reported (at 100 a day), beside two that sold alike every day."""
    campaigns = [
        campaign(str(i), 100.0, steady_days(5, 100.0, 3), budget_set_day=4) for i in range(2)
    ]
    campaigns.append(campaign("x", budget, steady_days(days_reported, 100.0, 3), budget_set_day=4))
    result = run_cycle(state_on(5, 6, campaigns, spent=1500.0), recommend=False)
    return [d for d in result.decisions if d.campaign_id == "x"]


def test_a_budget_cut_by_spend_safety_this_morning_is_not_the_base_of_the_days_step():
    # Yesterday's budget was 100; an outage's unreported hours made spend safety cut it
    # to 10 overnight. The rebalance may step from 100 (x2 / x0.5), not from 10.
    cut = day_five_budget_of(10.0, days_reported=5)
    assert [d.kind for d in cut] == [DecisionKind.SET_BUDGET]
    assert float(cut[0].daily_budget or 0) > 50.0


def test_on_the_last_day_a_campaign_is_not_raised_past_its_audience_ceiling():
    # The third campaign spends 20 of its 50 every day: a higher budget buys nothing and
    # its worst case would hold back money the others can spend.
    capped = [DayMetrics(d, 20.0, 50.0, 1, 200.0, 2.0, 1.3, 260.0) for d in range(9)]
    campaigns = [
        campaign(str(i), 50.0, steady_days(9, 50.0, 1), budget_set_day=9) for i in range(2)
    ]
    campaigns.append(campaign("capped", 50.0, capped, budget_set_day=9))
    result = run_cycle(state_on(9, 10, campaigns, spent=2000.0), recommend=False)
    raised = {d.campaign_id for d in result.decisions if d.rule == DecisionRule.PACING}
    assert raised == {"0", "1"}


def test_a_campaign_without_a_report_of_yesterday_steps_from_its_budget_in_force():
    # Production stores no day for a campaign that did not deliver (paused yesterday).
    quiet = day_five_budget_of(40.0, days_reported=3)
    assert [d.kind for d in quiet] == [DecisionKind.SET_BUDGET]
    assert float(quiet[0].daily_budget or 0) <= 80.0 + 1e-9


def test_under_minimums_the_plan_runs_fewer_campaigns_and_spends_the_days_money():
    # 1,400 over 14 days is 100 a day, 17 a campaign: under the minimum of 25 of all
    # six. The plan chooses which run at 25 or more and which are off (the oracle's
    # semi-continuous choice); raising all six to 25 spent 150 a day, pausing all of
    # them nothing.
    campaigns = [campaign(str(i), 16.0, min_daily_budget=Decimal("25")) for i in range(6)]
    state = replace(
        state_on(0, 0, campaigns, total=1400.0), flight_days=14, daily_limit=Decimal("100")
    )
    decisions = run_cycle(state, seed=1, recommend=False).decisions
    budgets = [float(d.daily_budget) for d in decisions if d.kind == DecisionKind.SET_BUDGET]
    paused = [d for d in decisions if d.kind == DecisionKind.PAUSE_CAMPAIGN]
    assert budgets and paused
    assert all(b >= 25.0 for b in budgets)
    assert len(budgets) + len(paused) == 6
    assert 75.0 <= sum(budgets) <= 100.0 + 1e-6
    assert all(d.rule == DecisionRule.ALLOCATION and "minimum" in d.reason for d in paused)


def off_campaign_trials(days_of_evidence: int, hour: int = 6, weak_reported: bool = True) -> int:
    """On how many of 20 days a campaign the plan leaves off (a 30 minimum, sold nothing
    on ``days_of_evidence`` days at 30) gets a trial day at its minimum, beside two
    that sell 4 a day at 100 (minimum 1), in the rebalance at ``hour``."""
    trials = 0
    for day in range(3, 23):
        strong = [
            campaign(str(i), 100.0, steady_days(day, 100.0, 4), budget_set_day=day - 1)
            for i in range(2)
        ]
        weak_days = [
            DayMetrics(d, 30.0, 30.0, complete=weak_reported)
            for d in range(day - days_of_evidence, day)
        ]
        weak = replace(
            campaign("weak", 30.0, weak_days, budget_set_day=day - 1),
            campaign_type="lookalike",
            active=False,
            min_daily_budget=Decimal("30"),
        )
        state = replace(
            state_on(day, hour, [*strong, weak], total=300.0 * 30, spent=300.0 * day),
            flight_days=30,
        )
        decisions = run_cycle(state, seed=day, recommend=False).decisions
        trials += any(
            d.campaign_id == "weak" and d.kind == DecisionKind.RESUME_CAMPAIGN for d in decisions
        )
    return trials


def test_a_campaign_left_off_gets_trial_days_while_its_curve_is_uncertain():
    # Two empty days say little: posterior draws often find its minimum worth paying,
    # and those days it runs at it. Twenty say it sells nothing: far fewer trials.
    uncertain, known = off_campaign_trials(2), off_campaign_trials(20)
    assert uncertain >= 3
    assert known < uncertain


def test_a_paused_campaign_whose_platform_reports_nothing_joins_the_first_rebalance():
    # At 02:00 the live campaigns' yesterday is reported and they are rebalanced; the
    # paused one's account reports nothing (its only campaign is paused), so its days
    # never read as complete. It still gets its trial days in that rebalance: waiting
    # for its own report, it came due only at six, alone, and was never resumed.
    assert off_campaign_trials(2, hour=2, weak_reported=False) >= 3


def test_today_is_planned_whole_whether_its_first_hours_are_reported_or_not():
    # At 05:00 the day's first hours are either reported (spend 3 x 20) or not yet: the
    # plan for today is the same. Counting unreported hours at their worst case as gone
    # and then planning today whole counted them twice (the plan had less money).
    def planned_today(reported: bool) -> float:
        campaigns = []
        for i in range(3):
            days = steady_days(3, 100.0, 3)
            if reported:
                days.append(DayMetrics(3, 20.0, 100.0, complete=False))
            campaigns.append(campaign(str(i), 100.0, days, budget_set_day=2))
        state = state_on(3, 5, campaigns, spent=900.0 + 60.0 * reported, reported=72 + 5 * reported)
        return sum(p.planned_spend_today for p in run_cycle(state, seed=1).plans)

    assert planned_today(reported=False) == pytest.approx(planned_today(reported=True), rel=1e-3)


def test_one_under_delivering_day_is_no_audience_ceiling_once_a_later_day_spends_above_it():
    # Day 0: 64 of 102 (delivery, while the others spent 120 of 100); day 1: 184 of
    # 151. Read as a ceiling at 1.1 x 184 it held the last days near 200 where the
    # campaign, by far the best, should get more.
    best = [
        DayMetrics(0, 64.0, 102.0, 2, 400.0, 4.0, 2.6, 520.0),
        DayMetrics(1, 184.0, 151.0, 8, 1600.0, 16.0, 10.4, 2080.0),
    ]
    others = [DayMetrics(d, 120.0, 100.0, 1, 200.0, 2.0, 1.3, 260.0) for d in range(2)]
    campaigns = [
        campaign("best", 151.0, best, budget_set_day=1),
        *(campaign(str(i), 100.0, others, budget_set_day=1) for i in range(2)),
    ]
    state = replace(state_on(2, 6, campaigns, total=2000.0, spent=650.0), flight_days=5)
    plans = {p.campaign_id: p for p in run_cycle(state, seed=1, recommend=False).plans}
    assert plans["best"].planned_spend_today > 1.05 * 1.1 * 184.0


def test_a_creative_test_counts_only_the_hours_its_campaign_delivered():
    # Published 34 hours ago, but paused on day 0 (no spend) and live for 10 hours
    # today: a variant has not run a whole day, however its clicks look.
    creatives = (
        CreativeState("a", "A", True, spend=50.0, hours_live=34.0, clicks=200.0),
        CreativeState("b", "B", True, spend=50.0, hours_live=34.0, clicks=20.0),
    )
    paused_yesterday = [DayMetrics(0, 0.0, 0.0), DayMetrics(1, 100.0, 100.0, complete=False)]
    test = campaign("c", 100.0, paused_yesterday, creatives=creatives, budget_set_day=1)
    decisions = run_cycle(state_on(1, 10, [test]), seed=1, recommend=False).decisions
    assert not [d for d in decisions if d.kind == DecisionKind.PAUSE_CREATIVE]
    # A day later, a whole day delivered: the same clicks decide.
    delivered = replace(test, days=(DayMetrics(0, 100.0, 100.0), *paused_yesterday[1:]))
    decisions = run_cycle(state_on(1, 10, [delivered]), seed=1, recommend=False).decisions
    assert [d.creative_id for d in decisions if d.kind == DecisionKind.PAUSE_CREATIVE] == ["b"]


def test_a_campaign_run_at_its_platforms_minimum_is_not_presumed_saturated_under_it():
    # 390 over 10 days and three campaigns is 13 a day each, but one platform takes no
    # less than 100: its curve's prior is scaled to the 100 it runs at (half-saturation
    # about 150), not to the 13 it never runs at (about 20, saturated at its minimum).
    campaigns = [
        campaign("share-1", 13.0),
        campaign("share-2", 13.0),
        campaign("minimum", 100.0, min_daily_budget=Decimal("100")),
    ]
    plans = {p.campaign_id: p for p in run_cycle(state_on(0, 0, campaigns, total=390.0)).plans}
    assert plans["minimum"].mean_b >= 100.0
    assert plans["share-1"].mean_b < 40.0
