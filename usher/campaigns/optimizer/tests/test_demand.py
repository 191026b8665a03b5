"""The event's demand pattern, estimated from the suite's pooled daily sales."""

from __future__ import annotations

import numpy as np
import pytest

from usher.campaigns.optimizer.curves import DemandPattern
from usher.campaigns.optimizer.demand import RAMP_PRIOR_MEAN, estimate_demand

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


def test_a_well_observed_ramp_and_weekday_pattern_are_recovered():
    days = np.arange(28)
    base = np.full(28, 5000.0)
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
