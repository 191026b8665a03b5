"""Campaigns are judged on Usher's attributed sales; platform counts only where those are thin."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from usher.campaigns.optimizer.creatives import relative_quality
from usher.campaigns.optimizer.demand import estimate_demand
from usher.campaigns.optimizer.evidence import gather_evidence, overcount_ratios
from usher.campaigns.optimizer.state import CampaignState, CreativeState, DayMetrics


def campaign(cid, platform, days):
    return CampaignState(cid, platform, "prospecting", True, Decimal("100"), tuple(days))


def day(d, attributed, reported, complete=True):
    return DayMetrics(
        d,
        100.0,
        100.0,
        attributed,
        attributed * 200.0,
        attributed * 2.0,
        reported,
        reported * 200.0,
        complete,
    )


def test_attributed_sales_are_used_and_platform_over_counting_is_measured():
    honest = campaign("a", "tiktok", [day(d, 4, 6.0) for d in range(5)])
    evidence = gather_evidence([honest])[0]
    assert not evidence.uses_platform_counts
    assert evidence.conversions.tolist() == [4.0] * 5
    # 30 reported for 20 attributed, shrunk toward 1 by 10 pseudo-sales: 40 / 30.
    assert overcount_ratios([honest])["tiktok"] == pytest.approx(40 / 30)


def test_platform_counts_de_biased_stand_in_where_attribution_sees_too_little():
    tracked = campaign("a", "meta", [day(d, 5, 6.5) for d in range(6)])
    untracked = campaign("b", "meta", [day(d, 0, 6.5) for d in range(6)])
    evidence = {e.campaign_id: e for e in gather_evidence([tracked, untracked])}
    assert not evidence["a"].uses_platform_counts
    assert evidence["b"].uses_platform_counts
    ratio = overcount_ratios([tracked, untracked])["meta"]
    assert evidence["b"].conversions == pytest.approx(np.full(6, 6.5 / ratio))
    # Its value per sale comes from the de-biased platform revenue (200 a sale here).
    assert evidence["b"].value_per_conversion == pytest.approx(200.0, rel=0.01)


def test_days_not_fully_reported_stay_out_of_the_evidence():
    evidence = gather_evidence(
        [campaign("a", "meta", [day(0, 3, 3.0), day(1, 0, 0.0, complete=False)])]
    )[0]
    assert evidence.days.tolist() == [0]


def test_the_demand_ramp_is_recovered_from_pooled_daily_sales():
    rng = np.random.default_rng(2)
    days = np.arange(20)
    truth = 1.0 + 2.0 * (days / 29) ** 2
    base = np.full(20, 20.0)
    sales = rng.poisson(base * truth).astype(float)
    found = estimate_demand(30, 0, days, sales, base)
    assert 1.0 < found.ramp < 3.5
    flat = estimate_demand(30, 0, days, rng.poisson(base).astype(float), base)
    assert flat.ramp < found.ramp


def sold(d, sales, revenue, tickets, reported=0.0, reported_revenue=0.0, spend=100.0):
    return DayMetrics(d, spend, 2 * spend, sales, revenue, tickets, reported, reported_revenue)


def test_each_campaigns_value_and_tickets_per_sale_are_shrunk_toward_the_suites():
    # The suite: 10 sales worth 1500 with 30 tickets (150 and 3 a sale); "a" alone sells
    # 2 worth 500 with 2 tickets, so 3 pseudo-sales pull it toward the suite's.
    a = campaign("a", "tiktok", [sold(0, 2, 500.0, 2.0, spend=80.0), sold(1, 0, 0.0, 0.0)])
    b = campaign("b", "tiktok", [sold(0, 8, 1000.0, 28.0)])
    evidence = {e.campaign_id: e for e in gather_evidence([a, b])}
    assert evidence["a"].value_per_conversion == pytest.approx((500 + 3 * 150) / (2 + 3))
    assert evidence["a"].tickets_per_conversion == pytest.approx((2 + 3 * 3) / (2 + 3))
    assert evidence["b"].value_per_conversion == pytest.approx((1000 + 3 * 150) / (8 + 3))
    assert evidence["a"].spend.tolist() == [80.0, 100.0]
    assert evidence["a"].budget.tolist() == [160.0, 200.0]
    assert evidence["a"].days.tolist() == [0, 1]
    assert evidence["a"].conversions.tolist() == [2.0, 0.0]


def test_before_any_sale_every_sale_is_valued_alike_at_one():
    quiet = campaign("a", "tiktok", [sold(0, 0, 0.0, 0.0), sold(1, 0, 0.0, 0.0)])
    evidence = gather_evidence([quiet])[0]
    assert evidence.value_per_conversion == 1.0
    assert evidence.tickets_per_conversion == 1.0


def test_a_campaign_without_a_finished_day_has_empty_evidence():
    new = CampaignState(
        "new",
        "meta",
        "prospecting",
        True,
        Decimal("100"),
        (DayMetrics(0, 10.0, 20.0, 0, 0.0, 0.0, 5.0, 50.0, complete=False),),
    )
    evidence = gather_evidence([new])[0]
    assert len(evidence.days) == len(evidence.conversions) == 0
    assert evidence.total_spend == 0.0
    assert not evidence.uses_platform_counts
    assert evidence.value_per_conversion == 1.0


def test_platform_counts_stand_in_from_three_de_biased_sales_on():
    # The tracked campaign's 3 attributed sales balance 3 reported ones: a ratio of 1.
    for reported, used in ((3.0, True), (2.9, False)):
        untracked = campaign("u", "meta", [sold(0, 0, 0.0, 0.0, reported, reported * 100)])
        tracked = campaign("t", "meta", [DayMetrics(0, 100.0, 100.0, 3)])
        ratio = overcount_ratios([untracked, tracked])["meta"]
        assert ratio == pytest.approx((reported + 10) / 13)
        evidence = gather_evidence([untracked, tracked])[0]
        assert evidence.uses_platform_counts is used


def test_platform_counts_stand_in_below_half_of_what_they_say():
    # Attribution that sees at least half the de-biased sales is trusted.
    for attributed, reported, used in ((2, 4.0, False), (1, 6.0, True)):
        judged = campaign("j", "meta", [sold(0, attributed, 100.0 * attributed, 0.0, reported)])
        balance = campaign("k", "meta", [DayMetrics(0, 100.0, 100.0, round(reported) - attributed)])
        assert overcount_ratios([judged, balance])["meta"] == pytest.approx(1.0)
        evidence = gather_evidence([judged, balance])[0]
        assert evidence.uses_platform_counts is used
        assert evidence.conversions.tolist() == [reported if used else float(attributed)]


def test_a_campaign_with_some_attributed_sales_is_valued_on_them_even_when_counted_by_the_platform():
    # One attributed sale of 100 against 6 reported worth 500 each: counted by the
    # platform (attribution sees too little), valued on the sale Usher saw.
    judged = campaign("j", "meta", [sold(0, 1, 100.0, 1.0, 6.0, 3000.0)])
    balance = campaign("k", "meta", [DayMetrics(0, 100.0, 100.0, 5, 500.0, 5.0)])
    evidence = gather_evidence([judged, balance])[0]
    assert evidence.uses_platform_counts
    pooled_value = 600.0 / 6
    assert evidence.value_per_conversion == pytest.approx((100 + 3 * pooled_value) / (1 + 3))
    # Tickets per sale are the suite's: the platform's sales carry no ticket counts.
    assert evidence.tickets_per_conversion == pytest.approx(1.0)


def test_a_few_platform_sales_neither_count_nor_price_a_campaign():
    # 1 reported sale worth 500 is too little to stand in: no sale, the suite's value.
    judged = campaign("j", "meta", [sold(0, 0, 0.0, 0.0, 1.0, 500.0)])
    seller = campaign("s", "meta", [DayMetrics(0, 100.0, 100.0, 4, 400.0, 8.0)])
    evidence = gather_evidence([judged, seller])[0]
    assert not evidence.uses_platform_counts
    assert evidence.value_per_conversion == pytest.approx(100.0)
    assert evidence.tickets_per_conversion == pytest.approx(2.0)


def test_a_platform_priced_campaign_takes_the_suites_tickets_per_sale():
    untracked = campaign("u", "meta", [sold(d, 0, 0.0, 0.0, 6.0, 6 * 200.0) for d in range(3)])
    tracked = campaign("t", "tiktok", [DayMetrics(0, 100.0, 100.0, 4, 400.0, 12.0)])
    evidence = gather_evidence([untracked, tracked])[0]
    assert evidence.uses_platform_counts
    assert evidence.tickets_per_conversion == pytest.approx(3.0)


def creative(cid, clicks, active=True):
    return CreativeState(cid, cid, active, spend=100.0, clicks=clicks)


def test_days_are_weighed_by_their_creative_mix_against_todays():
    creatives = (creative("x", 400.0), creative("y", 100.0, active=False), creative("z", 250.0))
    quality = relative_quality(creatives)
    assert len(set(quality.values())) == 3
    days = (
        DayMetrics(0, 100.0, 100.0, 1, active_creatives=("x", "y")),
        DayMetrics(1, 100.0, 100.0, 1, active_creatives=("x", "z")),
        DayMetrics(2, 100.0, 100.0, 1, active_creatives=("gone", "y")),
        DayMetrics(3, 100.0, 100.0, 1, active_creatives=()),
    )
    judged = CampaignState("c", "meta", "prospecting", True, Decimal("100"), days, creatives)
    today = (quality["x"] + quality["z"]) / 2
    expected = [
        (quality["x"] + quality["y"]) / 2 / today,
        1.0,
        quality["y"] / today,  # a creative unknown to the campaign counts for nothing
        1.0 / today,  # no creative recorded: an average mix
    ]
    assert gather_evidence([judged])[0].quality == pytest.approx(expected)


def test_a_window_sums_the_days_from_its_first_on():
    days = [sold(d, sales, 0.0, 0.0, spend=10.0 * (d + 1)) for d, sales in enumerate([1, 2, 3, 4])]
    evidence = gather_evidence([campaign("a", "tiktok", days)])[0]
    assert evidence.window(2) == (30.0 + 40.0, 7, 2)
    assert evidence.window(0) == (100.0, 10, 4)
    assert evidence.window(9) == (0.0, 0, 0)
