"""The allocator on known curves finds the optimum a brute-force search finds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usher.campaigns.optimizer.allocation import allocate, allocate_tabulated, expected_revenue
from usher.campaigns.optimizer.curves import ResponseCurve

CURVES = [
    ResponseCurve(a=9.0, b=500.0, value=210.0),
    ResponseCurve(a=4.0, b=80.0, value=230.0, max_daily_spend=250.0),
    ResponseCurve(a=3.0, b=400.0, value=160.0),
]


def brute_force_best(curves, demand, budget, daily_cap, step):
    """Best revenue over every spend grid point that respects the budget and the cap."""
    n_days = len(demand)
    levels = np.arange(0.0, (daily_cap or budget) + step / 2, step)
    day_options = [
        combo
        for combo in itertools.product(levels, repeat=len(curves))
        if daily_cap is None or sum(combo) <= daily_cap + 1e-9
    ]
    day_values = [
        [
            sum(c.revenue(s, demand[d]) for c, s in zip(curves, combo, strict=True))
            for combo in day_options
        ]
        for d in range(n_days)
    ]
    costs = [sum(combo) for combo in day_options]
    best = 0.0
    for choice in itertools.product(range(len(day_options)), repeat=n_days):
        if sum(costs[k] for k in choice) <= budget + 1e-9:
            best = max(best, sum(day_values[d][k] for d, k in enumerate(choice)))
    return best


@pytest.mark.parametrize(
    ("budget", "daily_cap"), [(600.0, None), (600.0, 250.0), (1500.0, 600.0), (150.0, None)]
)
def test_allocator_reaches_the_brute_force_optimum_within_five_percent(budget, daily_cap):
    demand = np.array([1.0, 1.6])
    spend = allocate(CURVES, demand, budget, daily_cap)
    found = expected_revenue(CURVES, demand, spend)
    best = brute_force_best(CURVES, demand, budget, daily_cap, step=50.0)
    assert found >= 0.95 * best
    # The grid search is an approximation: the continuous optimum is never below it.
    assert found >= best - 1e-6


def brute_force_with_minimums(curves, demand, budget, daily_cap, minimum, step):
    """Best revenue over a spend grid where each curve's day is 0 or at least its minimum.

    Per day, the best revenue of every grid cost; then the days combined by a knapsack
    over cost (exact on the grid, without enumerating every day's choice together).
    """
    levels = []
    for c, m in zip(curves, minimum, strict=True):
        floor = m if c.max_daily_spend is None else min(m, c.max_daily_spend)
        grid = np.arange(0.0, (daily_cap or budget) + step / 2, step)
        levels.append(sorted({0.0, floor, *(g for g in grid if g >= floor)}))
    # The floors are off the grid; count cost in cents to keep them exact.
    best_by_cost: dict[int, float] = {0: 0.0}
    for d in range(len(demand)):
        day: dict[int, float] = {}
        for combo in itertools.product(*levels):
            cost = sum(combo)
            if (daily_cap is not None and cost > daily_cap + 1e-9) or cost > budget + 1e-9:
                continue
            key = round(cost * 100)
            value = sum(c.revenue(s, demand[d]) for c, s in zip(curves, combo, strict=True))
            day[key] = max(day.get(key, 0.0), value)
        combined: dict[int, float] = {}
        for spent, value in best_by_cost.items():
            for cost, gain in day.items():
                if spent + cost <= budget * 100 + 1e-6:
                    key = spent + cost
                    combined[key] = max(combined.get(key, 0.0), value + gain)
        best_by_cost = combined
    return max(best_by_cost.values())


@pytest.mark.parametrize(
    ("budget", "daily_cap", "minimum", "demand"),
    [
        (300.0, None, (100.0, 100.0, 100.0), (1.0, 1.6)),
        (600.0, 250.0, (250.0, 5.0, 100.0), (1.0, 1.6)),
        (150.0, None, (100.0, 100.0, 100.0), (1.0, 1.6)),
        (1500.0, 600.0, (25.0, 300.0, 100.0), (1.0, 1.6)),
        (450.0, 200.0, (100.0, 25.0, 100.0), (0.8, 1.3, 1.0)),
    ],
)
def test_with_platform_minimums_the_allocator_reaches_the_brute_force_optimum(
    budget, daily_cap, minimum, demand
):
    demand = np.array(demand)
    spend = allocate(CURVES, demand, budget, daily_cap, minimum)
    found = expected_revenue(CURVES, demand, spend)
    best = brute_force_with_minimums(CURVES, demand, budget, daily_cap, minimum, step=25.0)
    assert found >= 0.95 * best
    # On these cases the toggles settle the margin: at or above every grid plan.
    assert found >= best - 1e-6
    floors = np.minimum(minimum, [c.max_daily_spend or np.inf for c in CURVES])
    assert ((spend == 0) | (spend >= floors[:, None] - 1e-9)).all()
    assert spend.sum() <= budget + 1e-6


@pytest.mark.parametrize("daily_cap", [None, 600.0])
def test_minimums_that_never_bind_change_nothing(daily_cap):
    # Every campaign-day is planned far above 25: the plan is the continuous one.
    demand = np.array([1.0, 1.6, 1.2])
    free = allocate(CURVES[:2], demand, 1200.0, daily_cap)
    floored = allocate(CURVES[:2], demand, 1200.0, daily_cap, minimum=[25.0, 25.0])
    assert free.min() > 25.0
    assert floored == pytest.approx(free, rel=1e-6)


def test_a_minimum_above_the_even_share_runs_fewer_days_at_the_minimum():
    # 300 over ten days is 30 a day, under a minimum of 100: the campaign runs three
    # days at 100, the days of highest demand, rather than none.
    curve = [ResponseCurve(a=5.0, b=200.0, value=100.0)]
    demand = np.array([1.0, 1.0, 2.0, 1.0, 1.0, 1.5, 1.0, 1.0, 1.8, 1.0])
    spend = allocate(curve, demand, 300.0, minimum=[100.0])
    assert sorted(np.flatnonzero(spend[0])) == [2, 5, 8]
    assert spend[0, [2, 5, 8]] == pytest.approx([100.0, 100.0, 100.0])


def test_a_minimum_that_does_not_pay_leaves_the_campaign_off_and_its_money_elsewhere():
    # The weak campaign's best use of 100 earns less than 100 more on the strong one.
    curves = [
        ResponseCurve(a=10.0, b=300.0, value=100.0),
        ResponseCurve(a=0.5, b=50.0, value=100.0),
    ]
    spend = allocate(curves, np.ones(2), 400.0, minimum=[5.0, 100.0])
    assert spend[1].sum() == 0.0
    assert spend[0].sum() == pytest.approx(400.0, rel=1e-6)


def test_a_ceiling_under_the_minimum_runs_the_campaign_at_its_ceiling():
    # A budget at the minimum spends only what the audience allows (60 of 100).
    curves = [ResponseCurve(a=4.0, b=40.0, value=200.0, max_daily_spend=60.0)]
    spend = allocate(curves, np.ones(2), 200.0, minimum=[100.0])
    assert spend[0] == pytest.approx([60.0, 60.0])


def test_allocator_spends_more_where_demand_is_higher():
    spend = allocate(CURVES[:1], np.array([1.0, 2.5]), 800.0)
    assert spend[0, 1] > spend[0, 0]


def test_allocator_respects_a_campaigns_daily_ceiling_and_gives_the_rest_elsewhere():
    spend = allocate(CURVES, np.ones(1), 2000.0)
    assert spend[1, 0] <= 250.0 + 1e-9
    assert spend.sum() == pytest.approx(2000.0, rel=1e-6)


def test_allocator_gives_nothing_to_a_campaign_that_never_converts():
    curves = [
        ResponseCurve(a=5.0, b=100.0, value=100.0),
        ResponseCurve(a=0.0, b=100.0, value=100.0),
    ]
    spend = allocate(curves, np.ones(3), 300.0)
    assert spend[1].sum() == 0.0
    assert spend[0].sum() == pytest.approx(300.0, rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.floats(0.0, 50.0), min_size=1, max_size=6),
    b=st.lists(st.floats(1.0, 2000.0), min_size=6, max_size=6),
    ceilings=st.lists(st.one_of(st.none(), st.floats(1.0, 500.0)), min_size=6, max_size=6),
    demand=st.lists(st.floats(0.0, 5.0), min_size=1, max_size=10),
    budget=st.floats(0.0, 1e5),
    daily_cap=st.one_of(st.none(), st.floats(1.0, 1e4)),
    minimum=st.one_of(st.none(), st.lists(st.floats(0.0, 3000.0), min_size=6, max_size=6)),
)
def test_allocator_never_exceeds_the_budget_the_daily_cap_a_ceiling_or_a_minimum(
    a, b, ceilings, demand, budget, daily_cap, minimum
):
    curves = [
        ResponseCurve(a=ai, b=bi, value=1.0, max_daily_spend=ci)
        for ai, bi, ci in zip(a, b, ceilings, strict=False)
    ]
    floors = None if minimum is None else minimum[: len(curves)]
    spend = allocate(curves, np.array(demand), budget, daily_cap, floors)
    assert np.isfinite(spend).all()
    assert (spend >= 0).all()
    assert spend.sum() <= budget * (1 + 1e-9) + 1e-9
    if daily_cap is not None:
        assert (spend.sum(axis=0) <= daily_cap * (1 + 1e-9) + 1e-9).all()
    for i, c in enumerate(curves):
        if c.max_daily_spend is not None:
            assert (spend[i] <= c.max_daily_spend + 1e-9).all()
        if floors is not None:
            floor = min(floors[i], c.max_daily_spend or np.inf)
            assert ((spend[i] == 0) | (spend[i] >= floor * (1 - 1e-9))).all()


def test_a_minimum_above_the_budget_on_a_curve_linear_over_it_leaves_the_campaign_off():
    # Found by the property above. Over 2.6e-53 the curve is linear to a float's
    # precision, so at the steepest slope the minimum earns exactly its price: the
    # threshold's choice ran it even at its search's top, over a budget of 3.8e-60,
    # and the allocator failed instead of planning nothing.
    curves = [ResponseCurve(a=1.0, b=1.0, value=1.0)]
    spend = allocate(curves, np.ones(1), 3.842461590137365e-60, None, [2.588601029804446e-53])
    assert spend.tolist() == [[0.0]]


def test_a_daily_cap_within_a_floats_resolution_of_the_steepest_slope_is_never_exceeded():
    # The search's top was exp(log(5)), an ulp under the slope 5, where the curve still
    # spends 2·log(1 + 2e-16): 4.4e-16 on a day capped at 1e-16.
    spend = allocate([ResponseCurve(a=10.0, b=2.0, value=1.0)], np.ones(1), 1.0, 1e-16)
    assert spend.sum(axis=0) <= 1e-16


def test_a_tabulated_plan_with_a_minimum_never_exceeds_a_budget_within_a_floats_resolution():
    # A marginal of 7 falling to 0 by 0.2: an ulp under the steepest slope (7 at demand
    # 2) day 2 still spends over the budget of 1e-17; re-spending both days, the trim to
    # fit put day 1 under its floor, and lifting it back spent 1.08e-17.
    spend_grid = np.array([[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]])
    marginal = np.array([[7.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    spend = allocate_tabulated(spend_grid, marginal, np.array([1.0, 2.0]), 1e-17, None, [1e-18])
    assert spend.sum() <= 1e-17
    assert ((spend == 0) | (spend >= 1e-18)).all()


def test_a_cap_per_day_moves_money_to_the_days_that_can_take_it():
    # Demand doubles on day 2, but day 2 may take only 300: the rest goes to day 1.
    spend = allocate(CURVES[:1], np.array([1.0, 2.0]), 1000.0, np.array([800.0, 300.0]))
    assert spend[0, 1] == pytest.approx(300.0, rel=1e-6)
    assert spend[0, 0] == pytest.approx(700.0, rel=1e-6)


def tabulated(curves, top: float = 3000.0, points: int = 160):
    """The curves as the hourly plan gives them: marginal revenue on a log-spaced grid."""
    grid = np.concatenate([[0.0], np.geomspace(top * 1e-4, top, points - 1)])
    spend_grid = np.array(
        [grid if c.max_daily_spend is None else grid * c.max_daily_spend / top for c in curves]
    )
    marginal = np.array(
        [[c.marginal_revenue(s) for s in row] for c, row in zip(curves, spend_grid, strict=True)]
    )
    return spend_grid, marginal


@pytest.mark.parametrize(
    ("budget", "daily_cap", "minimum", "demand"),
    [
        (600.0, 250.0, (250.0, 5.0, 100.0), (1.0, 1.6)),
        (150.0, None, (100.0, 100.0, 100.0), (1.0, 1.6)),
        (450.0, 200.0, (100.0, 25.0, 100.0), (0.8, 1.3, 1.0)),
    ],
)
def test_the_tabulated_plan_chooses_under_minimums_as_the_closed_form_does(
    budget, daily_cap, minimum, demand
):
    # The hourly plan works on tables (posterior-mean curves have no closed form): with
    # the platforms' minimums it must find the same semi-continuous optimum, every day
    # of every campaign off or at least its minimum.
    demand = np.array(demand)
    spend_grid, marginal = tabulated(CURVES)
    spend = allocate_tabulated(spend_grid, marginal, demand, budget, daily_cap, np.array(minimum))
    exact = allocate(CURVES, demand, budget, daily_cap, minimum)
    assert expected_revenue(CURVES, demand, spend) >= expected_revenue(CURVES, demand, exact) * (
        1 - 1e-3
    )
    floors = np.minimum(minimum, [c.max_daily_spend or np.inf for c in CURVES])
    assert ((spend == 0) | (spend >= floors[:, None] * (1 - 1e-9))).all()
    assert spend.sum() <= budget + 1e-6
    if daily_cap is not None:
        assert (spend.sum(axis=0) <= daily_cap * (1 + 1e-9)).all()


def test_alike_campaigns_under_a_daily_cap_share_it_at_their_minimum_rather_than_skip_days():
    # Six alike campaigns, a minimum of 25, a cap of 75 a day: three run each day. At one
    # threshold all six pay for their minimum or none does, and six do not fit a day:
    # the threshold's choice alone left most days off and 925 of 1,400 unspent.
    curves = [ResponseCurve(a=1.0, b=25.0, value=100.0)] * 6
    demand = np.linspace(1.0, 2.0, 14)
    spend = allocate(curves, demand, 1400.0, 75.0, minimum=[25.0] * 6)
    assert spend.sum(axis=0) == pytest.approx(np.full(14, 75.0))
    assert ((spend == 0) | (spend >= 25.0 - 1e-9)).all()
