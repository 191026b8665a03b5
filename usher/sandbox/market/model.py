"""The market's pure math: demand, change points, saturation, the equal-split closed form.

Nothing here touches the sandbox's state or draws a random number: the engine and the
optimizer's benchmark (its oracle and its score) call the same functions, so "expected
revenue" means one thing everywhere. Money is in the scenario's currency units (floats:
this is a statistical model, not a ledger; the sandbox turns reports into Decimal).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from usher.sandbox.market.scenario import Scenario, Segment


def demand(scenario: Scenario, day: int) -> float:
    """`(1 + ramp · x²) · weekday[dow(day)]`, x the flight's progress from 0 to 1."""
    x = day / max(scenario.days - 1, 1)
    weekday = (scenario.start + timedelta(days=day)).weekday()
    return (1.0 + scenario.ramp * x * x) * scenario.weekday[weekday]


def curve(segment: Segment, day: int) -> tuple[float, float]:
    """(K, b) on `day`: every change point from its day on multiplies them (compounding)."""
    k, b = segment.max_daily_conversions, segment.half_saturation_spend
    for point in segment.change_points:
        if point.day <= day:
            k *= point.max_daily_conversions_multiplier
            b *= point.half_saturation_spend_multiplier
    return k, b


def quality(segment: Segment, active: Iterable[str] | None = None) -> float:
    """Mean performance of the active creatives (all of them when `active` is None)."""
    names = None if active is None else set(active)
    chosen = [c.performance for c in segment.creatives if names is None or c.name in names]
    return sum(chosen) / len(chosen) if chosen else 0.0


def hourly_expected_conversions(
    segment: Segment, scenario: Scenario, day: int, hour_share: float, spend: float, q: float
) -> float:
    """E[C_h] = share · K · demand · q · (1 - exp(-(s_h / share) / b)); 0 for a 0 share."""
    if hour_share <= 0 or spend <= 0:
        return 0.0
    k, b = curve(segment, day)
    return hour_share * k * demand(scenario, day) * q * -math.expm1(-(spend / hour_share) / b)


def daily_expected_conversions(
    scenario: Scenario, segment: Segment, day: int, spend: float, q: float | None = None
) -> float:
    """A day's E[C] for spend S under one budget all day: K · demand · q · (1 - exp(-S/b)).

    `q` defaults to every creative on. This is the sum of the hourly formula over the
    day's hours when the hourly spend follows the hourly shares.
    """
    if spend <= 0:
        return 0.0
    k, b = curve(segment, day)
    q = quality(segment) if q is None else q
    return k * demand(scenario, day) * q * -math.expm1(-spend / b)


def marginal_conversions(
    scenario: Scenario, segment: Segment, day: int, spend: float, q: float | None = None
) -> float:
    """d E[C] / d S at daily spend S: what the next unit of money buys that day."""
    k, b = curve(segment, day)
    q = quality(segment) if q is None else q
    return k * demand(scenario, day) * q * math.exp(-spend / b) / b


def equal_split_daily_budget(scenario: Scenario) -> float:
    """The equal_split strategy's budget: min(total / days, daily limit) / segments."""
    per_day = scenario.total_budget / scenario.days
    if scenario.daily_budget_limit is not None:
        per_day = min(per_day, scenario.daily_budget_limit)
    return per_day / len(scenario.segments)


@dataclass(frozen=True)
class SegmentForecast:
    platform: str
    campaign_type: str
    spend: float
    expected_conversions: float
    expected_revenue: float


@dataclass(frozen=True)
class FlightForecast:
    """Expected totals of a whole flight; what the benchmark scores strategies by."""

    spend: float
    expected_conversions: float
    expected_revenue: float
    segments: tuple[SegmentForecast, ...]


def flight_forecast(scenario: Scenario, daily_spend: list[list[float]]) -> FlightForecast:
    """Expected totals for planned spend `daily_spend[segment][day]`, every creative on."""
    rows = []
    for segment, plan in zip(scenario.segments, daily_spend, strict=True):
        spend = conversions = 0.0
        for day, amount in enumerate(plan):
            if segment.max_daily_spend is not None:
                amount = min(amount, segment.max_daily_spend)
            spend += amount
            conversions += daily_expected_conversions(scenario, segment, day, amount)
        rows.append(
            SegmentForecast(
                platform=segment.platform,
                campaign_type=segment.campaign_type,
                spend=spend,
                expected_conversions=conversions,
                expected_revenue=conversions * segment.average_order_value,
            )
        )
    return FlightForecast(
        spend=sum(r.spend for r in rows),
        expected_conversions=sum(r.expected_conversions for r in rows),
        expected_revenue=sum(r.expected_revenue for r in rows),
        segments=tuple(rows),
    )


def equal_split_closed_form(scenario: Scenario) -> FlightForecast:
    """The equal_split flight without over-delivery, in closed form (no simulation)."""
    budget = equal_split_daily_budget(scenario)
    return flight_forecast(scenario, [[budget] * scenario.days for _ in scenario.segments])
