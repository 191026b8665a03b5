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
    dow = (observed_days + first_weekday) % DAYS_PER_WEEK
    log_post = np.empty(len(RAMP_GRID))
    weekdays = np.empty((len(RAMP_GRID), DAYS_PER_WEEK))
    for g, ramp in enumerate(RAMP_GRID):
        ramp_base = (1.0 + ramp * x**2) * base
        weekday = np.ones(DAYS_PER_WEEK)
        scale = 1.0
        for _ in range(WEEKDAY_SWEEPS):
            scale = conversions.sum() / max((ramp_base * weekday[dow]).sum(), 1e-12)
            exposure = np.bincount(dow, weights=ramp_base * scale, minlength=DAYS_PER_WEEK)
            sales = np.bincount(dow, weights=conversions, minlength=DAYS_PER_WEEK)
            weekday = (WEEKDAY_PRIOR_STRENGTH + sales) / (WEEKDAY_PRIOR_STRENGTH + exposure)
            weekday /= weekday.mean()
        mean = np.maximum(ramp_base * weekday[dow] * scale, 1e-12)
        log_post[g] = np.sum(conversions * np.log(mean) - mean) - ramp / RAMP_PRIOR_MEAN
        weekdays[g] = weekday
    weights = np.exp(log_post - log_post.max())
    weights /= weights.sum()
    ramp = float(np.sum(weights * RAMP_GRID))
    weekday = tuple(float(v) for v in weights @ weekdays)
    return DemandPattern(days, first_weekday, ramp, weekday)
