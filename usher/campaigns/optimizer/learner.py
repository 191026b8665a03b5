"""Learning one campaign's response curve from its daily history, with uncertainty.

Model (the market's own shape): a day's conversions are Poisson with mean
``a * x_d(b)``, ``x_d(b) = exposure_d * (1 - exp(-S_d / b))``, where ``exposure_d``
carries the known demand multipliers (weekday, ramp) and the creative mix's quality.
A Gamma prior on ``a`` is conjugate given b, so ``a`` integrates out exactly and b lives
on a log-spaced grid: the posterior is exact up to the grid, cheap (days x grid), and
samples (a, b) jointly for Thompson sampling.

Forgetting: each day carries a weight; old days fade slowly (a market drifts) and a
detected change point (a Bayes factor for "the rate changed at day k" against "it did
not") cuts the weight of everything before it, which re-inflates the variance instead of
resetting to the prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

B_GRID_POINTS = 48
# The grid of half-saturation spends, relative to the campaign's spend scale.
B_GRID_LOW_RATIO = 0.05
B_GRID_HIGH_RATIO = 40.0
# Log-normal prior on b around a multiple of the spend scale (wide: sd in log units).
B_PRIOR_CENTER_RATIO = 1.5
B_PRIOR_LOG_SD = 1.2
# Gamma prior shape on a: weak, about one and a half days of data.
A_PRIOR_SHAPE = 1.5
# Passive forgetting per day of age, and the weight kept by days before a change point.
DAILY_DISCOUNT = 0.97
CHANGE_FORGET_WEIGHT = 0.03
# Bayes factor (log) above which a change in the rate is accepted, and the least days
# on each side of it.
CHANGE_LOG_BAYES_FACTOR = 4.0
CHANGE_MIN_DAYS_BEFORE = 3
CHANGE_MIN_DAYS_AFTER = 2
LGAMMA_SHIFT = 6


@dataclass(frozen=True)
class DailyObservation:
    """One fully reported day of one campaign."""

    spend: float
    conversions: float
    exposure: float = 1.0


@dataclass(frozen=True)
class CurvePosterior:
    """Posterior over (a, b): weights on the b grid, and a Gamma(shape, rate) on a per b."""

    b_grid: np.ndarray
    weights: np.ndarray
    shape: np.ndarray
    rate: np.ndarray
    change_day: int | None = None

    @property
    def mean_a(self) -> float:
        return float(np.sum(self.weights * self.shape / self.rate))

    @property
    def mean_b(self) -> float:
        return float(np.exp(np.sum(self.weights * np.log(self.b_grid))))

    @property
    def map_index(self) -> int:
        return int(np.argmax(self.weights))

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n joint draws of (a, b)."""
        index = rng.choice(len(self.b_grid), size=n, p=self.weights)
        a = rng.gamma(self.shape[index], 1.0 / self.rate[index])
        return a, self.b_grid[index]

    def expected_conversions(self, spend, exposure: float = 1.0):
        """Posterior-mean conversions of a day at this spend (scalar or array)."""
        spend = np.asarray(spend, dtype=float)
        saturation = -np.expm1(-spend[..., None] / self.b_grid)
        mean = exposure * (saturation @ (self.weights * self.shape / self.rate))
        return float(mean) if mean.ndim == 0 else mean

    def expected_marginal(self, spend, exposure: float = 1.0):
        """Posterior-mean conversions bought by the next unit of money at this spend."""
        spend = np.asarray(spend, dtype=float)
        slope = np.exp(-spend[..., None] / self.b_grid) / self.b_grid
        mean = exposure * (slope @ (self.weights * self.shape / self.rate))
        return float(mean) if mean.ndim == 0 else mean

    def credible_a(self, level: float, rng: np.random.Generator, n: int = 400) -> float:
        """The ``level`` quantile of a (Monte Carlo)."""
        a, _ = self.sample(rng, n)
        return float(np.quantile(a, level))


B_GRID_RATIOS = np.geomspace(B_GRID_LOW_RATIO, B_GRID_HIGH_RATIO, B_GRID_POINTS)


def b_grid_for(spend_scale: float) -> np.ndarray:
    return max(spend_scale, 1e-6) * B_GRID_RATIOS


def fit_curve(
    observations: list[DailyObservation],
    spend_scale: float,
    prior_a_mean: float,
    detect_changes: bool = True,
) -> CurvePosterior:
    """The posterior of one campaign's curve given its fully reported days, oldest first."""
    b_grid = b_grid_for(spend_scale)
    log_prior = (
        -0.5 * ((np.log(b_grid / (B_PRIOR_CENTER_RATIO * spend_scale))) / B_PRIOR_LOG_SD) ** 2
    )
    alpha0 = A_PRIOR_SHAPE
    beta0 = A_PRIOR_SHAPE / max(prior_a_mean, 1e-9)
    if not observations:
        weights = _normalize(log_prior)
        return CurvePosterior(
            b_grid, weights, np.full(B_GRID_POINTS, alpha0), np.full(B_GRID_POINTS, beta0)
        )
    spend = np.array([o.spend for o in observations], dtype=float)
    counts = np.array([o.conversions for o in observations], dtype=float)
    exposure = np.array([o.exposure for o in observations], dtype=float)
    x = exposure[:, None] * -np.expm1(-spend[:, None] / b_grid[None, :])  # days x grid
    age = np.arange(len(observations))[::-1]
    day_weight = DAILY_DISCOUNT**age
    change_day = None
    if detect_changes:
        change_day = _change_point(counts, x, alpha0, beta0, log_prior)
        if change_day is not None:
            day_weight = np.where(
                np.arange(len(observations)) < change_day,
                day_weight * CHANGE_FORGET_WEIGHT,
                day_weight,
            )
    shape, rate, log_post = _grid_posterior(counts, x, day_weight, alpha0, beta0, log_prior)
    return CurvePosterior(b_grid, _normalize(log_post), shape, rate, change_day)


def _grid_posterior(counts, x, day_weight, alpha0, beta0, log_prior):
    wc = day_weight * counts
    shape = alpha0 + wc.sum()
    rate = beta0 + (day_weight[:, None] * x).sum(axis=0)
    log_x = np.where(x > 0, np.log(np.maximum(x, 1e-300)), 0.0)
    log_post = log_prior + (wc[:, None] * log_x).sum(axis=0) - shape * np.log(rate)
    return np.full_like(rate, shape), rate, log_post


def _change_point(counts, x, alpha0, beta0, log_prior) -> int | None:
    """The day the conversion rate changed, if the data say so strongly enough.

    Uses the b that fits all the data best, then compares, for each split day k, the
    Gamma-Poisson marginal likelihood of two rates (before/after k) with one rate.
    """
    n = len(counts)
    if n < CHANGE_MIN_DAYS_BEFORE + CHANGE_MIN_DAYS_AFTER:
        return None
    _, _, log_post = _grid_posterior(counts, x, np.ones(n), alpha0, beta0, log_prior)
    xb = x[:, int(np.argmax(log_post))]
    cum_c = np.concatenate([[0.0], np.cumsum(counts)])
    cum_x = np.concatenate([[0.0], np.cumsum(xb)])

    def log_marginal(c, s):
        return lgamma_array(alpha0 + c) - (alpha0 + c) * np.log(beta0 + s)

    splits = np.arange(CHANGE_MIN_DAYS_BEFORE, n - CHANGE_MIN_DAYS_AFTER + 1)
    if len(splits) == 0:
        return None
    before = log_marginal(cum_c[splits], cum_x[splits])
    after = log_marginal(cum_c[-1] - cum_c[splits], cum_x[-1] - cum_x[splits])
    whole = log_marginal(cum_c[-1], cum_x[-1])
    # Two rates carry one extra prior normalizer: alpha0*log(beta0) - lgamma(alpha0).
    extra = alpha0 * np.log(beta0) - lgamma_array(np.array(alpha0))
    bayes = before + after + extra - whole
    best = int(np.argmax(bayes))
    return int(splits[best]) if bayes[best] > CHANGE_LOG_BAYES_FACTOR else None


def lgamma_array(x) -> np.ndarray:
    """log Gamma(x) for x >= 1, vectorized (numpy has none; scipy is not a dependency).

    Stirling's series after shifting x up by 6 with the recurrence, accurate to ~2e-11.
    """
    x = np.asarray(x, dtype=float)
    shift = np.zeros_like(x)
    for k in range(LGAMMA_SHIFT):
        shift += np.log(x + k)
    z = x + LGAMMA_SHIFT
    series = 1 / (12 * z) - 1 / (360 * z**3) + 1 / (1260 * z**5) - 1 / (1680 * z**7)
    return (z - 0.5) * np.log(z) - z + 0.5 * math.log(2 * math.pi) + series - shift


def _normalize(log_weights: np.ndarray) -> np.ndarray:
    w = np.exp(log_weights - np.max(log_weights))
    return w / w.sum()
