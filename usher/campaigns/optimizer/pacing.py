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

from collections.abc import Sequence

import numpy as np

HOURS_PER_DAY = 24
# Before there is data: the largest over-delivery any platform documents (Google, 2x).
DEFAULT_MAX_DELIVERY_RATIO = 2.0
# Margin on the highest delivery ratio seen (the next day may be a bit worse).
DELIVERY_RATIO_MARGIN = 1.05
MIN_DELIVERY_SAMPLES = 5
# Hours do not deliver evenly: an hour may spend up to this many times its even share.
HOUR_SHARE_MARGIN = 2.0


def delivery_ratios(spends: Sequence[float], budgets: Sequence[float]) -> np.ndarray:
    """Spend over the budget in force, for the days that had a budget."""
    spends_a = np.asarray(spends, dtype=float)
    budgets_a = np.asarray(budgets, dtype=float)
    mask = budgets_a > 0
    return spends_a[mask] / budgets_a[mask]


def expected_delivery_ratio(ratios: np.ndarray) -> float:
    """The mean ratio of spend to budget, 1 until there is data."""
    return float(np.mean(ratios)) if len(ratios) >= MIN_DELIVERY_SAMPLES else 1.0


def max_delivery_ratio(ratios: np.ndarray) -> float:
    """The worst day's ratio to plan safety for (the documented maximum until there is data)."""
    if len(ratios) < MIN_DELIVERY_SAMPLES:
        return DEFAULT_MAX_DELIVERY_RATIO
    return max(float(np.max(ratios)) * DELIVERY_RATIO_MARGIN, 1.0)


def share_of_day(hours: float) -> float:
    """The most of a day's delivery that ``hours`` hours can hold."""
    return float(min(1.0, max(hours, 0.0) / HOURS_PER_DAY * HOUR_SHARE_MARGIN))


def unreported_spend_bound(
    budgets_in_force: float, unreported_hours: float, max_ratio: float
) -> float:
    """The most that can have been spent in hours not reported yet (delay, outage)."""
    days = unreported_hours // HOURS_PER_DAY
    rest = unreported_hours - days * HOURS_PER_DAY
    return budgets_in_force * max_ratio * (days + share_of_day(rest))


def free_money(total: float, reported_spent: float, unreported_bound: float) -> float:
    """What the budget still has once the reported and the possibly unreported spend are taken."""
    return max(total - reported_spent - unreported_bound, 0.0)


def cap_to_remainder(
    budgets: np.ndarray, remaining: float, max_ratio: float, hours_left_today: float
) -> np.ndarray:
    """Scale budgets down so that the rest of today, delivered at the worst ratio, fits.

    Only ever lowers budgets; the result at the worst ratio never exceeds ``remaining``.
    """
    budgets = np.maximum(np.asarray(budgets, dtype=float), 0.0)
    worst = float(budgets.sum()) * max_ratio * share_of_day(hours_left_today)
    if worst <= remaining or worst <= 0:
        return budgets
    # Round the factor down a hair so float error cannot tip the sum over.
    return budgets * (remaining / worst) * (1 - 1e-9)
