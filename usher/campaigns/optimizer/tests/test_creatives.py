"""Creative A/B tests: a Bayesian probability with a minimum sample, not the clock."""

from __future__ import annotations

import numpy as np
import pytest

from usher.campaigns.optimizer.creatives import judge_creatives, relative_quality
from usher.campaigns.optimizer.state import CreativeState


def creative(cid, spend, conversions, hours=72.0, active=True):
    return CreativeState(cid, f"creative {cid}", active, spend, conversions, 0.0, hours)


def test_a_clearly_losing_creative_is_paused_once_both_sold_enough():
    verdicts = judge_creatives(
        [creative("a", 1000.0, 30), creative("b", 1000.0, 10)], np.random.default_rng(1)
    )
    assert len(verdicts) == 1
    assert verdicts[0].loser_id == "b" and verdicts[0].winner_id == "a"
    assert verdicts[0].decisive
    assert verdicts[0].probability_winner_better > 0.99


def test_a_big_gap_on_a_small_sample_is_not_decisive():
    verdicts = judge_creatives(
        [creative("a", 200.0, 6), creative("b", 200.0, 1)], np.random.default_rng(1)
    )
    assert verdicts[0].probability_winner_better > 0.9
    assert not verdicts[0].decisive


def test_the_test_does_not_decide_before_48_hours_live():
    verdicts = judge_creatives(
        [creative("a", 1000.0, 40, hours=30), creative("b", 1000.0, 10, hours=30)],
        np.random.default_rng(1),
    )
    assert not verdicts[0].decisive


def test_a_small_gap_stays_undecided_even_with_data():
    verdicts = judge_creatives(
        [creative("a", 2000.0, 33), creative("b", 2000.0, 30)], np.random.default_rng(1)
    )
    assert 0.5 < verdicts[0].probability_winner_better < 0.9
    assert not verdicts[0].decisive


def test_paused_variants_and_single_creatives_are_not_tested():
    rng = np.random.default_rng(1)
    assert judge_creatives([creative("a", 1000.0, 30)], rng) == []
    assert (
        judge_creatives([creative("a", 1000.0, 30), creative("b", 900.0, 1, active=False)], rng)
        == []
    )


def test_relative_quality_ranks_creatives_and_shrinks_thin_ones_toward_the_mean():
    quality = relative_quality([creative("a", 1000.0, 40), creative("b", 1000.0, 20)])
    assert quality["a"] > 1.0 > quality["b"]
    # Shrinkage: the raw ratio is 2, the estimate is less extreme.
    assert quality["a"] / quality["b"] < 2.0
    assert relative_quality([creative("a", 0.0, 0)]) == {"a": 1.0}


def test_the_leader_is_the_best_rate_wherever_it_is_listed_and_rates_are_per_money():
    verdicts = judge_creatives(
        [creative("a", 1000.0, 20), creative("b", 100.0, 10), creative("c", 1000.0, 1)],
        np.random.default_rng(1),
    )
    assert [(v.winner_id, v.loser_id) for v in verdicts] == [("b", "a"), ("b", "c")]
    # (1 + conversions) / spend: the posterior mean of conversions per unit of money.
    assert verdicts[0].winner_rate == pytest.approx(11 / 100)
    assert [v.loser_rate for v in verdicts] == pytest.approx([21 / 1000, 2 / 1000])
    # b sells five times as well per unit of money: its draws are scaled by its spend.
    assert all(v.probability_winner_better > 0.99 for v in verdicts)


def test_the_probability_follows_the_gamma_posteriors():
    # No sale on 100 and on 300: exponential posteriors of rates 100 and 300, so
    # P(the first's rate is higher) = 300 / (100 + 300).
    (verdict,) = judge_creatives(
        [creative("a", 100.0, 0), creative("b", 300.0, 0)], np.random.default_rng(7)
    )
    assert verdict.winner_id == "a"
    assert abs(verdict.probability_winner_better - 0.75) < 0.04


def test_a_variant_is_judged_once_it_has_spent_anything():
    rng = np.random.default_rng(1)
    assert judge_creatives([creative("a", 1000.0, 30), creative("b", 0.0, 0)], rng) == []
    assert len(judge_creatives([creative("a", 0.5, 0), creative("b", 0.8, 0)], rng)) == 1


def test_the_platforms_counts_can_judge_instead_of_usher_attribution():
    both = [
        CreativeState("a", "a", True, 1000.0, 30, 5.0, 72.0),
        CreativeState("b", "b", True, 1000.0, 10, 40.0, 72.0),
    ]
    (verdict,) = judge_creatives(both, np.random.default_rng(1), use_platform_counts=True)
    assert (verdict.winner_id, verdict.winner_rate) == ("b", pytest.approx(41 / 1000))


def test_relative_quality_is_each_shrunk_rate_over_their_mean():
    # Pooled 50 / 1500; a prior of 5 conversions adds 5 / (1/30) = 150 to each spend:
    # rates 45 / 1150 and 15 / 650, each over their mean.
    quality = relative_quality([creative("a", 1000.0, 40), creative("b", 500.0, 10)])
    rates = {"a": 45 / 1150, "b": 15 / 650}
    mean = sum(rates.values()) / 2
    assert quality == pytest.approx({key: rate / mean for key, rate in rates.items()})
    small = relative_quality([creative("a", 0.5, 1), creative("b", 0.3, 0)])
    assert small["a"] > 1.0 > small["b"]  # small spends and one sale still rank


def test_relative_quality_without_both_spend_and_sales_is_neutral():
    spend_only = [creative("a", 1000.0, 0), creative("b", 500.0, 0)]
    sales_only = [creative("a", 0.0, 3), creative("b", 0.0, 1)]
    assert relative_quality(spend_only) == {"a": 1.0, "b": 1.0}
    assert relative_quality(sales_only) == {"a": 1.0, "b": 1.0}


def test_a_test_decides_from_exactly_twelve_sales_and_48_hours():
    verdicts = judge_creatives(
        [creative("a", 1000.0, 11, hours=48.0), creative("b", 1000.0, 1, hours=48.0)],
        np.random.default_rng(1),
    )
    assert verdicts[0].loser_id == "b" and verdicts[0].decisive
