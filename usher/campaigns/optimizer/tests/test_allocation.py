"""The allocator on known curves finds the optimum a brute-force search finds."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usher.campaigns.optimizer.allocation import allocate, expected_revenue
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
)
def test_allocator_never_exceeds_the_budget_the_daily_cap_or_a_ceiling(
    a, b, ceilings, demand, budget, daily_cap
):
    curves = [
        ResponseCurve(a=ai, b=bi, value=1.0, max_daily_spend=ci)
        for ai, bi, ci in zip(a, b, ceilings, strict=False)
    ]
    spend = allocate(curves, np.array(demand), budget, daily_cap)
    assert np.isfinite(spend).all()
    assert (spend >= 0).all()
    assert spend.sum() <= budget * (1 + 1e-9) + 1e-9
    if daily_cap is not None:
        assert (spend.sum(axis=0) <= daily_cap * (1 + 1e-9) + 1e-9).all()
    for i, c in enumerate(curves):
        if c.max_daily_spend is not None:
            assert (spend[i] <= c.max_daily_spend + 1e-9).all()


def test_a_cap_per_day_moves_money_to_the_days_that_can_take_it():
    # Demand doubles on day 2, but day 2 may take only 300: the rest goes to day 1.
    spend = allocate(CURVES[:1], np.array([1.0, 2.0]), 1000.0, np.array([800.0, 300.0]))
    assert spend[0, 1] == pytest.approx(300.0, rel=1e-6)
    assert spend[0, 0] == pytest.approx(700.0, rel=1e-6)
