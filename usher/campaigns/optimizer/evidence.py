"""What each campaign's days say, judged on Usher's own attributed sales.

Usher's closed loop sees real orders (click ids, UTM), so a campaign is judged on
them. Platforms over-count (view-through) and report late; their numbers are used only
where attribution has too little data for a campaign, divided by the platform's
over-count ratio measured where both exist (a ratio of sums, shrunk toward 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from usher.campaigns.optimizer.creatives import relative_quality
from usher.campaigns.optimizer.state import CampaignState

# Pseudo-conversions behind the prior "platforms count honestly" (ratio 1).
OVERCOUNT_PRIOR_CONVERSIONS = 10.0
# A campaign's attribution is trusted when it sees at least this share of what the
# de-biased platform numbers say, or when those say too little to matter.
ATTRIBUTION_MIN_COVERAGE = 0.5
ATTRIBUTION_MIN_PLATFORM_CONVERSIONS = 3.0
# Pseudo-conversions pulling a campaign's value per sale toward the suite's.
VALUE_PRIOR_CONVERSIONS = 3.0


@dataclass(frozen=True)
class CampaignEvidence:
    """Fully reported days of one campaign, in the units the learner wants."""

    campaign_id: str
    days: np.ndarray  # flight day index
    spend: np.ndarray
    budget: np.ndarray
    conversions: np.ndarray
    quality: np.ndarray  # the day's creative mix relative to today's
    value_per_conversion: float
    tickets_per_conversion: float
    uses_platform_counts: bool

    @property
    def total_spend(self) -> float:
        return float(self.spend.sum())

    @property
    def total_conversions(self) -> float:
        return float(self.conversions.sum())

    def window(self, since_day: int) -> tuple[float, int, int]:
        """Spend, conversions (rounded) and day count from ``since_day`` on."""
        mask = self.days >= since_day
        return (
            float(self.spend[mask].sum()),
            round(float(self.conversions[mask].sum())),
            int(mask.sum()),
        )


def overcount_ratios(campaigns: Sequence[CampaignState]) -> dict[str, float]:
    """Per platform, reported conversions over attributed ones (shrunk toward 1)."""
    reported: dict[str, float] = {}
    attributed: dict[str, float] = {}
    for campaign in campaigns:
        for day in campaign.days:
            if day.complete:
                reported[campaign.platform] = (
                    reported.get(campaign.platform, 0.0) + day.platform_conversions
                )
                attributed[campaign.platform] = (
                    attributed.get(campaign.platform, 0.0) + day.attributed_conversions
                )
    return {
        platform: (reported[platform] + OVERCOUNT_PRIOR_CONVERSIONS)
        / (attributed[platform] + OVERCOUNT_PRIOR_CONVERSIONS)
        for platform in reported
    }


def gather_evidence(campaigns: Sequence[CampaignState]) -> list[CampaignEvidence]:
    """Each campaign's complete days, with the counts to judge it on."""
    ratios = overcount_ratios(campaigns)
    total_revenue = sum(d.attributed_revenue for c in campaigns for d in c.days if d.complete)
    total_sales = sum(d.attributed_conversions for c in campaigns for d in c.days if d.complete)
    total_tickets = sum(d.attributed_tickets for c in campaigns for d in c.days if d.complete)
    pooled_value = total_revenue / total_sales if total_sales else 1.0
    pooled_tickets = total_tickets / total_sales if total_sales else 1.0
    evidence = []
    for campaign in campaigns:
        days = [d for d in campaign.days if d.complete]
        ratio = ratios.get(campaign.platform, 1.0)
        attributed = np.array([d.attributed_conversions for d in days], dtype=float)
        debiased = np.array([d.platform_conversions for d in days], dtype=float) / ratio
        use_platform = (
            debiased.sum() >= ATTRIBUTION_MIN_PLATFORM_CONVERSIONS
            and attributed.sum() < ATTRIBUTION_MIN_COVERAGE * debiased.sum()
        )
        revenue = sum(d.attributed_revenue for d in days)
        tickets = sum(d.attributed_tickets for d in days)
        sales = attributed.sum()
        if use_platform and sales == 0:
            platform_sales = sum(d.platform_conversions for d in days)
            revenue = sum(d.platform_revenue for d in days) / ratio
            sales = platform_sales / ratio
        k = VALUE_PRIOR_CONVERSIONS
        quality = relative_quality(campaign.creatives)
        live = [c.creative_id for c in campaign.creatives if c.active]
        current_mix = _mix_quality(quality, live)
        evidence.append(
            CampaignEvidence(
                campaign_id=campaign.campaign_id,
                days=np.array([d.day for d in days], dtype=int),
                spend=np.array([d.spend for d in days], dtype=float),
                budget=np.array([d.budget for d in days], dtype=float),
                conversions=debiased if use_platform else attributed,
                quality=np.array(
                    [_mix_quality(quality, d.active_creatives) / current_mix for d in days],
                    dtype=float,
                ),
                value_per_conversion=float((revenue + k * pooled_value) / (sales + k)),
                tickets_per_conversion=float(
                    (tickets + k * pooled_tickets) / (sales + k)
                    if not use_platform
                    else pooled_tickets
                ),
                uses_platform_counts=bool(use_platform),
            )
        )
    return evidence


def _mix_quality(quality: dict[str, float], creative_ids: Sequence[str]) -> float:
    values = [quality[c] for c in creative_ids if c in quality]
    return float(np.mean(values)) if values else 1.0
