"""The plan's rules as guard rails: pause at CPA > 2x target, boost at ROAS > 2x target.

They act only on evidence: at least three fully reported days and enough spend that the
threshold CPA would have bought five sales, and then only when the posterior
probability (conversions per unit of money, Gamma with a flat prior) that the rule's
condition holds is high. One noisy hour never moves them. The probabilities use the
Gamma-Poisson identity ``P(Gamma(C+1, s) < r) = P(Poisson(r*s) >= C+1)``, exact and
without sampling. A pause is the costliest mistake (the campaign stops learning), so
its evidence bar is high: on a short flight a wrongly paused prospecting campaign loses
more than a few days of a poor one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RULE_MULTIPLE = 2.0  # the plan's 2x target, for both rules
RULE_PROBABILITY = 0.95
RULE_MIN_DAYS = 3
# Evidence: spend at least this many times the threshold CPA (or the boost's break-even).
RULE_MIN_SPEND_IN_THRESHOLD_CPAS = 5.0
BOOST_FACTOR = 1.2
# The suite's CPA as the CPA guard's prior counts as this many sales.
CPA_PRIOR_CONVERSIONS = 3


@dataclass(frozen=True)
class GuardVerdict:
    fires: bool
    probability: float
    observed: float | None
    enough_evidence: bool


def poisson_cdf(k: int, mean: float) -> float:
    """P(Poisson(mean) <= k), summed in log space (large means underflow exp(-mean))."""
    if k < 0:
        return 0.0
    if mean <= 0:
        return 1.0
    logs = [-mean + j * math.log(mean) - math.lgamma(j + 1) for j in range(k + 1)]
    top = max(logs)
    return min(math.exp(top) * sum(math.exp(v - top) for v in logs), 1.0)


def cpa_guard(
    spend: float,
    conversions: int,
    days: int,
    target_cpa: float | None,
    suite_cpa: float | None = None,
) -> GuardVerdict:
    """Pause when the CPA is credibly above twice the target.

    ``suite_cpa`` (the rest of the suite's CPA) is the prior the campaign's own sales
    are weighed against, worth ``CPA_PRIOR_CONVERSIONS`` sales: a campaign is one of a
    suite, and a few unlucky days of a handful of sales are more often bad luck than a
    campaign far worse than its siblings. Without it the prior is flat.
    """
    if not target_cpa or spend <= 0:
        return GuardVerdict(False, 0.0, None, False)
    threshold_cpa = RULE_MULTIPLE * target_cpa
    observed = spend / conversions if conversions else None
    prior_sales, prior_spend = (
        (CPA_PRIOR_CONVERSIONS, CPA_PRIOR_CONVERSIONS * suite_cpa) if suite_cpa else (0, 0.0)
    )
    # P(rate < 1/threshold) = P(Poisson(spend/threshold) >= C+1), the rate's posterior
    # being Gamma(C + 1 + prior sales, spend + prior spend).
    probability = 1.0 - poisson_cdf(
        conversions + prior_sales, (spend + prior_spend) / threshold_cpa
    )
    enough = days >= RULE_MIN_DAYS and spend >= RULE_MIN_SPEND_IN_THRESHOLD_CPAS * threshold_cpa
    return GuardVerdict(enough and probability >= RULE_PROBABILITY, probability, observed, enough)


def roas_guard(
    spend: float,
    conversions: int,
    value_per_conversion: float,
    days: int,
    target_roas: float | None,
) -> GuardVerdict:
    """Boost when the ROAS is credibly above twice the target."""
    if not target_roas or spend <= 0 or value_per_conversion <= 0:
        return GuardVerdict(False, 0.0, None, False)
    # ROAS > 2*target  <=>  conversions per money > 2*target/value
    threshold_rate = RULE_MULTIPLE * target_roas / value_per_conversion
    observed = conversions * value_per_conversion / spend
    # P(rate > r) = P(Poisson(r*s) <= C)
    probability = poisson_cdf(conversions, threshold_rate * spend)
    enough = days >= RULE_MIN_DAYS and spend * threshold_rate >= RULE_MIN_SPEND_IN_THRESHOLD_CPAS
    return GuardVerdict(enough and probability >= RULE_PROBABILITY, probability, observed, enough)
