"""Campaigns are judged on Usher's attributed sales; platform counts only where those are thin."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from usher.campaigns.optimizer.demand import estimate_demand
from usher.campaigns.optimizer.evidence import gather_evidence, overcount_ratios
from usher.campaigns.optimizer.state import CampaignState, DayMetrics


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
