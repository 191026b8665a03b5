"""The plan's rules as guard rails: each fires on evidence, never on one noisy day."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import pytest

from usher.campaigns.optimizer.rules import GuardVerdict, cpa_guard, poisson_cdf, roas_guard


def test_poisson_cdf_matches_the_direct_sum_and_survives_large_means():
    direct = sum(math.exp(-4.0) * 4.0**j / math.factorial(j) for j in range(6))
    assert poisson_cdf(5, 4.0) == pytest.approx(direct)
    # exp(-1000) underflows a float; the same sum in high-precision decimals:
    with localcontext() as precise:  # not getcontext(): that would leak into later tests
        precise.prec = 60
        term = total = Decimal(-1000).exp()
        for j in range(1, 901):
            term = term * 1000 / j
            total += term
    assert poisson_cdf(900, 1000.0) == pytest.approx(float(total), rel=1e-6)
    assert poisson_cdf(-1, 3.0) == 0.0


def test_cpa_guard_pauses_a_campaign_credibly_above_twice_the_target():
    # 900 spent, 2 sales: CPA 450 against a threshold of 2 x 60 = 120.
    verdict = cpa_guard(spend=900.0, conversions=2, days=4, target_cpa=60.0)
    assert verdict.fires
    assert verdict.probability > 0.95


def test_cpa_guard_waits_for_two_reported_days_however_bad_one_day_looks():
    verdict = cpa_guard(spend=900.0, conversions=0, days=1, target_cpa=60.0)
    assert not verdict.fires
    assert not verdict.enough_evidence


def test_cpa_guard_waits_for_enough_spend():
    # 200 spent without a sale is less than 3 threshold CPAs (360): not yet evidence.
    verdict = cpa_guard(spend=200.0, conversions=0, days=3, target_cpa=60.0)
    assert not verdict.fires
    assert not verdict.enough_evidence


def test_cpa_guard_leaves_a_campaign_near_the_target_alone():
    verdict = cpa_guard(spend=1200.0, conversions=15, days=5, target_cpa=60.0)
    assert verdict.enough_evidence
    assert not verdict.fires


def test_cpa_guard_does_nothing_without_a_target():
    assert not cpa_guard(spend=5000.0, conversions=0, days=9, target_cpa=None).fires


def test_roas_guard_boosts_a_campaign_credibly_above_twice_the_target():
    # 30 sales of 200 on 600 spent: ROAS 10 against 2 x 3 = 6.
    verdict = roas_guard(600.0, 30, 200.0, days=3, target_roas=3.0)
    assert verdict.fires
    assert verdict.observed == pytest.approx(10.0)


def test_roas_guard_does_not_boost_on_a_lucky_small_sample():
    # ROAS 13 on one sale is no evidence.
    verdict = roas_guard(15.0, 1, 200.0, days=3, target_roas=3.0)
    assert not verdict.fires


def test_roas_guard_does_not_boost_below_twice_the_target():
    verdict = roas_guard(1000.0, 20, 200.0, days=5, target_roas=3.0)
    assert verdict.enough_evidence
    assert not verdict.fires


NO_VERDICT = GuardVerdict(fires=False, probability=0.0, observed=None, enough_evidence=False)


def test_poisson_cdf_at_its_edges():
    assert poisson_cdf(0, 0.5) == pytest.approx(math.exp(-0.5))  # no event at all
    assert poisson_cdf(3, 0.5) == pytest.approx(
        sum(math.exp(-0.5) * 0.5**j / math.factorial(j) for j in range(4))
    )
    assert poisson_cdf(0, 0.0) == 1.0  # nothing expected: certainly at most k
    # The float sum rounds to 1.0000000000000002 here; a probability stays at most 1.
    assert poisson_cdf(6, 0.01) == 1.0


def test_cpa_guard_gives_no_verdict_without_a_target_or_spend():
    assert cpa_guard(spend=900.0, conversions=2, days=9, target_cpa=None) == NO_VERDICT
    assert cpa_guard(spend=900.0, conversions=2, days=9, target_cpa=0.0) == NO_VERDICT
    assert cpa_guard(spend=0.0, conversions=2, days=9, target_cpa=60.0) == NO_VERDICT


def test_cpa_guard_reports_the_cpa_and_the_probability_even_on_small_spend():
    assert cpa_guard(spend=900.0, conversions=2, days=4, target_cpa=60.0).observed == 450.0
    small = cpa_guard(spend=0.5, conversions=0, days=4, target_cpa=60.0)
    assert small.observed is None  # no sale: no CPA
    # P(rate < 1/120) = P(Poisson(0.5/120) >= 1)
    assert small.probability == pytest.approx(1 - math.exp(-0.5 / 120))
    assert not small.fires


def test_cpa_guard_evidence_starts_at_three_days_and_five_threshold_cpas():
    # Threshold CPA 2 x 60 = 120: five of them is 600.
    assert cpa_guard(spend=600.0, conversions=0, days=3, target_cpa=60.0).fires
    assert not cpa_guard(spend=600.0, conversions=0, days=2, target_cpa=60.0).enough_evidence
    assert not cpa_guard(spend=599.99, conversions=0, days=3, target_cpa=60.0).enough_evidence


def test_roas_guard_gives_no_verdict_without_a_target_spend_or_sale_value():
    assert roas_guard(600.0, 30, 200.0, days=3, target_roas=None) == NO_VERDICT
    assert roas_guard(0.0, 30, 200.0, days=3, target_roas=3.0) == NO_VERDICT
    assert roas_guard(600.0, 30, 0.0, days=3, target_roas=3.0) == NO_VERDICT


def test_roas_guard_judges_small_spends_and_small_sale_values_too():
    # Threshold rate 2 x 3 / 0.5 = 12 sales per unit of money; 0.5 spent expects 6.
    verdict = roas_guard(0.5, 10, 0.5, days=3, target_roas=3.0)
    assert verdict.observed == pytest.approx(10.0)
    assert verdict.probability == pytest.approx(
        sum(math.exp(-6.0) * 6.0**j / math.factorial(j) for j in range(11))
    )
    assert verdict.enough_evidence and verdict.fires


def test_roas_guard_evidence_starts_at_three_days_and_five_break_even_sales():
    # Threshold rate 2 x 5 / 100 = 0.1 sales per unit of money: 50 spent buys five.
    assert roas_guard(50.0, 12, 100.0, days=3, target_roas=5.0).fires
    assert not roas_guard(50.0, 12, 100.0, days=2, target_roas=5.0).enough_evidence
    assert not roas_guard(49.99, 12, 100.0, days=3, target_roas=5.0).enough_evidence


def test_cpa_guard_weighs_a_few_unlucky_days_against_the_suites_cpa():
    # 620 spent, 1 sale against a threshold of 100: alone it looks credibly bad, but
    # the suite sells at 55, and one sale where the suite would expect eleven is
    # weighed against three at the suite's CPA.
    alone = cpa_guard(spend=620.0, conversions=1, days=4, target_cpa=50.0)
    in_suite = cpa_guard(spend=620.0, conversions=1, days=4, target_cpa=50.0, suite_cpa=55.0)
    assert alone.fires
    assert not in_suite.fires and in_suite.probability < alone.probability
    # A campaign truly far worse still pauses with the prior.
    assert cpa_guard(spend=2000.0, conversions=3, days=6, target_cpa=50.0, suite_cpa=55.0).fires
