"""A campaign's response curve and the event's demand pattern, checked against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from usher.campaigns.optimizer.curves import DemandPattern, ResponseCurve


def test_conversions_saturate_toward_a_times_demand_and_reach_63_percent_at_b():
    curve = ResponseCurve(a=20.0, b=300.0)
    assert curve.conversions(300.0) == pytest.approx(20.0 * (1 - math.exp(-1)))
    assert curve.conversions(300.0, demand=1.5) == pytest.approx(30.0 * (1 - math.exp(-1)))
    assert curve.conversions(0.0) == 0.0
    assert curve.conversions(1e6) == pytest.approx(20.0)


def test_conversions_are_vectorized_over_spend_and_demand():
    curve = ResponseCurve(a=10.0, b=100.0)
    spends = np.array([0.0, 100.0, 200.0])
    demand = np.array([1.0, 2.0, 0.5])
    expected = 10.0 * demand * (1 - np.exp(-spends / 100.0))
    assert curve.conversions(spends, demand) == pytest.approx(expected)
    # Integer spend is read as money, not floored by integer division.
    assert curve.conversions(np.array([50, 150])) == pytest.approx(
        10.0 * (1 - np.exp(-np.array([0.5, 1.5])))
    )


def test_spend_above_the_daily_maximum_buys_nothing_more():
    curve = ResponseCurve(a=10.0, b=100.0, max_daily_spend=150.0)
    at_cap = 10.0 * (1 - math.exp(-1.5))
    assert curve.conversions(150.0) == pytest.approx(at_cap)
    assert curve.conversions(np.array([100.0, 400.0])) == pytest.approx(
        [10.0 * (1 - math.exp(-1.0)), at_cap]
    )
    assert ResponseCurve(a=10.0, b=100.0).conversions(400.0) > at_cap


def test_revenue_is_conversions_times_their_value():
    curve = ResponseCurve(a=10.0, b=100.0, value=35.0)
    assert curve.revenue(100.0, 2.0) == pytest.approx(35.0 * 20.0 * (1 - math.exp(-1)))
    assert curve.revenue(100.0) == pytest.approx(35.0 * 10.0 * (1 - math.exp(-1)))


def test_the_marginal_revenue_is_the_curves_slope_and_zero_from_the_daily_maximum_on():
    curve = ResponseCurve(a=10.0, b=100.0, value=3.0, max_daily_spend=250.0)
    slope = 3.0 * 10.0 * 2.0 / 100.0 * math.exp(-0.5)
    assert curve.marginal_revenue(50.0, 2.0) == pytest.approx(slope)
    assert curve.marginal_revenue(50.0) == pytest.approx(slope / 2)
    # The slope by finite difference agrees.
    step = 1e-4
    numeric = (curve.revenue(50.0 + step, 2.0) - curve.revenue(50.0 - step, 2.0)) / (2 * step)
    assert curve.marginal_revenue(50.0, 2.0) == pytest.approx(float(numeric), rel=1e-6)
    assert curve.marginal_revenue(249.0) > 0.0
    assert curve.marginal_revenue(250.0) == 0.0
    assert curve.marginal_revenue(400.0) == 0.0
    assert ResponseCurve(a=10.0, b=100.0).marginal_revenue(400.0) > 0.0
    assert isinstance(curve.marginal_revenue(50.0), float)


WEEK = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5)


def test_demand_factors_ramp_quadratically_to_the_last_day_times_the_weekday():
    pattern = DemandPattern(days=11, first_weekday=2, ramp=3.0, weekday=WEEK)
    days = np.arange(11)
    ramp = 1.0 + 3.0 * (days / 10) ** 2
    weekday = np.array(WEEK)[(days + 2) % 7]
    assert pattern.factors() == pytest.approx(ramp * weekday)
    assert pattern.ramp_factors() == pytest.approx(ramp)
    assert pattern.factors()[-1] == pytest.approx(4.0 * WEEK[(10 + 2) % 7])


def test_demand_factors_of_a_range_of_days_are_those_days():
    pattern = DemandPattern(days=11, first_weekday=5, ramp=2.0, weekday=WEEK)
    assert pattern.factors(3, 7) == pytest.approx(pattern.factors()[3:7])
    assert pattern.factors(4) == pytest.approx(pattern.factors()[4:])
    assert pattern.ramp_factors(3, 7) == pytest.approx(pattern.ramp_factors()[3:7])
    assert pattern.ramp_factors(4) == pytest.approx(pattern.ramp_factors()[4:])
    # Days past the flight continue the same formula.
    assert pattern.ramp_factors(10, 12)[1] == pytest.approx(1.0 + 2.0 * (11 / 10) ** 2)


def test_a_one_day_flight_is_its_first_day_without_a_ramp():
    pattern = DemandPattern(days=1, first_weekday=6, ramp=5.0, weekday=WEEK)
    assert pattern.factors(0, 2) == pytest.approx([WEEK[6], (1.0 + 5.0) * WEEK[0]])
    assert pattern.ramp_factors(0, 2) == pytest.approx([1.0, 6.0])


def test_the_default_pattern_is_flat():
    assert DemandPattern(days=5, first_weekday=3).factors() == pytest.approx(np.ones(5))
