"""The learner recovers response curves drawn from the market's model, and adapts to change."""

from __future__ import annotations

import numpy as np

from usher.campaigns.optimizer.learner import DailyObservation, fit_curve


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
