"""The event's demand pattern, estimated from the suite's pooled daily sales."""

from __future__ import annotations

import numpy as np
import pytest

from usher.campaigns.optimizer.curves import DemandPattern
from usher.campaigns.optimizer.demand import RAMP_GRID, RAMP_PRIOR_MEAN, estimate_demand

FRIDAY_HEAVY = np.array([0.8, 0.8, 0.9, 1.0, 1.9, 1.0, 0.6])


def exact_sales(days, flight_days, first_weekday, ramp, weekday, base):
    """The sales the pattern predicts, without noise (so only the model decides)."""
    x = days / (flight_days - 1)
    return (1.0 + ramp * x**2) * weekday[(days + first_weekday) % 7] * base


def test_without_sales_data_the_pattern_is_the_prior():
    prior = DemandPattern(30, 4, RAMP_PRIOR_MEAN)
    empty = np.array([], dtype=int)
    assert estimate_demand(30, 4, empty, np.array([]), np.array([])) == prior
    days = np.arange(5)
    assert estimate_demand(30, 4, days, np.full(5, 3.0), np.zeros(5)) == prior


def test_one_day_says_nothing_of_the_ramp_so_its_posterior_is_the_grids_prior():
    # Its sales are absorbed by the scale, and one day is one weekday: the ramp's
    # posterior is its exponential prior on the grid (mean 0.878 on steps of 0.25 cut at
    # 8, not the continuous prior's 1), every weekday 1.
    prior = np.exp(-RAMP_GRID / RAMP_PRIOR_MEAN)
    for day in (0, 12):
        found = estimate_demand(30, 4, np.array([day]), np.array([7.0]), np.array([3.0]))
        assert found.ramp == pytest.approx(float(np.sum(RAMP_GRID * prior) / prior.sum()))
        assert found.weekday == pytest.approx((1.0,) * 7)


def test_a_well_observed_ramp_and_weekday_pattern_are_recovered():
    days = np.arange(28)
    base = np.where(days % 3 == 0, 8000.0, 4000.0)  # the campaigns' spend varied by day
    weekday = FRIDAY_HEAVY / FRIDAY_HEAVY.mean()
    sales = exact_sales(days, 30, 3, 2.0, weekday, base)
    found = estimate_demand(30, 3, days, sales, base)
    assert (found.days, found.first_weekday) == (30, 3)
    assert found.ramp == pytest.approx(2.0, abs=0.05)
    assert found.weekday == pytest.approx(tuple(weekday), abs=0.02)
    assert np.mean(found.weekday) == pytest.approx(1.0)


def test_a_flat_market_reads_as_little_ramp():
    days = np.arange(28)
    base = np.full(28, 5000.0)
    found = estimate_demand(30, 0, days, base.copy(), base)
    assert found.ramp < 0.1
    assert found.weekday == pytest.approx((1.0,) * 7, abs=0.01)


def test_a_few_days_of_sales_barely_move_the_weekday_multipliers():
    days = np.arange(7)
    base = np.full(7, 2.0)
    sales = np.array([0.0, 0.0, 0.0, 0.0, 14.0, 0.0, 0.0])
    found = estimate_demand(30, 0, days, sales, base)
    friday = found.weekday[4]
    # 14 sales on one Friday against a prior worth 30: up, but far from all of them.
    assert 1.0 < friday < 2.0
    assert all(v < 1.0 for i, v in enumerate(found.weekday) if i != 4)


def test_only_the_shape_of_the_predicted_sales_matters_not_their_level():
    # The curves' level is the campaigns' to explain: the same sales against a base a
    # thousand times higher, or under one sale in all, give the same pattern.
    days = np.arange(14)
    base = np.where(days % 2 == 0, 0.02, 0.05)
    sales = np.array([0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1], dtype=float)
    low = estimate_demand(20, 1, days, sales, base)
    high = estimate_demand(20, 1, days, sales, base * 1000)
    assert low != DemandPattern(20, 1, RAMP_PRIOR_MEAN)
    assert low.ramp == pytest.approx(high.ramp, rel=1e-9)
    assert low.weekday == pytest.approx(high.weekday, rel=1e-9)


def test_the_ramp_runs_from_the_first_day_to_the_last_of_the_flight():
    # Day 1 of a two-day flight is its last, as day 2 of a three-day one: the same sales
    # on them read as the same ramp (which two weekdays they fall on does not matter).
    base = np.array([10.0, 10.0])
    sales = np.array([10.0, 40.0])
    two_days = estimate_demand(2, 0, np.array([0, 1]), sales, base)
    three_days = estimate_demand(3, 0, np.array([0, 2]), sales, base)
    assert two_days.ramp > 1.0
    assert two_days.ramp == pytest.approx(three_days.ramp, rel=1e-9)


def test_the_same_days_seen_twice_read_as_one_day_of_twice_the_sales():
    # Poisson sales add up: two copies of the days are one set at twice the sales and
    # twice the base, down to the few sales of quiet days.
    days = np.arange(14)
    base = np.where(days % 2 == 0, 0.02, 0.05)
    sales = np.array([0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1], dtype=float)
    twice = estimate_demand(20, 1, np.tile(days, 2), np.tile(sales, 2), np.tile(base, 2))
    doubled = estimate_demand(20, 1, days, 2 * sales, 2 * base)
    assert twice.ramp == pytest.approx(doubled.ramp, rel=1e-12)
    assert twice.weekday == pytest.approx(doubled.weekday, rel=1e-12)


def test_each_weekday_is_its_sales_shrunk_by_thirty_pseudo_sales_toward_the_others():
    # A flight so long the ramp does not move over two weeks: the multipliers solve
    # w_k ∝ (30 + sales_k) / (30 + c · base_k), c scaling the base to the sales seen.
    days = np.arange(14)
    base = np.tile([1.0, 3.0, 2.0, 4.0, 1.5, 2.5, 5.0], 2)
    sales = np.array([2, 1, 6, 3, 9, 2, 4, 1, 0, 5, 2, 8, 3, 6], dtype=float)
    found = np.array(estimate_demand(100_000, 2, days, sales, base).weekday)
    weekday_of = (days + 2) % 7
    level = sales.sum() / np.sum(found[weekday_of] * base)
    solved = (30 + np.bincount(weekday_of, sales, 7)) / (
        30 + level * np.bincount(weekday_of, base, 7)
    )
    assert found == pytest.approx(solved / solved.mean(), abs=1e-4)
    assert found.mean() == pytest.approx(1.0)
