"""Response curves: how a campaign turns a day's spend into conversions.

The market Usher buys in saturates: the first unit of money reaches the most willing
buyers, every further unit fewer. One curve per campaign,
``conversions/day = a · demand(d) · (1 - exp(-S / b))``, captures that with two numbers:
``a`` the conversions a day would bring at unlimited spend (before demand), ``b`` the
spend that reaches 63% of them. Demand is shared by every campaign of one event: a
weekday pattern and a ramp toward the event date (buyers wake up as the day nears).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DAYS_PER_WEEK = 7


@dataclass(frozen=True)
class ResponseCurve:
    """One campaign's saturating response; ``value`` is the revenue of one conversion."""

    a: float
    b: float
    value: float = 1.0
    max_daily_spend: float | None = None

    def conversions(self, spend: np.ndarray | float, demand: np.ndarray | float = 1.0):
        """Expected conversions for a day's spend (vectorized over spend and demand)."""
        spend = np.asarray(spend, dtype=float)
        if self.max_daily_spend is not None:
            spend = np.minimum(spend, self.max_daily_spend)
        return self.a * np.asarray(demand, dtype=float) * -np.expm1(-spend / self.b)

    def revenue(self, spend: np.ndarray | float, demand: np.ndarray | float = 1.0):
        """Expected revenue for a day's spend."""
        return self.value * self.conversions(spend, demand)

    def marginal_revenue(self, spend: float, demand: float = 1.0) -> float:
        """Revenue of the next unit of money at this spend (the curve's slope)."""
        if self.max_daily_spend is not None and spend >= self.max_daily_spend:
            return 0.0
        return float(self.value * self.a * demand / self.b * np.exp(-spend / self.b))


@dataclass(frozen=True)
class DemandPattern:
    """Demand multipliers of a flight: ``(1 + ramp · x²) · weekday[dow]``, x = d / (days-1).

    ``first_weekday`` is the weekday (Monday = 0) of flight day 0, so the pattern lines
    up with the calendar.
    """

    days: int
    first_weekday: int
    ramp: float = 0.0
    weekday: tuple[float, ...] = (1.0,) * DAYS_PER_WEEK

    def factors(self, day_from: int = 0, day_to: int | None = None) -> np.ndarray:
        """Demand multipliers of flight days ``day_from … day_to-1``."""
        day_to = self.days if day_to is None else day_to
        days = np.arange(day_from, day_to)
        x = days / max(self.days - 1, 1)
        weekday = np.asarray(self.weekday, dtype=float)[(days + self.first_weekday) % DAYS_PER_WEEK]
        return (1.0 + self.ramp * x**2) * weekday

    def ramp_factors(self, day_from: int = 0, day_to: int | None = None) -> np.ndarray:
        """The ramp part alone (weekday pattern left out)."""
        day_to = self.days if day_to is None else day_to
        x = np.arange(day_from, day_to) / max(self.days - 1, 1)
        return 1.0 + self.ramp * x**2
