"""Creative A/B tests decided by a Bayesian probability, not by the clock.

Each active ad of a campaign gets an equal share of its spend, so a creative's
conversions per unit of money measures its quality. With a flat prior, conversions C
over spend s give the rate a Gamma(1 + C, s) posterior; Monte Carlo draws give each
variant's probability of being the best. A variant is paused when that probability is
small *and* the test has run long enough and sold enough: daily peeks at small counts
would otherwise crown noise (at a few sales a day, a 20% gap takes hundreds of sales to
show, so only large gaps are acted on early; small ones cost little either way). With
two variants this is the probability that the other one is better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from usher.campaigns.optimizer.state import CreativeState

AB_WIN_PROBABILITY = 0.85
AB_MIN_CONVERSIONS = 12  # all live variants together
AB_MIN_HOURS_LIVE = 48.0  # the plan's 48 h rotation, as a minimum rather than a clock
AB_DRAWS = 2000


@dataclass(frozen=True)
class CreativeVerdict:
    """The leader of a campaign's live variants against one other variant."""

    loser_id: str
    winner_id: str
    probability_winner_better: float
    loser_rate: float
    winner_rate: float
    decisive: bool


def judge_creatives(
    creatives: Sequence[CreativeState], rng: np.random.Generator, use_platform_counts: bool = False
) -> list[CreativeVerdict]:
    """A verdict for each live variant other than the leader (empty below two variants)."""
    live = [c for c in creatives if c.active and c.spend > 0]
    if len(live) < 2:
        return []
    counts = np.array(
        [c.platform_conversions if use_platform_counts else c.attributed_conversions for c in live],
        dtype=float,
    )
    spend = np.array([c.spend for c in live], dtype=float)
    draws = rng.gamma(1.0 + counts[:, None], 1.0 / spend[:, None], size=(len(live), AB_DRAWS))
    means = (1.0 + counts) / spend
    leader = int(np.argmax(means))
    best_share = np.bincount(np.argmax(draws, axis=0), minlength=len(live)) / AB_DRAWS
    verdicts = []
    for i, creative in enumerate(live):
        if i == leader:
            continue
        probability = float(np.mean(draws[leader] > draws[i]))
        enough = (
            counts.sum() >= AB_MIN_CONVERSIONS
            and min(creative.hours_live, live[leader].hours_live) >= AB_MIN_HOURS_LIVE
        )
        verdicts.append(
            CreativeVerdict(
                loser_id=creative.creative_id,
                winner_id=live[leader].creative_id,
                probability_winner_better=probability,
                loser_rate=float(means[i]),
                winner_rate=float(means[leader]),
                decisive=enough and best_share[i] <= 1 - AB_WIN_PROBABILITY,
            )
        )
    return verdicts


def relative_quality(creatives: Sequence[CreativeState]) -> dict[str, float]:
    """Each variant's conversion rate relative to the mean of all variants (shrunk to 1).

    Used to rescale a campaign's history when its creative mix changes: the days before
    a loser was paused ran on a weaker mix than the days after.
    """
    if not creatives:
        return {}
    spend = np.array([max(c.spend, 0.0) for c in creatives], dtype=float)
    counts = np.array([c.attributed_conversions for c in creatives], dtype=float)
    if spend.sum() <= 0 or counts.sum() <= 0:
        return {c.creative_id: 1.0 for c in creatives}
    pooled = counts.sum() / spend.sum()
    # Shrink each rate toward the pooled one with a few conversions' worth of prior.
    prior = 5.0
    rates = (counts + prior) / (spend + prior / pooled)
    mean = rates.mean()
    return {c.creative_id: float(r / mean) for c, r in zip(creatives, rates, strict=True)}
