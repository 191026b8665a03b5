"""Estimating the event's demand pattern (weekday, ramp toward the date) across campaigns.

Demand is one event's: every campaign of the suite sells more on Fridays and more as
the date nears. Pooling all campaigns' days gives the pattern enough data; each
campaign's curve then only has to explain its own level. Given the curves' current
fit, a day's sales are Poisson with mean ``demand(d) * base(d)``; the ramp lives on a
grid with a prior (events do ramp; how much is learned), the weekday multipliers have
Gamma priors that shrink them to 1 until weeks of data say otherwise.
"""

from __future__ import annotations

import numpy as np

from usher.campaigns.optimizer.curves import DAYS_PER_WEEK, DemandPattern

RAMP_GRID = np.linspace(0.0, 8.0, 33)
# Exponential prior on the ramp, mean 1: most events sell more toward the date.
RAMP_PRIOR_MEAN = 1.0
# Gamma(k, k) prior on each weekday multiplier: k days' worth of sales to move it.
WEEKDAY_PRIOR_STRENGTH = 30.0
WEEKDAY_SWEEPS = 3


def estimate_demand(
    days: int,
    first_weekday: int,
    observed_days: np.ndarray,
    conversions: np.ndarray,
    base: np.ndarray,
) -> DemandPattern:
    """The demand pattern that best explains the suite's daily sales.

    ``observed_days`` are flight day indexes, ``conversions`` the suite's sales on them,
    ``base`` the sales the curves predict for those days' spend at demand 1.
    """
    prior_only = DemandPattern(days, first_weekday, RAMP_PRIOR_MEAN)
    if len(observed_days) == 0 or base.sum() <= 0:
        return prior_only
    x = observed_days / max(days - 1, 1)
    weekday_of = np.eye(DAYS_PER_WEEK)[(observed_days + first_weekday) % DAYS_PER_WEEK]  # days x 7
    sales_by_weekday = conversions @ weekday_of
    ramp_base = (1.0 + RAMP_GRID[:, None] * x[None, :] ** 2) * base[None, :]  # grid x days
    weekday = np.ones((len(RAMP_GRID), DAYS_PER_WEEK))
    for _ in range(WEEKDAY_SWEEPS):
        fitted = ramp_base * (weekday @ weekday_of.T)
        scale = conversions.sum() / np.maximum(fitted.sum(axis=1), 1e-12)
        exposure = (ramp_base * scale[:, None]) @ weekday_of
        weekday = (WEEKDAY_PRIOR_STRENGTH + sales_by_weekday) / (WEEKDAY_PRIOR_STRENGTH + exposure)
        weekday /= weekday.mean(axis=1, keepdims=True)
    fitted = ramp_base * (weekday @ weekday_of.T)
    scale = conversions.sum() / np.maximum(fitted.sum(axis=1), 1e-12)
    mean = np.maximum(fitted * scale[:, None], 1e-12)
    log_post = (conversions * np.log(mean) - mean).sum(axis=1) - RAMP_GRID / RAMP_PRIOR_MEAN
    weights = np.exp(log_post - log_post.max())
    weights /= weights.sum()
    ramp = float(np.sum(weights * RAMP_GRID))
    return DemandPattern(days, first_weekday, ramp, tuple(float(v) for v in weights @ weekday))
