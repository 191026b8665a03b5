"""`allocate_budget`'s arithmetic: how a budget's remainder is spread over its campaigns
as a daily budget each. Pure: the service feeds it numbers, spend control then makes
sure the platforms cannot spend more than the remainder whatever these wishes are.

Shares: `equal_split` gives each platform the same share (or the organizer's
percentages) and each campaign of a platform the same part of it; `manual` requires
the percentages; `performance_based` weights campaigns by their return on ad spend
(campaigns without data yet count as the target, so new ones still get to learn).
A campaign's daily budget is its share of the remainder spread over its days left, so
the whole remainder is paced to the end of each campaign's flight; the budget's daily
limit and each platform's daily limit then cap the sums.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from usher.campaigns.spend_safety import ZERO, floor_cents

EQUAL_SPLIT = "equal_split"
PERFORMANCE_BASED = "performance_based"
MANUAL = "manual"
STRATEGIES = (EQUAL_SPLIT, PERFORMANCE_BASED, MANUAL)

# A campaign's ROAS weight never drops below this fraction of the target: a campaign
# that had a bad first day still gets enough to prove itself (the optimizer pauses
# it on its own rules).
MIN_PERFORMANCE_WEIGHT = Decimal("0.25")


@dataclass(frozen=True)
class CampaignSlot:
    key: Hashable
    platform: str
    days_left: int
    roas: Decimal | None = None  # None: not enough data yet


@dataclass(frozen=True)
class PlatformShare:
    percentage: Decimal | None = None  # of the budget; None: split equally
    daily_limit: Decimal | None = None


def _platform_weights(
    strategy: str,
    slots: Sequence[CampaignSlot],
    platforms: Mapping[str, PlatformShare],
    campaign_weight: Mapping[Hashable, Decimal],
) -> dict[str, Decimal]:
    used = sorted({slot.platform for slot in slots})
    given = {p: platforms[p].percentage for p in used if p in platforms}
    if strategy == MANUAL or (given and all(v is not None for v in given.values())):
        return {p: Decimal(given.get(p) or 0) for p in used}
    if strategy == PERFORMANCE_BASED:
        weights: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for slot in slots:
            weights[slot.platform] += campaign_weight[slot.key]
        return dict(weights)
    return dict.fromkeys(used, Decimal(1))


def allocate(
    strategy: str,
    remaining: Decimal,
    slots: Sequence[CampaignSlot],
    *,
    platforms: Mapping[str, PlatformShare] | None = None,
    daily_limit: Decimal | None = None,
    target_roas: Decimal | None = None,
) -> dict[Hashable, Decimal]:
    """The daily budget each campaign should get (before spend control)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown allocation strategy {strategy!r}")
    platforms = platforms or {}
    running = [s for s in slots if s.days_left > 0]
    result: dict[Hashable, Decimal] = {s.key: ZERO for s in slots}
    if not running or remaining <= 0:
        return result
    target = target_roas or Decimal(1)
    weight = {
        s.key: (
            max(s.roas if s.roas is not None else target, target * MIN_PERFORMANCE_WEIGHT)
            if strategy == PERFORMANCE_BASED
            else Decimal(1)
        )
        for s in running
    }
    platform_weight = _platform_weights(strategy, running, platforms, weight)
    platform_total = sum(platform_weight.values(), ZERO)
    if platform_total <= 0:
        return result
    per_platform_weight: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for s in running:
        per_platform_weight[s.platform] += weight[s.key]
    daily: dict[Hashable, Decimal] = {}
    for s in running:
        share = (platform_weight[s.platform] / platform_total) * (
            weight[s.key] / per_platform_weight[s.platform]
        )
        daily[s.key] = remaining * share / s.days_left
    _cap_groups(daily, running, platforms)
    if daily_limit is not None:
        _cap(daily, list(daily), daily_limit)
    result.update({key: floor_cents(amount) for key, amount in daily.items()})
    return result


def _cap_groups(
    daily: dict[Hashable, Decimal],
    slots: Sequence[CampaignSlot],
    platforms: Mapping[str, PlatformShare],
) -> None:
    by_platform: dict[str, list[Hashable]] = defaultdict(list)
    for s in slots:
        by_platform[s.platform].append(s.key)
    for platform, keys in by_platform.items():
        limit = platforms.get(platform, PlatformShare()).daily_limit
        if limit is not None:
            _cap(daily, keys, limit)


def _cap(daily: dict[Hashable, Decimal], keys: Sequence[Hashable], limit: Decimal) -> None:
    """Scale the daily budgets of `keys` down together so they sum to at most `limit`."""
    total = sum((daily[k] for k in keys), ZERO)
    if total > limit > 0:
        for k in keys:
            daily[k] = daily[k] * limit / total
    elif limit <= 0:
        for k in keys:
            daily[k] = ZERO
