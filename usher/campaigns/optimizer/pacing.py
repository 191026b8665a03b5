"""Pacing and the spend ledger: never commit more money than the budget has left.

Platforms deliver a day's budget only on average: a day may spend more (Meta up to
75% more, Google up to 2x) or less. Usher reads spend late (reporting delay, outages),
so the money still free is the total minus what is reported minus a bound on what was
spent but not yet reported; a budget is then set only if its worst day (the highest
delivery ratio seen, or the platforms' documented maximum before there is data) still
fits. The plan itself spends the remainder at the *expected* delivery ratio, so
over-delivery on one day is paid back by the next day's plan, and the last day's
budget is set for its worst case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

HOURS_PER_DAY = 24
# Before there is data: the largest over-delivery any platform documents (Google, 2x).
DEFAULT_MAX_DELIVERY_RATIO = 2.0
# Margin on the highest delivery ratio seen (the next day may be a bit worse).
DELIVERY_RATIO_MARGIN = 1.05
MIN_DELIVERY_SAMPLES = 5
# A capped day counts on the low end of the delivery ratios seen: their 10th percentile
# (relative to the mean), never below half; before data, a quarter under (the +-25% a
# day Meta's budgets page documents).
LOW_DELIVERY_PERCENTILE = 10
MIN_LOW_DELIVERY_SHARE = 0.5
DEFAULT_LOW_DELIVERY_SHARE = 0.75
# Hours do not deliver evenly: an hour may spend up to this many times its even share.
HOUR_SHARE_MARGIN = 1.5
# Margin on shares read from the hourly delivery profile (it is itself an estimate).
PROFILE_SHARE_MARGIN = 1.15
FIT_BISECTION_STEPS = 60


def delivery_ratios(spends: Sequence[float], budgets: Sequence[float]) -> np.ndarray:
    """Spend over the budget in force, for the days that had a budget."""
    spends_a = np.asarray(spends, dtype=float)
    budgets_a = np.asarray(budgets, dtype=float)
    mask = budgets_a > 0
    return spends_a[mask] / budgets_a[mask]


def expected_delivery_ratio(ratios: np.ndarray) -> float:
    """The mean ratio of spend to budget, 1 until there is data."""
    return float(np.mean(ratios)) if len(ratios) >= MIN_DELIVERY_SAMPLES else 1.0


def low_delivery_share(ratios: np.ndarray) -> float:
    """How much of a capped day's budget a day can be counted on to spend, relative to the mean.

    A day's spend under a binding daily limit is the limit times that day's delivery
    ratio: what an under-delivering day leaves is lost, since the days after are at the
    limit too (an over-delivering one is paid back by the next plans). The plan counts
    on the low end of the ratios seen (their 10th percentile over their mean), half the
    spread a platform documents until there is data.
    """
    if len(ratios) < MIN_DELIVERY_SAMPLES or np.mean(ratios) <= 0:
        return DEFAULT_LOW_DELIVERY_SHARE
    low = float(np.percentile(ratios, LOW_DELIVERY_PERCENTILE)) / float(np.mean(ratios))
    return float(np.clip(low, MIN_LOW_DELIVERY_SHARE, 1.0))


def max_delivery_ratio(ratios: np.ndarray) -> float:
    """The worst day's ratio to plan safety for: the documented maximum before data, the
    highest seen (plus a margin) from five days on, and in between a blend weighted by
    the days seen, so a 3-day flight does not reserve twice its budgets to the end."""
    if len(ratios) == 0:
        return DEFAULT_MAX_DELIVERY_RATIO
    seen = max(float(np.max(ratios)) * DELIVERY_RATIO_MARGIN, 1.0)
    weight = min(len(ratios) / MIN_DELIVERY_SAMPLES, 1.0)
    return max(seen, weight * seen + (1.0 - weight) * DEFAULT_MAX_DELIVERY_RATIO)


def share_of_hours(first_hour: int, hours: float, profile: Sequence[float] | None = None) -> float:
    """The most of a day's delivery that ``hours`` hours from ``first_hour`` (UTC) can hold.

    Whole days count one each. With the hourly delivery profile the platforms' hourly
    reports show, the hours' own shares (plus a margin); without it, an even share times
    a margin, since evening hours deliver more than night ones.
    """
    hours = max(hours, 0.0)
    days = int(hours // HOURS_PER_DAY)
    rest = hours - days * HOURS_PER_DAY
    if profile is None:
        partial = rest / HOURS_PER_DAY * HOUR_SHARE_MARGIN
    else:
        partial = (
            sum(profile[(first_hour + k) % HOURS_PER_DAY] for k in range(int(np.ceil(rest))))
            * PROFILE_SHARE_MARGIN
        )
    return days + float(min(1.0, partial))


def unreported_spend_bound(budgets_in_force: float, share: float, max_ratio: float) -> float:
    """The most that can have been spent in hours not reported yet (delay, outage)."""
    return budgets_in_force * max_ratio * share


def free_money(total: float, reported_spent: float, unreported_bound: float) -> float:
    """What the budget still has once the reported and the possibly unreported spend are taken."""
    return max(total - reported_spent - unreported_bound, 0.0)


def worst_spend(
    budgets: np.ndarray,
    max_ratio: float,
    share_left: float,
    week_room_days: np.ndarray,
    week_spent: np.ndarray,
) -> np.ndarray:
    """The most each budget can spend in the rest of today.

    A platform that caps a week at ``k`` daily budgets (Meta: 7) cannot spend more than
    ``k * budget - spent this week``, whatever its daily over-delivery; ``week_room_days``
    is that k (``inf`` where the platform has no weekly cap).
    """
    budgets = np.maximum(np.asarray(budgets, dtype=float), 0.0)
    by_day = budgets * max_ratio * share_left
    with np.errstate(invalid="ignore"):
        by_week = np.where(
            np.isfinite(week_room_days), week_room_days * budgets - week_spent, np.inf
        )
    return np.clip(np.minimum(by_day, by_week), 0.0, None)


def fit_to_remainder(
    budgets: np.ndarray,
    remaining: float,
    max_ratio: float,
    share_left: float,
    week_room_days: np.ndarray | None = None,
    week_spent: np.ndarray | None = None,
    max_scale: float | np.ndarray = 1.0,
    floors: np.ndarray | None = None,
) -> np.ndarray:
    """Scale budgets (by one factor, at most ``max_scale``) so the rest of today fits.

    ``share_left`` is the most of a day's delivery the rest of today holds
    (:func:`share_of_hours`).

    At the worst delivery ratio (and within weekly caps) the result never spends more
    than ``remaining``; with ``max_scale`` 1 it only ever lowers budgets. ``max_scale``
    may be one per budget (a budget is never raised past its own).

    ``floors`` are the platforms' minimum daily budgets: a budget is not scaled under
    its floor while the others' cut alone can make the day fit, since a platform
    refuses less and the campaign would be paused: its whole day lost for a cut of a
    few percent (a 3-day flight's TikTok retargeting, at its 100 RON minimum, paused
    for good by a 1.5% cut). Only if the floors themselves do not fit is every budget
    scaled alike (those under their floor are then paused by the caller).
    """
    budgets = np.maximum(np.asarray(budgets, dtype=float), 0.0)
    room = (
        np.full(len(budgets), np.inf)
        if week_room_days is None
        else np.asarray(week_room_days, dtype=float)
    )
    spent = np.zeros(len(budgets)) if week_spent is None else np.asarray(week_spent, dtype=float)
    held = (
        np.zeros(len(budgets))
        if floors is None
        else np.minimum(np.asarray(floors, dtype=float), budgets)
    )

    def worst(fitted: np.ndarray) -> float:
        return float(worst_spend(fitted, max_ratio, share_left, room, spent).sum())

    tops = np.broadcast_to(np.asarray(max_scale, dtype=float), budgets.shape)
    top = float(tops.max(initial=1.0))

    def scaled(scale: float) -> np.ndarray:
        return budgets * np.minimum(scale, tops)

    def floored(scale: float) -> np.ndarray:
        return np.maximum(scaled(scale), held)

    if worst(held) <= remaining:
        return floored(_largest_scale(lambda scale: worst(floored(scale)) <= remaining, top))
    return scaled(_largest_scale(lambda scale: worst(scaled(scale)) <= remaining, top))


def _largest_scale(fits: Callable[[float], bool], top: float) -> float:
    """The largest scale in [0, top] that ``fits`` (which holds at 0 and is monotone)."""
    if fits(top):
        return top
    lo, hi = 0.0, top
    for _ in range(FIT_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def week_floor(
    budgets: np.ndarray, week_room_days: np.ndarray, week_spent: np.ndarray, mean_ratio: float
) -> np.ndarray:
    """Each budget raised just enough that a weekly cap lets today spend what it plans.

    A platform capping a week at ``k`` daily budgets (Meta: 7) stops a campaign once
    the week has spent ``k * budget``: late in a week that spent more than the budget
    now set, a lower budget would leave the day almost nothing. Planned spend today is
    ``budget * mean_ratio``, so the budget must be at least ``(spent + that) / k``.
    """
    budgets = np.asarray(budgets, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        floor = np.where(
            np.isfinite(week_room_days),
            (week_spent + budgets * mean_ratio) / week_room_days,
            0.0,
        )
    return np.maximum(budgets, floor)


def fit_to_daily_limit(
    budgets: np.ndarray,
    room: float,
    week_room_days: np.ndarray,
    week_spent: np.ndarray,
    mean_ratio: float,
    minimums: np.ndarray | None = None,
) -> np.ndarray:
    """The day's budgets under the daily limit (``room``), each still spendable under its weekly cap.

    The planned spends are scaled by one factor until the budgets they need
    (:func:`week_floor`) sum to at most ``room``. Scaling the raised budgets instead
    would cut a weekly-capped campaign's day far more than the others': its week's
    room falls by ``k`` times the cut. ``minimums`` are the platforms' minimum daily
    budgets: a budget is not scaled under its own while the others' cut can make the
    day fit (scaled under it, the platform refuses it and the campaign is paused: a
    thin flight's 5-a-day Google campaigns were, each time a trial day or the
    exploration's alternation took the day a little over the limit). If the floors
    alone (nothing planned today, the minimums kept) exceed the room, the budgets are
    scaled as they are.
    """
    budgets = np.maximum(np.asarray(budgets, dtype=float), 0.0)
    week_room_days = np.asarray(week_room_days, dtype=float)
    week_spent = np.asarray(week_spent, dtype=float)
    held = (
        np.zeros(len(budgets))
        if minimums is None
        else np.minimum(np.asarray(minimums, dtype=float), budgets)
    )

    def planned(scale: float) -> np.ndarray:
        return np.maximum(budgets * scale, held)

    def needed(scale: float) -> float:
        return float(week_floor(planned(scale), week_room_days, week_spent, mean_ratio).sum())

    if needed(0.0) > room:
        total = float(budgets.sum())
        return budgets * (max(room, 0.0) / total if total > 0 else 0.0)
    scale = _largest_scale(lambda s: needed(s) <= room, 1.0)
    return week_floor(planned(scale), week_room_days, week_spent, mean_ratio)
