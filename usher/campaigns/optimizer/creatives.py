"""Creative A/B tests decided by a Bayesian probability, not by the clock.

Each active ad of a campaign gets an equal share of its spend, so a creative's
conversions per unit of money measures its quality. Sales alone are too thin to tell
variants apart early (a few a day: a 2x gap takes days and a dozen sales to show), but
the platforms report every ad's clicks, hundreds a day, and a better creative is first
of all one that more of its audience clicks. So a variant's conversion rate per unit of
money is modelled as the product of two Gamma posteriors:

- clicks per unit of money (dense; a weak prior at the campaign's pooled rate), and
- sales per click, with a hierarchical prior at the campaign's pooled sales per click
  worth ``CONVERSIONS_PER_CLICK_PRIOR`` sales: the variants of one campaign share the
  offer and the landing page, so they convert a click alike until their own sales say
  otherwise (a clickbait variant that clicks well and sells badly shows up as its sales
  accumulate).

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
# Sales per click: how many sales of its own a variant needs before its conversion
# rate per click counts as much as the campaign's pooled one. It is also the prior's
# spread between variants (about 1/sqrt(30), +-18%): creatives change who clicks far
# more than what a click on the same offer and page does.
CONVERSIONS_PER_CLICK_PRIOR = 30.0
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
    sale_shape: np.ndarray
    sale_rate: np.ndarray

    @property
    def uses_clicks(self) -> bool:
        return self.click_shape is not None

    def mean(self) -> np.ndarray:
        sales = self.sale_shape / self.sale_rate
        if self.click_shape is None or self.click_rate is None:
            return sales
        return self.click_shape / self.click_rate * sales

    def draws(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n draws per variant (variants x n)."""
        size = (len(self.sale_shape), n)
        sales = rng.gamma(self.sale_shape[:, None], 1.0 / self.sale_rate[:, None], size=size)
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
        return RatePosterior(
            click_shape=prior_observed + clicks,
            click_rate=prior_expected / clicks_per_money + spend,
            sale_shape=CONVERSIONS_PER_CLICK_PRIOR + sales,
            sale_rate=CONVERSIONS_PER_CLICK_PRIOR / sales_per_click + clicks,
        )
    pooled = (sales.sum() + 1.0) / max(spend.sum(), 1e-9)
    return RatePosterior(None, None, CONVERSIONS_PRIOR + sales, CONVERSIONS_PRIOR / pooled + spend)


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
