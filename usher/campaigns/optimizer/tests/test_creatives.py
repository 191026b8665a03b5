"""Creative A/B tests: a Bayesian probability with a minimum sample, not the clock."""

from __future__ import annotations

import numpy as np
import pytest

from usher.campaigns.optimizer.creatives import (
    SuiteClicks,
    judge_creatives,
    relative_quality,
    suite_clicks,
)
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
    assert verdicts[0].probability_winner_better > 0.85
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
    assert verdicts[0].winner_id == "a"
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


def test_a_variant_is_judged_once_it_has_spent_anything():
    rng = np.random.default_rng(1)
    assert judge_creatives([creative("a", 1000.0, 30), creative("b", 0.0, 0)], rng) == []
    assert len(judge_creatives([creative("a", 0.5, 0), creative("b", 0.8, 0)], rng)) == 1


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


def clicked(cid, spend, clicks, conversions=0, hours=30.0):
    return CreativeState(
        cid, f"creative {cid}", True, spend, conversions, 0.0, hours, clicks=clicks
    )


def test_clicks_reveal_a_far_better_creative_after_a_day_before_any_sale():
    verdicts = judge_creatives(
        [clicked("a", 150.0, 90), clicked("b", 150.0, 35)], np.random.default_rng(1)
    )
    assert verdicts[0].winner_id == "a" and verdicts[0].loser_id == "b"
    assert verdicts[0].decisive


def test_clicks_do_not_decide_before_a_whole_day_nor_on_a_handful_of_clicks():
    rng = np.random.default_rng(1)
    early = judge_creatives(
        [clicked("a", 150.0, 90, hours=20), clicked("b", 150.0, 35, hours=20)], rng
    )
    assert not early[0].decisive
    few = judge_creatives([clicked("a", 20.0, 30), clicked("b", 20.0, 10)], rng)
    assert not few[0].decisive


def test_a_variant_that_clicks_well_but_sells_badly_loses_once_its_sales_say_so():
    # a: twice the clicks, a quarter of the sales per click; b sells more per money.
    verdicts = judge_creatives(
        [clicked("a", 1000.0, 2000, 10, hours=96), clicked("b", 1000.0, 1000, 40, hours=96)],
        np.random.default_rng(1),
    )
    assert verdicts[0].winner_id == "b" and verdicts[0].loser_id == "a"


def test_without_sales_clicks_rank_the_variants_for_the_history_rescaling():
    quality = relative_quality([clicked("a", 100.0, 80), clicked("b", 100.0, 40)])
    assert quality["a"] / quality["b"] == pytest.approx(2.0, rel=0.1)
    # A variant that never ran is taken at the mean.
    assert relative_quality([clicked("a", 100.0, 80), clicked("c", 0.0, 0)])["c"] == 1.0


def named(cid, content, clicks, spend=40.0, label=None):
    """A variant showing `content`, labelled `label` in its campaign (its id by default)."""
    return CreativeState(
        cid, label or cid, True, spend, 0, 0.0, 48.0, clicks=clicks, content=content
    )


def test_the_suites_other_campaigns_decide_a_test_too_thin_to_decide_alone():
    # Ten small campaigns run the same two variants; each alone has a handful of clicks.
    suite = [[named(f"{k}a", "video", 16), named(f"{k}b", "poster", 9)] for k in range(10)]
    rng = np.random.default_rng(1)
    alone = judge_creatives(suite[0], rng)
    assert alone[0].winner_id == "0a" and not alone[0].decisive
    pooled = judge_creatives(suite[0], rng, suite_clicks(suite)[0])
    assert pooled[0].winner_id == "0a" and pooled[0].decisive


def test_suite_clicks_leave_out_the_campaign_itself_and_single_variant_campaigns():
    suite = [
        [named("1a", "video", 20), named("1b", "poster", 10)],
        [named("2a", "video", 30), named("2b", "poster", 30)],
        [named("3a", "poster", 50)],  # alone: says nothing about how it compares
    ]
    elsewhere = suite_clicks(suite)
    assert elsewhere[0]["video"].observed == 30 and elsewhere[0]["video"].expected == 30
    assert elsewhere[1]["poster"].observed == 10 and elsewhere[1]["poster"].expected == 15
    assert elsewhere[2]["poster"].observed == 40


def test_variants_sharing_a_label_but_showing_other_ads_lend_each_other_no_clicks():
    # Each campaign's "A" and "B" are other ads: Google's A clicks best, Meta's A worst.
    google = [
        named("ga", "search ad a", 1000, label="A"),
        named("gb", "search ad b", 500, label="B"),
    ]
    meta = [named("ma", "teaser", 9, label="A"), named("mb", "backstage clip", 16, label="B")]
    elsewhere = suite_clicks([google, meta])[1]
    nothing = SuiteClicks(0.0, 0.0)
    assert elsewhere.get("teaser", nothing) == nothing == elsewhere.get("backstage clip", nothing)
    alone = judge_creatives(meta, np.random.default_rng(1))
    assert judge_creatives(meta, np.random.default_rng(1), elsewhere) == alone
    same_ads = [named("ma", "search ad a", 9, label="A"), named("mb", "search ad b", 16, label="B")]
    assert suite_clicks([google, same_ads])[1]["search ad a"].observed == 1000


def test_variants_without_content_are_pooled_with_nothing():
    suite = [[named(f"{k}a", "", 16), named(f"{k}b", "", 9)] for k in range(10)]
    assert suite_clicks(suite) == [{} for _ in range(10)]
