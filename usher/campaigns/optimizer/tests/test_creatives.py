"""Creative A/B tests: a Bayesian probability with a minimum sample, not the clock."""

from __future__ import annotations

import numpy as np
import pytest

from usher.campaigns.optimizer import creatives
from usher.campaigns.optimizer.creatives import (
    RatePosterior,
    SuiteClicks,
    judge_creatives,
    rate_posterior,
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


# The tests below were added for the mutation run of issue #16 (docs/mutation.md).


def test_draws_follow_the_posterior_whose_mean_ranks_the_variants():
    # Few clicks (a wide click factor), many sales per click (a narrow sales factor):
    # the draws' mean and spread show whether each factor is drawn at its own shape and
    # rate, per draw, and multiplied.
    posterior = RatePosterior(
        click_shape=np.array([4.0, 9.0]),
        click_rate=np.array([2.0, 3.0]),
        sale_shape=np.array([[400.0], [100.0]]),
        sale_rate=np.array([[800.0], [50.0]]),
        sale_weight=np.ones((2, 1)),
    )
    draws = posterior.draws(np.random.default_rng(1), 40_000)
    assert draws.shape == (2, 40_000)
    assert posterior.mean() == pytest.approx([4 / 2 * 400 / 800, 9 / 3 * 100 / 50])
    assert draws.mean(axis=1) == pytest.approx(posterior.mean(), rel=0.02)
    # A product of independent Gammas: CV^2 = (1 + 1/a)(1 + 1/b) - 1.
    expected_cv = np.sqrt((1 + 1 / np.array([4.0, 9.0])) * (1 + 1 / np.array([400.0, 100.0])) - 1)
    assert draws.std(axis=1) / draws.mean(axis=1) == pytest.approx(expected_cv, rel=0.05)
    without_clicks = RatePosterior(
        None, None, np.array([[400.0]]), np.array([[800.0]]), np.ones((1, 1))
    )
    sales_only = without_clicks.draws(np.random.default_rng(1), 40_000)
    assert sales_only.mean() == pytest.approx(0.5, rel=0.02)
    assert without_clicks.mean() == pytest.approx([0.5])
    # A mixture: a quarter of the draws from a component of mean 1, the rest of mean 3.
    mixed = RatePosterior(
        None, None, np.array([[100.0, 900.0]]), np.array([[100.0, 300.0]]), np.array([[0.25, 0.75]])
    )
    draws = mixed.draws(np.random.default_rng(1), 40_000)[0]
    assert mixed.mean() == pytest.approx([2.5])
    assert draws.mean() == pytest.approx(2.5, rel=0.02)
    assert np.mean(draws < 2.0) == pytest.approx(0.25, abs=0.01)


def test_sales_per_click_are_alike_until_a_variants_own_sales_set_it_apart():
    """With no sales the variants are "alike" as the prior says; a variant selling a
    quarter as much per click as the other, over dozens of sales, is "apart"."""
    quiet = rate_posterior([clicked("a", 100.0, 200), clicked("b", 100.0, 100)])
    assert quiet.sale_weight[:, 0] == pytest.approx([creatives.ALIKE_PRIOR_WEIGHT] * 2, rel=0.01)
    assert quiet.mean()[0] / quiet.mean()[1] == pytest.approx(2.0, rel=0.05)
    bait = rate_posterior(
        [clicked("a", 1000.0, 2000, 10, hours=96), clicked("b", 1000.0, 1000, 40, hours=96)]
    )
    assert (bait.sale_weight[:, 1] > 0.9).all()
    assert bait.mean()[1] > bait.mean()[0]


def test_equal_sales_per_money_on_unequal_spends_is_no_verdict():
    # b has spent a quarter of a's money and sold a quarter as much: the same rate.
    verdicts = judge_creatives(
        [creative("a", 2000.0, 40), creative("b", 500.0, 10)], np.random.default_rng(1)
    )
    assert 0.3 < verdicts[0].probability_winner_better < 0.7
    assert not verdicts[0].decisive


def test_a_better_creative_listed_second_is_the_winner_with_its_rates():
    # b sells and clicks twice as well per unit of money as a.
    verdicts = judge_creatives(
        [
            clicked("a", 1000.0, 1000, 20, hours=72),
            clicked("b", 1000.0, 2000, 40, hours=72),
        ],
        np.random.default_rng(1),
    )
    assert verdicts[0].winner_id == "b" and verdicts[0].loser_id == "a"
    assert verdicts[0].decisive
    assert verdicts[0].probability_winner_better > 0.99
    # The rates are conversions per unit of money, shrunk toward the campaign's.
    assert verdicts[0].winner_rate == pytest.approx(40 / 1000, rel=0.15)
    assert verdicts[0].loser_rate == pytest.approx(20 / 1000, rel=0.15)
    assert verdicts[0].winner_rate > verdicts[0].loser_rate


def test_clicks_decide_from_exactly_a_day_and_twenty_clicks():
    verdicts = judge_creatives(
        [clicked("a", 100.0, 80, hours=24.0), clicked("b", 100.0, 20, hours=24.0)],
        np.random.default_rng(1),
    )
    assert verdicts[0].loser_id == "b" and verdicts[0].decisive


def test_same_clicks_per_money_on_unequal_spends_is_the_same_quality():
    # The click factor is per unit of money: b spent twice as much for twice the clicks.
    quality = relative_quality([clicked("a", 100.0, 80), clicked("b", 200.0, 160)])
    assert quality["a"] == pytest.approx(1.0, abs=0.02)
    assert quality["b"] == pytest.approx(1.0, abs=0.02)


def test_variants_that_spent_under_one_unit_of_money_are_ranked_by_their_clicks():
    # A few cents each; a clicked four times as often per unit of money as b.
    quality = relative_quality([clicked("a", 0.2, 8), clicked("b", 0.4, 4)])
    assert quality["a"] / quality["b"] > 1.8


def test_a_single_click_or_a_single_sale_already_ranks_the_variants():
    one_click = relative_quality([clicked("a", 100.0, 1), clicked("b", 100.0, 0)])
    assert one_click["a"] > 1.0 > one_click["b"]
    one_sale = relative_quality([creative("a", 100.0, 1), creative("b", 100.0, 0)])
    assert one_sale["a"] > 1.0 > one_sale["b"]
    assert rate_posterior([clicked("a", 100.0, 1), clicked("b", 100.0, 0)]).uses_clicks


def test_a_variant_that_has_barely_spent_is_taken_at_the_campaigns_click_rate():
    quality = relative_quality([clicked("a", 1000.0, 500), clicked("b", 0.01, 0)])
    assert quality["a"] == pytest.approx(1.0, abs=0.05)
    assert quality["b"] == pytest.approx(1.0, abs=0.05)


def test_a_variant_without_clicks_of_its_own_is_taken_at_the_campaigns_sales_per_click():
    # The campaign: 3 sales from 9 clicks, a pooled (3 + 1) / (9 + 1) sales per click.
    posterior = rate_posterior([clicked("a", 10.0, 9, conversions=3), clicked("b", 10.0, 0)])
    sales_per_click = posterior.sale_shape / posterior.sale_rate
    assert sales_per_click[1] == pytest.approx((3 + 1) / (9 + 1))


def test_without_clicks_a_variant_that_has_not_spent_is_taken_at_the_campaigns_sales_per_money():
    # The campaign: 2 sales for 0.5 of money, a pooled (2 + 1) / 0.5 sales per unit of money.
    posterior = rate_posterior([creative("a", 0.5, 2), creative("b", 0.0, 0)])
    assert not posterior.uses_clicks
    assert posterior.mean()[1] == pytest.approx((2 + 1) / 0.5)


def test_clicks_without_any_spend_fall_back_to_sales_per_money():
    posterior = rate_posterior([clicked("a", 0.0, 5, conversions=1), clicked("b", 0.0, 3)])
    assert not posterior.uses_clicks
    assert np.all(np.isfinite(posterior.mean()))


def test_suite_clicks_count_variants_that_spent_under_one_unit_and_a_single_click():
    cheap = [named("1a", "video", 3, spend=0.5), named("1b", "poster", 2, spend=0.5)]
    one_click = [named("2a", "video", 1), named("2b", "poster", 0)]
    other = [named("3a", "video", 10), named("3b", "poster", 10)]
    elsewhere = suite_clicks([cheap, one_click, other])[2]
    assert elsewhere["video"] == SuiteClicks(4.0, 2.5 + 0.5)


def test_suite_clicks_ignore_a_campaign_whose_second_variant_never_spent():
    # A "test" whose second variant never spent is no test: it says nothing elsewhere.
    untested = [named("1a", "video", 30), named("1b", "poster", 0, spend=0.0)]
    other = [named("3a", "video", 10), named("3b", "poster", 10)]
    nothing = SuiteClicks(0.0, 0.0)
    assert suite_clicks([untested, other])[1] == {"video": nothing, "poster": nothing}


def test_suite_clicks_of_an_ad_the_campaign_does_not_show_are_all_of_its_clicks():
    suite = [
        [named("1a", "video", 20), named("1b", "poster", 10)],
        [named("2a", "video", 30), named("2b", "poster", 30)],
        [named("3a", "teaser", 5), named("3b", "poster", 5)],
    ]
    # Campaign 3 shows no "video": it sees both others' video clicks and expectations.
    assert suite_clicks(suite)[2]["video"] == SuiteClicks(50.0, 15.0 + 30.0)
