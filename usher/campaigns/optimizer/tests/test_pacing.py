"""Pacing never commits more than the money left (property tests)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from usher.campaigns.optimizer import pacing

budgets_st = st.lists(st.floats(0.0, 5000.0), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    budgets=budgets_st,
    remaining=st.floats(0.0, 20000.0),
    max_ratio=st.floats(1.0, 2.0),
    hours_left=st.integers(1, 24),
    max_scale=st.sampled_from([1.0, 4.0]),
    weekly=st.booleans(),
    week_spent=st.floats(0.0, 10000.0),
)
def test_fitted_budgets_never_spend_more_than_the_remainder(
    budgets, remaining, max_ratio, hours_left, max_scale, weekly, week_spent
):
    budgets = np.array(budgets)
    rooms = np.full(len(budgets), 7.0 if weekly else np.inf)
    spent = np.full(len(budgets), week_spent)
    fitted = pacing.fit_to_remainder(
        budgets, remaining, max_ratio, hours_left, rooms, spent, max_scale
    )
    worst = pacing.worst_spend(fitted, max_ratio, hours_left, rooms, spent).sum()
    assert worst <= remaining + 1e-6
    assert (fitted >= 0).all()
    assert (fitted <= budgets * max_scale + 1e-9).all()
    if max_scale == 1.0:
        assert (fitted <= budgets + 1e-9).all()


@settings(max_examples=100, deadline=None)
@given(budgets=budgets_st, max_ratio=st.floats(1.0, 2.0), hours_left=st.integers(1, 24))
def test_budgets_that_fit_are_left_alone(budgets, max_ratio, hours_left):
    budgets = np.array(budgets)
    worst = pacing.worst_spend(
        budgets, max_ratio, hours_left, np.full(len(budgets), np.inf), np.zeros(len(budgets))
    )
    fitted = pacing.fit_to_remainder(budgets, float(worst.sum()) + 1.0, max_ratio, hours_left)
    assert np.allclose(fitted, budgets)


def test_a_weekly_cap_bounds_a_days_spend_below_its_over_delivery():
    # Spent 6 daily budgets this week already: a 7x weekly cap leaves one.
    worst = pacing.worst_spend(np.array([100.0]), 1.75, 24, np.array([7.0]), np.array([600.0]))
    assert worst[0] == 100.0
    no_cap = pacing.worst_spend(np.array([100.0]), 1.75, 24, np.array([np.inf]), np.array([600.0]))
    assert no_cap[0] == 175.0


@settings(max_examples=100, deadline=None)
@given(
    total=st.floats(0.0, 1e6),
    spent=st.floats(0.0, 1e6),
    in_force=st.floats(0.0, 1e4),
    hours=st.integers(0, 72),
    ratio=st.floats(1.0, 2.0),
)
def test_free_money_takes_off_the_worst_unreported_spend_and_is_never_negative(
    total, spent, in_force, hours, ratio
):
    bound = pacing.unreported_spend_bound(in_force, hours, ratio)
    assert bound >= in_force * ratio * hours / pacing.HOURS_PER_DAY - 1e-6
    free = pacing.free_money(total, spent, bound)
    assert 0.0 <= free <= max(total - spent, 0.0)


def test_delivery_ratios_default_to_the_documented_maximum_until_there_is_data():
    assert pacing.max_delivery_ratio(np.array([1.1, 0.9])) == pacing.DEFAULT_MAX_DELIVERY_RATIO
    ratios = pacing.delivery_ratios([110, 90, 120, 80, 100, 0], [100, 100, 100, 100, 100, 0])
    assert len(ratios) == 5
    assert 1.2 < pacing.max_delivery_ratio(ratios) < 1.3
    assert pacing.expected_delivery_ratio(ratios) == 1.0
