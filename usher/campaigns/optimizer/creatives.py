"""Creative A/B tests decided by a Bayesian probability, not by the clock.

Each active ad of a campaign gets an equal share of its spend, so a creative's
conversions per unit of money measures its quality. Sales alone are too thin to tell
variants apart early (a few a day: a 2x gap takes days and a dozen sales to show), but
the platforms report every ad's clicks, hundreds a day, and a better creative is first
of all one that more of its audience clicks. So a variant's conversion rate per unit of
money is modelled as the product of two Gamma posteriors:

- clicks per unit of money (dense; a weak prior at the campaign's pooled rate), and
- sales per click, with a prior at the campaign's pooled sales per click that is a
  mixture of two: most likely (``ALIKE_PRIOR_WEIGHT``) the variants convert a click
  alike, within a few percent (``ALIKE_CONVERSIONS_PER_CLICK``: they share the offer
  and the landing page), else apart (``APART_CONVERSIONS_PER_CLICK``, wide). Each
  variant's own sales weigh the two (their marginal likelihoods): a clickbait variant
  that clicks well and sells badly moves to "apart" after a few dozen sales, and until
  sales say so a gap in clicks is a gap in sales. One Gamma prior of middling strength
  (30 sales, +-18%) did neither: its spread alone capped the probability that a variant
  clicking 15-20% better was better at about 0.8 however many clicks came (on thin
  data 9 of 11 campaigns kept a weaker creative for the whole flight), while a
  clickbait variant took 30-odd sales to show.

A suite publishes the same variants (the same copy and image) to each of its
campaigns, so a variant's click rate relative to its campaign's, seen in the suite's
other A/B-tested campaigns where the same ad ran (the same ``content``: a variant's
label, "A" or "B", may stand for another ad in another campaign, and pooling those
would lend one ad's clicks to another), is evidence here too: it enters the clicks prior at
``SUITE_CLICKS_WEIGHT`` of its weight (audiences differ between campaigns, and a
campaign's own clicks win as they accumulate). On a small budget spread over many
campaigns that is what makes a test decidable at all.

Monte Carlo draws of that product give each variant's probability of being the best. A
variant is paused when that probability is small *and* every variant has had a day's
delivery and enough clicks (or, where a platform reports no clicks, enough sales and
the plan's 48 hours): daily peeks at small counts would otherwise crown noise. Small
gaps take long to resolve and cost little either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from usher.campaigns.optimizer.learner import lgamma_array
from usher.campaigns.optimizer.state import CreativeState

AB_WIN_PROBABILITY = 0.85
AB_DRAWS = 2000
# With clicks: every live variant has run a whole day (every hour's audience) and has
# this many clicks.
AB_MIN_HOURS_LIVE = 24.0
AB_MIN_CLICKS = 20.0
# Without clicks (a platform that reports none): the sales of all live variants
# together, and the plan's 48 h rotation as a minimum rather than a clock.
AB_MIN_CONVERSIONS = 12
AB_MIN_HOURS_LIVE_WITHOUT_CLICKS = 48.0
# Prior strengths: clicks (resp. sales) at the campaign's pooled rate.
CLICKS_PRIOR = 5.0
CONVERSIONS_PRIOR = 5.0
# Sales per click, in sales of prior strength at the campaign's pooled rate: "alike"
# (about 1/sqrt(400): +-5% between variants) or "apart" (+-30%), alike four times in five.
ALIKE_CONVERSIONS_PER_CLICK = 400.0
APART_CONVERSIONS_PER_CLICK = 10.0
ALIKE_PRIOR_WEIGHT = 0.8
# A same-named variant's clicks in another campaign count this much of a click here.
SUITE_CLICKS_WEIGHT = 0.5


@dataclass(frozen=True)
class SuiteClicks:
    """A variant's clicks elsewhere in the suite: observed, and expected at each of those
    campaigns' pooled click rate (their ratio is the variant's relative click rate)."""

    observed: float
    expected: float


def suite_clicks(
    campaigns: Sequence[Sequence[CreativeState]],
) -> list[dict[str, SuiteClicks]]:
    """Per campaign, per ad content: the same ad's clicks in the *other* campaigns' A/B
    tests (campaigns where two or more variants ran; one alone says nothing about how
    it compares). Variants without a ``content`` are left out."""
    rows: list[dict[str, SuiteClicks]] = []
    for creatives in campaigns:
        ran = [c for c in creatives if c.spend > 0]
        clicks = sum(c.clicks for c in ran)
        spend = sum(c.spend for c in ran)
        mine: dict[str, SuiteClicks] = {}
        if len(ran) >= 2 and clicks > 0:
            for c in ran:
                if c.content:
                    mine[c.content] = SuiteClicks(c.clicks, c.spend * clicks / spend)
        rows.append(mine)
    totals: dict[str, SuiteClicks] = {}
    for mine in rows:
        for name, seen in mine.items():
            total = totals.get(name, SuiteClicks(0.0, 0.0))
            totals[name] = SuiteClicks(
                total.observed + seen.observed, total.expected + seen.expected
            )
    return [
        {
            name: SuiteClicks(
                total.observed - mine.get(name, SuiteClicks(0.0, 0.0)).observed,
                total.expected - mine.get(name, SuiteClicks(0.0, 0.0)).expected,
            )
            for name, total in totals.items()
        }
        for mine in rows
    ]


@dataclass(frozen=True)
class RatePosterior:
    """Each variant's conversions per unit of money: (clicks/money) x (sales/click).

    Where no clicks are reported the click factor is absent (``click_shape`` is None)
    and the sales part is per unit of money directly.
    """

    click_shape: np.ndarray | None
    click_rate: np.ndarray | None
    # The sales factor: a Gamma mixture per variant (variants x components), with the
    # components' posterior weights (each row sums to 1).
    sale_shape: np.ndarray
    sale_rate: np.ndarray
    sale_weight: np.ndarray

    @property
    def uses_clicks(self) -> bool:
        return self.click_shape is not None

    def mean(self) -> np.ndarray:
        sales = (self.sale_weight * self.sale_shape / self.sale_rate).sum(axis=1)
        if self.click_shape is None or self.click_rate is None:
            return sales
        return self.click_shape / self.click_rate * sales

    def draws(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n draws per variant (variants x n)."""
        variants = len(self.sale_shape)
        size = (variants, n)
        # One component per draw and variant, by its weight.
        first = rng.random(size) < self.sale_weight[:, :1]
        component = np.where(first, 0, 1)
        rows = np.arange(variants)[:, None]
        shape = self.sale_shape[rows, component]
        rate = self.sale_rate[rows, component]
        sales = rng.gamma(shape, 1.0 / rate)
        if self.click_shape is None or self.click_rate is None:
            return sales
        clicks = rng.gamma(self.click_shape[:, None], 1.0 / self.click_rate[:, None], size=size)
        return clicks * sales


def rate_posterior(
    creatives: Sequence[CreativeState], suite: dict[str, SuiteClicks] | None = None
) -> RatePosterior:
    """The posterior of each variant's conversions per unit of money (see the module doc).

    ``suite``: the variants' clicks in the suite's other campaigns (:func:`suite_clicks`).
    """
    spend = np.array([max(c.spend, 0.0) for c in creatives], dtype=float)
    sales = np.array([c.attributed_conversions for c in creatives], dtype=float)
    clicks = np.array([max(c.clicks, 0.0) for c in creatives], dtype=float)
    if clicks.sum() > 0 and spend.sum() > 0:
        clicks_per_money = clicks.sum() / spend.sum()
        elsewhere = [(suite or {}).get(c.content, SuiteClicks(0.0, 0.0)) for c in creatives]
        prior_observed = CLICKS_PRIOR + SUITE_CLICKS_WEIGHT * np.array(
            [e.observed for e in elsewhere]
        )
        prior_expected = CLICKS_PRIOR + SUITE_CLICKS_WEIGHT * np.array(
            [e.expected for e in elsewhere]
        )
        # Without any sale yet only the ratio between variants matters: any positive
        # pooled rate ranks them by their clicks alone.
        sales_per_click = (sales.sum() + 1.0) / (clicks.sum() + 1.0)
        shape, rate, weight = _sales_per_click_mixture(sales, clicks, sales_per_click)
        return RatePosterior(
            click_shape=prior_observed + clicks,
            click_rate=prior_expected / clicks_per_money + spend,
            sale_shape=shape,
            sale_rate=rate,
            sale_weight=weight,
        )
    pooled = (sales.sum() + 1.0) / max(spend.sum(), 1e-9)
    return RatePosterior(
        None,
        None,
        (CONVERSIONS_PRIOR + sales)[:, None],
        (CONVERSIONS_PRIOR / pooled + spend)[:, None],
        np.ones((len(creatives), 1)),
    )


def _sales_per_click_mixture(
    sales: np.ndarray, clicks: np.ndarray, pooled: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each variant's posterior of sales per click under the alike/apart mixture prior
    at the pooled rate: Gamma shapes, rates and component weights (variants x 2)."""
    strength = np.array([ALIKE_CONVERSIONS_PER_CLICK, APART_CONVERSIONS_PER_CLICK])
    prior_shape = strength[None, :]
    prior_rate = (strength / pooled)[None, :]
    shape = prior_shape + sales[:, None]
    rate = prior_rate + clicks[:, None]
    # Gamma-Poisson marginal likelihood of each variant's sales given its clicks, per
    # component (the terms both components share are left out).
    log_evidence = (
        prior_shape * np.log(prior_rate)
        - lgamma_array(prior_shape)
        + lgamma_array(shape)
        - shape * np.log(rate)
    )
    log_weight = log_evidence + np.log([ALIKE_PRIOR_WEIGHT, 1 - ALIKE_PRIOR_WEIGHT])[None, :]
    weight = np.exp(log_weight - log_weight.max(axis=1, keepdims=True))
    return shape, rate, weight / weight.sum(axis=1, keepdims=True)


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
    creatives: Sequence[CreativeState],
    rng: np.random.Generator,
    suite: dict[str, SuiteClicks] | None = None,
) -> list[CreativeVerdict]:
    """A verdict for each live variant other than the leader (empty below two variants)."""
    live = [c for c in creatives if c.active and c.spend > 0]
    if len(live) < 2:
        return []
    posterior = rate_posterior(live, suite)
    draws = posterior.draws(rng, AB_DRAWS)
    means = posterior.mean()
    leader = int(np.argmax(means))
    best_share = np.bincount(np.argmax(draws, axis=0), minlength=len(live)) / AB_DRAWS
    hours = min(c.hours_live for c in live)
    if posterior.uses_clicks:
        seen = [
            c.clicks
            + SUITE_CLICKS_WEIGHT * (suite or {}).get(c.content, SuiteClicks(0, 0)).observed
            for c in live
        ]
        enough = hours >= AB_MIN_HOURS_LIVE and min(seen) >= AB_MIN_CLICKS
    else:
        sold = sum(c.attributed_conversions for c in live)
        enough = hours >= AB_MIN_HOURS_LIVE_WITHOUT_CLICKS and sold >= AB_MIN_CONVERSIONS
    return [
        CreativeVerdict(
            loser_id=creative.creative_id,
            winner_id=live[leader].creative_id,
            probability_winner_better=float(np.mean(draws[leader] > draws[i])),
            loser_rate=float(means[i]),
            winner_rate=float(means[leader]),
            decisive=enough and best_share[i] <= 1 - AB_WIN_PROBABILITY,
        )
        for i, creative in enumerate(live)
        if i != leader
    ]


def relative_quality(creatives: Sequence[CreativeState]) -> dict[str, float]:
    """Each variant's conversion rate relative to the mean of all variants (shrunk to 1).

    Used to rescale a campaign's history when its creative mix changes: the days before
    a loser was paused ran on a weaker mix than the days after. Variants that never
    spent are taken at the mean.
    """
    ran = [c for c in creatives if c.spend > 0]
    if not any(c.clicks > 0 or c.attributed_conversions > 0 for c in ran):
        return {c.creative_id: 1.0 for c in creatives}
    rates = rate_posterior(ran).mean()
    relative = {c.creative_id: float(r / rates.mean()) for c, r in zip(ran, rates, strict=True)}
    return {c.creative_id: relative.get(c.creative_id, 1.0) for c in creatives}
