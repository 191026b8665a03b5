"""The learner recovers response curves drawn from the market's model, and adapts to change."""

from __future__ import annotations

import math

import numpy as np
import pytest

from usher.campaigns.optimizer.learner import (
    A_PRIOR_SHAPE,
    B_GRID_POINTS,
    B_GRID_RATIOS,
    B_PRIOR_CENTER_RATIO,
    B_PRIOR_LOG_SD,
    CHANGE_FORGET_WEIGHT,
    DAILY_DISCOUNT,
    CurvePosterior,
    DailyObservation,
    _normalize,
    b_grid_for,
    fit_curve,
    lgamma_array,
)


def synthetic_days(rng, a, b, spends, demand=None, change=None):
    """Days of a campaign whose conversions are Poisson(a * demand * (1 - exp(-S/b))).

    ``change`` = (day, a multiplier) applies from that day on, like a scenario's change point.
    """
    demand = np.ones(len(spends)) if demand is None else demand
    days = []
    for d, spend in enumerate(spends):
        a_now = a * (change[1] if change and d >= change[0] else 1.0)
        mean = a_now * demand[d] * -np.expm1(-spend / b)
        days.append(DailyObservation(float(spend), float(rng.poisson(mean)), float(demand[d])))
    return days


def test_learner_recovers_a_curve_from_varied_spend():
    rng = np.random.default_rng(3)
    spends = rng.uniform(50, 900, size=60)
    posterior = fit_curve(
        synthetic_days(rng, 20.0, 300.0, spends), spend_scale=300.0, prior_a_mean=5.0
    )
    assert 300.0 / 1.5 < posterior.mean_b < 300.0 * 1.5
    # The curve itself is what matters: expected conversions at 200 and 600 spend.
    for spend in (200.0, 600.0):
        truth = 20.0 * -np.expm1(-spend / 300.0)
        assert abs(posterior.expected_conversions(spend) - truth) < 0.15 * truth


def test_learner_uses_the_demand_pattern_instead_of_reading_it_as_noise():
    rng = np.random.default_rng(5)
    spends = rng.uniform(100, 500, size=40)
    demand = 1.0 + 2.0 * (np.arange(40) / 39) ** 2
    posterior = fit_curve(
        synthetic_days(rng, 10.0, 200.0, spends, demand), spend_scale=250.0, prior_a_mean=3.0
    )
    truth = 10.0 * -np.expm1(-300.0 / 200.0)
    assert abs(posterior.expected_conversions(300.0) - truth) < 0.2 * truth


def test_uncertainty_shrinks_as_data_grow():
    rng = np.random.default_rng(7)
    spends = rng.uniform(100, 600, size=60)
    days = synthetic_days(rng, 12.0, 250.0, spends)
    few = fit_curve(days[:4], 300.0, 4.0).sample(np.random.default_rng(1), 2000)
    many = fit_curve(days, 300.0, 4.0).sample(np.random.default_rng(1), 2000)

    def spread(draws):
        a, b = draws
        conversions = a * -np.expm1(-300.0 / b)
        return np.quantile(conversions, 0.9) - np.quantile(conversions, 0.1)

    assert spread(many) < 0.5 * spread(few)


def test_without_data_the_posterior_is_the_prior_for_every_campaign_alike():
    first = fit_curve([], spend_scale=100.0, prior_a_mean=2.0)
    second = fit_curve([], spend_scale=100.0, prior_a_mean=2.0)
    assert first.mean_a == second.mean_a == 2.0
    assert np.allclose(first.weights, second.weights)


def test_learner_detects_a_change_point_and_follows_the_new_rate():
    rng = np.random.default_rng(11)
    spends = np.full(24, 400.0) * rng.uniform(0.8, 1.2, size=24)
    days = synthetic_days(rng, 30.0, 300.0, spends, change=(14, 0.4))
    posterior = fit_curve(days, 300.0, 10.0)
    assert posterior.change_day is not None and 12 <= posterior.change_day <= 16
    after = 0.4 * 30.0 * -np.expm1(-400.0 / 300.0)
    blind = fit_curve(days, 300.0, 10.0, detect_changes=False)
    assert abs(posterior.expected_conversions(400.0) - after) < abs(
        blind.expected_conversions(400.0) - after
    )
    assert abs(posterior.expected_conversions(400.0) - after) < 0.3 * after


def test_learner_sees_no_change_in_a_stationary_market():
    false_alarms = 0
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        spends = rng.uniform(200, 500, size=21)
        false_alarms += (
            fit_curve(synthetic_days(rng, 8.0, 300.0, spends), 300.0, 3.0).change_day is not None
        )
    assert false_alarms <= 2


# The posterior checked against the model computed another way: for each b of the grid,
# the Gamma prior on a times the Poisson likelihood of the weighted days, integrated over
# a numerically (not through the conjugate update the learner uses).


def numeric_posterior(observations, b_grid, spend_scale, prior_a_mean, day_weight):
    """Weights over the b grid and the posterior mean of a at each b, by quadrature."""
    a = np.geomspace(1e-4, 1e4, 20001)
    alpha0, beta0 = A_PRIOR_SHAPE, A_PRIOR_SHAPE / prior_a_mean
    log_prior_a = (alpha0 - 1) * np.log(a) - beta0 * a
    log_evidence, mean_a = [], []
    for b in b_grid:
        log_like = np.zeros_like(a)
        for o, w in zip(observations, day_weight, strict=True):
            mean = a * o.exposure * (1 - math.exp(-o.spend / b))
            log_like += w * (o.conversions * np.log(mean) - mean)
        log_joint = log_prior_a + log_like + np.log(a)  # d(log a) = da / a
        peak = log_joint.max()
        density = np.exp(log_joint - peak)
        mass = np.trapezoid(density, np.log(a))
        log_evidence.append(peak + math.log(mass))
        mean_a.append(np.trapezoid(density * a, np.log(a)) / mass)
    log_prior_b = (
        -0.5 * (np.log(b_grid / (B_PRIOR_CENTER_RATIO * spend_scale)) / B_PRIOR_LOG_SD) ** 2
    )
    log_post = log_prior_b + np.array(log_evidence)
    weights = np.exp(log_post - log_post.max())
    return weights / weights.sum(), np.array(mean_a)


OBSERVED = [
    DailyObservation(120.0, 3.0, 1.0),
    DailyObservation(400.0, 7.0, 1.4),
    DailyObservation(60.0, 1.0, 0.8),
    DailyObservation(250.0, 6.0, 1.0),
]


def test_the_posterior_is_the_models_exactly_with_old_days_fading():
    posterior = fit_curve(OBSERVED, spend_scale=200.0, prior_a_mean=4.0, detect_changes=False)
    assert posterior.b_grid == pytest.approx(200.0 * B_GRID_RATIOS)
    day_weight = DAILY_DISCOUNT ** np.arange(len(OBSERVED))[::-1]
    weights, mean_a = numeric_posterior(OBSERVED, posterior.b_grid, 200.0, 4.0, day_weight)
    assert posterior.weights == pytest.approx(weights, rel=1e-4, abs=1e-9)
    assert posterior.shape / posterior.rate == pytest.approx(mean_a, rel=1e-4)
    assert posterior.mean_a == pytest.approx(float(np.sum(weights * mean_a)), rel=1e-4)
    assert posterior.change_day is None


def test_a_day_without_any_saturation_counts_as_no_information():
    # Spend 0: the day's mean is 0 whatever a and b, and its 0 sales say nothing.
    with_idle_day = [*OBSERVED, DailyObservation(0.0, 0.0, 1.0)]
    posterior = fit_curve(with_idle_day, 200.0, 4.0, detect_changes=False)
    day_weight = DAILY_DISCOUNT ** np.arange(len(with_idle_day))[::-1]
    weights, _ = numeric_posterior(OBSERVED, posterior.b_grid, 200.0, 4.0, day_weight[:-1])
    assert posterior.weights == pytest.approx(weights, rel=1e-4, abs=1e-9)
    assert np.all(np.isfinite(posterior.rate))


def test_without_data_the_posterior_is_the_priors():
    posterior = fit_curve([], spend_scale=50.0, prior_a_mean=3.0)
    log_prior = -0.5 * (np.log(B_GRID_RATIOS / B_PRIOR_CENTER_RATIO) / B_PRIOR_LOG_SD) ** 2
    expected = np.exp(log_prior) / np.exp(log_prior).sum()
    assert posterior.weights == pytest.approx(expected)
    assert posterior.shape == pytest.approx(np.full(B_GRID_POINTS, A_PRIOR_SHAPE))
    assert posterior.rate == pytest.approx(np.full(B_GRID_POINTS, A_PRIOR_SHAPE / 3.0))
    assert posterior.b_grid == pytest.approx(50.0 * B_GRID_RATIOS)
    assert posterior.change_day is None


def test_a_campaign_that_never_spent_still_gets_a_grid():
    assert b_grid_for(0.0) == pytest.approx(1e-6 * B_GRID_RATIOS)
    assert b_grid_for(-5.0) == pytest.approx(1e-6 * B_GRID_RATIOS)
    assert b_grid_for(2.0) == pytest.approx(2.0 * B_GRID_RATIOS)
    prior = fit_curve([], spend_scale=10.0, prior_a_mean=0.0)
    assert np.all(np.isfinite(prior.rate)) and prior.rate[0] > 1e6


def a_posterior():
    return CurvePosterior(
        b_grid=np.array([100.0, 400.0]),
        weights=np.array([0.25, 0.75]),
        shape=np.array([6.0, 6.0]),
        rate=np.array([2.0, 3.0]),
    )


def test_the_posterior_means_and_curves_are_its_mixture_over_the_grid():
    posterior = a_posterior()
    # E[a | b] = shape / rate: 3 at b = 100, 2 at b = 400.
    assert posterior.mean_a == pytest.approx(0.25 * 3 + 0.75 * 2)
    assert posterior.mean_b == pytest.approx(math.exp(0.25 * math.log(100) + 0.75 * math.log(400)))
    assert posterior.map_index == 1
    at = 0.25 * 3 * (1 - math.exp(-200 / 100)) + 0.75 * 2 * (1 - math.exp(-200 / 400))
    assert posterior.expected_conversions(200.0) == pytest.approx(at)
    assert posterior.expected_conversions(200.0, exposure=2.0) == pytest.approx(2 * at)
    assert posterior.expected_conversions(np.array([200.0, 200.0])) == pytest.approx([at, at])
    assert isinstance(posterior.expected_conversions(200.0), float)
    slope = 0.25 * 3 * math.exp(-2) / 100 + 0.75 * 2 * math.exp(-0.5) / 400
    assert posterior.expected_marginal(200.0) == pytest.approx(slope)
    assert posterior.expected_marginal(200.0, exposure=3.0) == pytest.approx(3 * slope)
    assert posterior.expected_marginal(np.array([200.0])) == pytest.approx([slope])
    assert isinstance(posterior.expected_marginal(200.0), float)
    # Integer spends are money, not floored.
    assert posterior.expected_conversions(np.array([150])) == pytest.approx(
        [0.25 * 3 * (1 - math.exp(-1.5)) + 0.75 * 2 * (1 - math.exp(-150 / 400))]
    )


def test_draws_pick_b_by_its_weight_and_a_from_its_gamma():
    a, b = a_posterior().sample(np.random.default_rng(4), 40000)
    assert len(a) == len(b) == 40000
    at_low = b == 100.0
    assert at_low.mean() == pytest.approx(0.25, abs=0.01)
    # Gamma(6, rate 2): mean 3, variance 1.5; Gamma(6, rate 3): mean 2, variance 2/3.
    assert a[at_low].mean() == pytest.approx(3.0, rel=0.02)
    assert a[~at_low].mean() == pytest.approx(2.0, rel=0.02)
    assert a[at_low].var() == pytest.approx(1.5, rel=0.05)


def test_a_credible_bound_of_a_is_its_quantile():
    posterior = a_posterior()
    low = posterior.credible_a(0.05, np.random.default_rng(1), n=20000)
    high = posterior.credible_a(0.95, np.random.default_rng(1), n=20000)
    a, _ = posterior.sample(np.random.default_rng(2), 20000)
    assert low == pytest.approx(np.quantile(a, 0.05), rel=0.05)
    assert high == pytest.approx(np.quantile(a, 0.95), rel=0.05)
    assert posterior.credible_a(0.5, np.random.default_rng(3)) == pytest.approx(
        np.quantile(posterior.sample(np.random.default_rng(3), 400)[0], 0.5)
    )


def test_log_gamma_matches_the_standard_librarys():
    xs = np.array([1.0, 1.5, 2.0, 3.7, 10.0, 55.5, 1234.0])
    assert lgamma_array(xs) == pytest.approx([math.lgamma(x) for x in xs], rel=1e-12, abs=1e-10)
    assert float(lgamma_array(4.0)) == pytest.approx(math.log(6), abs=1e-10)
    # Whole numbers too (sales counts), not only floats.
    assert lgamma_array(np.array([4, 10])) == pytest.approx(
        [math.log(6), math.lgamma(10)], abs=1e-10
    )


def test_normalized_weights_sum_to_one_in_the_ratio_of_their_exponentials():
    weights = _normalize(np.array([1000.0, 1000.0 + math.log(3)]))
    assert weights == pytest.approx([0.25, 0.75])


# Change points. A spend far past every b of the grid saturates the curve (x = exposure
# for every b), so the days' sales are Poisson(a) and only the counts decide.


def saturated(counts):
    return [DailyObservation(1e12, float(c), 1.0) for c in counts]


def log_marginal(counts, prior_a_mean):
    """log of the sales' probability under one rate a ~ Gamma prior, by quadrature."""
    a = np.geomspace(1e-4, 1e4, 40001)
    alpha0, beta0 = A_PRIOR_SHAPE, A_PRIOR_SHAPE / prior_a_mean
    log_prior = (
        alpha0 * math.log(beta0) - math.lgamma(alpha0) + (alpha0 - 1) * np.log(a) - beta0 * a
    )
    log_like = sum(c * np.log(a) - a - math.lgamma(c + 1) for c in counts)
    log_joint = log_prior + log_like + np.log(a)
    peak = log_joint.max()
    return peak + math.log(np.trapezoid(np.exp(log_joint - peak), np.log(a)))


def bayes_factor(counts, split, prior_a_mean):
    """log Bayes factor of "the rate changed at `split`" against one rate throughout."""
    return (
        log_marginal(counts[:split], prior_a_mean)
        + log_marginal(counts[split:], prior_a_mean)
        - log_marginal(counts, prior_a_mean)
    )


def test_a_change_is_placed_on_the_day_the_rate_moved():
    counts = [10, 12, 9, 11, 10, 10, 30, 28, 33, 31, 29]
    posterior = fit_curve(saturated(counts), spend_scale=1.0, prior_a_mean=10.0)
    assert posterior.change_day == 6


def test_a_change_needs_three_days_before_it_and_two_after():
    # Five days: the only split allowed is after the third.
    assert fit_curve(saturated([5, 5, 5, 60, 60]), 1.0, 5.0).change_day == 3
    assert fit_curve(saturated([5, 5, 5, 5, 60, 60]), 1.0, 5.0).change_day == 4
    # A jump on the last day alone is placed two days before the end; one after two
    # days, a day later than it happened.
    assert fit_curve(saturated([5, 5, 5, 5, 5, 90]), 1.0, 5.0).change_day == 4
    assert fit_curve(saturated([5, 5, 60, 60, 60, 60]), 1.0, 5.0).change_day == 3
    # Four days are too few to tell.
    assert fit_curve(saturated([5, 5, 80, 80]), 1.0, 5.0).change_day is None


def test_a_change_is_accepted_past_a_bayes_factor_of_e_to_the_fourth():
    # Sales of 10 a day, then about 18 (de-biased platform counts are fractional): a
    # factor of 3.96, then 4.04.
    for after, detected in ((18.12, False), (18.19, True)):
        counts = [10] * 6 + [after] * 4
        factor = bayes_factor(counts, 6, 10.0)
        assert bool(factor > 4.0) is detected and abs(factor - 4.0) < 0.05, factor
        found = fit_curve(saturated(counts), 1.0, 10.0).change_day
        assert found == (6 if detected else None)


def test_more_sales_from_more_spend_are_no_change_in_the_rate():
    # Spend rose twelvefold; the sales follow the curve (a = 20, b = 300) exactly. Read
    # through a saturated curve instead of the one the data fit, they would jump.
    spends = [50.0] * 8 + [600.0] * 8
    days = [DailyObservation(s, round(20.0 * -math.expm1(-s / 300.0)), 1.0) for s in spends]
    assert [d.conversions for d in days] == [3] * 8 + [17] * 8
    assert fit_curve(days, spend_scale=300.0, prior_a_mean=10.0).change_day is None


def test_days_before_a_change_keep_a_small_weight():
    counts = [10, 12, 9, 11, 10, 10, 30, 28, 33, 31, 29]
    posterior = fit_curve(saturated(counts), spend_scale=1.0, prior_a_mean=10.0)
    faded = DAILY_DISCOUNT ** np.arange(len(counts))[::-1]
    faded[:6] *= CHANGE_FORGET_WEIGHT
    weights, mean_a = numeric_posterior(saturated(counts), posterior.b_grid, 1.0, 10.0, faded)
    assert posterior.weights == pytest.approx(weights, rel=1e-4, abs=1e-9)
    assert posterior.shape / posterior.rate == pytest.approx(mean_a, rel=1e-4)
