"""Budget allocation on known concave curves: equalize marginal revenue.

For curves ``A·(1 - exp(-S/b))`` the revenue of the next unit of money is
``(A/b)·exp(-S/b)``, decreasing in S, so the optimum under a total budget spends where
that marginal revenue is highest until every funded (campaign, day) has the same one:
``S = b·ln(A/(b·t))`` for a threshold t (0 if negative, at most the campaign's daily
ceiling). A day's cap raises that day's threshold until the day fits; one threshold λ
over all remaining days, found by bisection, spends the total budget. Concavity makes
this the global optimum (KKT), and it is closed-form per threshold, so thousands of
campaigns over a whole flight cost a few milliseconds.

A platform's minimum daily budget makes each (campaign, day) either off or at least its
minimum: a semi-continuous knapsack, no longer concave, so one threshold can leave money
unplaced (the next campaign-day to switch on needs its whole minimum at once).
``allocate_semi_continuous`` takes the threshold's choice of which campaign-days run
(each runs iff its best spend at or above its minimum earns more than the threshold
prices it), re-spends the budget over that set with the minimums as floors, runs off campaign-days at
their floor with whatever money that leaves unspent (alike campaigns switch together at
one threshold), then toggles the campaign-days nearest the margin one at a time while
that earns more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from usher.campaigns.optimizer.curves import ResponseCurve

BISECTION_STEPS = 40
# From this many campaigns on, the tabulated inverse is one vectorized search.
VECTORIZE_MIN_CAMPAIGNS = 64
# Semi-continuous search: campaign-days tried per round (off ones nearest to paying for
# their minimum, on ones held at it), and rounds of one toggle each.
TOGGLE_CANDIDATES = 24
TOGGLE_ROUNDS = 12
# Rounds of switching on campaign-days with the money a plan leaves unspent.
FILL_ROUNDS = 4
FLOOR_SLACK = 1 + 1e-9
# Thresholds are searched between this fraction of the steepest slope and this multiple
# of it: a price above every slope, at which nothing is spent and no floor pays, even
# through rounding. At the slope itself, exp(log(slope)) can fall an ulp short of it (a
# hair of spend, over a cap of 1e-16), and a floor on a curve linear to a float's
# precision earns exactly its price (run over a budget it does not fit).
LOWEST_THRESHOLD_RATIO = 1e-12
TOP_THRESHOLD_RATIO = 2.0
SMALLEST_SLOPE = float(np.finfo(float).tiny)


def spend_at_threshold(
    saturation_value: np.ndarray, b: np.ndarray, ceiling: np.ndarray, threshold: np.ndarray
) -> np.ndarray:
    """Spend per (campaign, day) at which marginal revenue falls to the day's threshold.

    ``saturation_value`` and ``b`` are (campaigns x days); ``ceiling`` per campaign.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        spend = b * np.log(saturation_value / (b * threshold[None, :]))
    spend = np.where(saturation_value > 0, np.nan_to_num(spend, nan=0.0, posinf=np.inf), 0.0)
    return np.clip(spend, 0.0, ceiling[:, None])


def allocate_arrays(
    saturation_value: np.ndarray,
    b: np.ndarray,
    ceiling: np.ndarray,
    budget: float,
    daily_cap: float | np.ndarray | None,
    minimum: np.ndarray | None = None,
) -> np.ndarray:
    """Optimal spend (campaigns x days) for revenue curves ``A[i, d]·(1 - exp(-S/b[i, d]))``.

    ``b`` is per campaign, or per campaign and day (a market that changes mid-flight);
    ``ceiling[i]`` is the most campaign i can spend a day (``inf`` for none); the result
    never sums above ``budget`` in total nor above ``daily_cap`` on any day.
    ``minimum[i]`` is campaign i's platform minimum daily budget: each day it spends
    nothing or at least that (its ceiling, if the ceiling is lower: a budget at the
    minimum then spends what the audience allows).
    """
    saturation_value = np.asarray(saturation_value, dtype=float)
    n_campaigns, n_days = saturation_value.shape
    if n_campaigns == 0 or n_days == 0 or budget <= 0:
        return np.zeros((n_campaigns, n_days))
    b = np.broadcast_to(np.asarray(b, dtype=float).reshape(n_campaigns, -1), (n_campaigns, n_days))
    ceiling = np.asarray(ceiling, dtype=float)
    steepest = float(np.max(saturation_value / b, initial=0.0))

    def spend_for(threshold: np.ndarray) -> np.ndarray:
        return spend_at_threshold(saturation_value, b, ceiling, threshold)

    if minimum is None or not np.any(np.asarray(minimum, dtype=float) > 0):
        return water_fill(spend_for, n_days, steepest, budget, daily_cap)

    def revenue(spend: np.ndarray) -> np.ndarray:
        return saturation_value * -np.expm1(-spend / b)

    lower = np.minimum(np.asarray(minimum, dtype=float), ceiling)
    return allocate_semi_continuous(spend_for, revenue, lower, n_days, steepest, budget, daily_cap)


def allocate_tabulated(
    spend_grid: np.ndarray,
    marginal: np.ndarray,
    demand: np.ndarray,
    budget: float,
    daily_cap: float | np.ndarray | None,
    minimum: np.ndarray | None = None,
) -> np.ndarray:
    """Optimal spend for any concave curves given as tables of their marginal revenue.

    ``marginal[i, k]`` is campaign i's revenue per unit of money at spend
    ``spend_grid[i, k]`` and demand 1 (decreasing in k; the grid's last point is the
    campaign's ceiling); a day's marginal is that times ``demand[d]``. Used for the
    posterior-mean curves, which are mixtures of exponentials without a closed form.
    ``daily_cap`` is one number for every day, or one per day. ``minimum[i]`` is
    campaign i's platform minimum daily budget, as for :func:`allocate_arrays`: each day
    it is off or spends at least that (its ceiling, if lower), the hourly plan then
    being one a platform takes, chosen as the oracle chooses its own.
    """
    n_campaigns, n_days = marginal.shape[0], len(demand)
    if n_campaigns == 0 or n_days == 0 or budget <= 0:
        return np.zeros((n_campaigns, n_days))
    demand = np.asarray(demand, dtype=float)
    steepest = float(np.max(marginal[:, 0]) * np.max(demand, initial=0.0))

    ascending, spends = marginal[:, ::-1], spend_grid[:, ::-1]

    def spend_for(threshold: np.ndarray) -> np.ndarray:
        # A day without demand (x / 0, or 0 / 0 at a threshold of 0) spends nothing: the
        # mask below, whatever the division gave.
        with np.errstate(divide="ignore", invalid="ignore"):
            wanted = np.broadcast_to(threshold[None, :] / demand[None, :], (n_campaigns, n_days))
        if n_campaigns >= VECTORIZE_MIN_CAMPAIGNS:
            spend = inverse_marginal(spend_grid, marginal, wanted)
        else:
            # For a handful of curves one interpolation each beats the vectorized search.
            spend = np.array(
                [np.interp(wanted[i], ascending[i], spends[i]) for i in range(n_campaigns)]
            )
        return np.where(demand[None, :] > 0, spend, 0.0)

    if minimum is None or not np.any(np.asarray(minimum, dtype=float) > 0):
        return water_fill(spend_for, n_days, steepest, budget, daily_cap)
    # Revenue at each grid point (demand 1): the marginal table integrated (trapezoids;
    # the grid is fine enough that a concave curve's error is negligible).
    steps = np.diff(spend_grid, axis=1) * 0.5 * (marginal[:, 1:] + marginal[:, :-1])
    cumulative = np.concatenate([np.zeros((n_campaigns, 1)), np.cumsum(steps, axis=1)], axis=1)

    def revenue(spend: np.ndarray) -> np.ndarray:
        return interpolate_rows(spend_grid, cumulative, spend) * demand[None, :]

    lower = np.minimum(np.asarray(minimum, dtype=float), spend_grid[:, -1])
    return allocate_semi_continuous(spend_for, revenue, lower, n_days, steepest, budget, daily_cap)


def _bracket(
    table: np.ndarray, at: np.ndarray, *, decreasing: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per row i, the last column of ``table[i]`` not past each ``at[i, d]`` (at or below
    it in an increasing table, at or above it in a decreasing one; 0 when even the first
    is past it) and the column after it: a binary search vectorized over rows and columns.
    """
    points = table.shape[1]
    lo = np.zeros(at.shape, dtype=int)
    hi = np.full(at.shape, points - 1)
    for _ in range(int(np.ceil(np.log2(points))) + 1):
        mid = (lo + hi + 1) // 2
        column = np.take_along_axis(table, mid, axis=1)
        inside = column >= at if decreasing else column <= at
        lo = np.where(inside, mid, lo)
        hi = np.where(inside, hi, mid - 1)
    return lo, np.minimum(lo + 1, points - 1)


def _interpolate(
    keys: np.ndarray, values: np.ndarray, at: np.ndarray, *, decreasing: bool
) -> np.ndarray:
    """Per row i, ``values[i]`` at each ``at[i, d]`` read on ``keys[i]`` (increasing or
    decreasing): linear between the two columns around it, the end values beyond them."""
    lo, upper = _bracket(keys, at, decreasing=decreasing)
    k_lo = np.take_along_axis(keys, lo, axis=1)
    k_hi = np.take_along_axis(keys, upper, axis=1)
    v_lo = np.take_along_axis(values, lo, axis=1)
    v_hi = np.take_along_axis(values, upper, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.clip(np.nan_to_num((at - k_lo) / (k_hi - k_lo)), 0.0, 1.0)
    return v_lo + fraction * (v_hi - v_lo)


def interpolate_rows(grid: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Per row i, ``values[i]`` (tabulated on the increasing ``grid[i]``) at each ``at[i, d]``.

    Linear between grid points, the end values beyond them; vectorized over rows and
    columns (a binary search over the grid's columns), since the semi-continuous search
    values many plans of many campaigns.
    """
    return _interpolate(grid, values, at, decreasing=False)


def inverse_marginal(
    spend_grid: np.ndarray, marginal: np.ndarray, wanted: np.ndarray
) -> np.ndarray:
    """Per row, the spend at which the (decreasing) marginal table falls to each wanted value.

    A binary search over the table's columns, vectorized over campaigns and days, then
    linear interpolation between the two grid points around the answer.
    """
    spend = _interpolate(marginal, spend_grid, wanted, decreasing=True)
    spend = np.where(marginal[:, :1] < wanted, 0.0, spend)
    return np.where(marginal[:, -1:] >= wanted, spend_grid[:, -1:], spend)


def water_fill(
    spend_for: Callable[[np.ndarray], np.ndarray],
    n_days: int,
    steepest: float,
    budget: float,
    daily_cap: float | np.ndarray | None,
) -> np.ndarray:
    """Find the thresholds: one per day for its cap, one overall (lambda) for the budget.

    ``spend_for(thresholds per day)`` gives the spend (campaigns x days) at which every
    curve's marginal revenue falls to its day's threshold; it decreases with them.
    """
    # Curves too flat for a float's range buy nothing: spend nothing on them.
    if steepest <= SMALLEST_SLOPE:
        return np.zeros_like(spend_for(np.full(n_days, np.inf)))
    lowest = max(steepest * LOWEST_THRESHOLD_RATIO, SMALLEST_SLOPE)
    top = steepest * TOP_THRESHOLD_RATIO

    def solve(day_threshold: np.ndarray) -> np.ndarray:
        def at(lam: float) -> np.ndarray:
            return spend_for(np.maximum(lam, day_threshold))

        at_zero = at(0.0)
        if np.isfinite(at_zero).all() and at_zero.sum() <= budget:
            return at_zero
        lo, hi = np.log(lowest), np.log(top)
        for _ in range(BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            if at(float(np.exp(mid))).sum() > budget:
                lo = mid
            else:
                hi = mid
        return at(float(np.exp(hi)))

    spend = solve(np.zeros(n_days))
    # Days over the cap get their own, higher threshold (only computed when needed).
    if daily_cap is not None and (spend.sum(axis=0) > daily_cap).any():
        spend = solve(_day_cap_thresholds(spend_for, n_days, daily_cap, lowest, top))
    # Within the budget: the bisection's upper end only ever moves to a threshold whose
    # spend fits, and its top spends nothing (but the floors respend holds, checked there).
    return spend


def allocate_semi_continuous(
    spend_for: Callable[[np.ndarray], np.ndarray],
    revenue: Callable[[np.ndarray], np.ndarray],
    lower: np.ndarray,
    n_days: int,
    steepest: float,
    budget: float,
    daily_cap: float | np.ndarray | None,
) -> np.ndarray:
    """The best plan in which each (campaign, day) spends 0 or at least ``lower[campaign]``.

    ``spend_for`` is the concave problem's spend at given day thresholds (as for
    ``water_fill``), ``revenue`` a plan's revenue per (campaign, day). The threshold's own
    choice (run a campaign-day iff its best spend at or above the floor pays for itself at
    the threshold's price) is optimal up to the one campaign-day on the margin; the
    toggles then settle the margin, each kept only if the re-spent plan earns more.
    """
    floors = np.broadcast_to(lower[:, None], (len(lower), n_days))

    def chosen(threshold: np.ndarray) -> np.ndarray:
        lifted = np.maximum(spend_for(threshold), floors)
        earned = revenue(lifted)
        # At a threshold of 0 money is free: an unbounded spend pays (0 x inf is no price).
        with np.errstate(invalid="ignore"):
            price = np.where(threshold[None, :] > 0, threshold[None, :] * lifted, 0.0)
        pays = earned - price >= 0
        return np.where(pays & (earned > 0), lifted, 0.0)

    def respend(on: np.ndarray) -> np.ndarray | None:
        """The budget re-spent over the campaign-days ``on`` (None if their floors don't fit)."""
        floor_spend = np.where(on, floors, 0.0)
        # (A float's hair of slack: _fill_leftover adds floors to its leftover one by one.)
        if floor_spend.sum() > budget * FLOOR_SLACK or (
            daily_cap is not None and (floor_spend.sum(axis=0) > daily_cap * FLOOR_SLACK).any()
        ):
            return None

        def within(threshold: np.ndarray) -> np.ndarray:
            return np.where(on, np.maximum(spend_for(threshold), floors), 0.0)

        return water_fill(within, n_days, steepest, budget, daily_cap)

    # water_fill's top runs nothing, so the choice fits the budget and every day (its
    # spend did, floors and all). Topped at the steepest slope, a minimum above the budget
    # on a curve linear over it (2.6e-53 against 3.8e-60 on a=b=1) was chosen at the top,
    # trimmed by water_fill below its floor, and did not fit.
    # A campaign-day without a minimum is never worse on (the fill may give it nothing) and
    # is no floor to switch on: at the price set by another's unaffordable minimum the
    # threshold's choice can leave it off, and the fill and the toggles, which switch
    # floors, would never run it (a budget under the other's minimum stayed unspent).
    best_on = (water_fill(chosen, n_days, steepest, budget, daily_cap) > 0) | (floors <= 0)
    best = respend(best_on)
    assert best is not None
    best_value = float(revenue(best).sum())
    for _ in range(FILL_ROUNDS):
        on = _fill_leftover(best, best_on, floors, revenue, budget, daily_cap)
        spend = None if on is None else respend(on)
        if on is None or spend is None:
            break
        value = float(revenue(spend).sum())
        if value <= best_value * (1 + 1e-9):
            break
        best_on, best, best_value = on, spend, value
    for _ in range(TOGGLE_ROUNDS):
        improved = None
        for flip in _margin_candidates(best, best_on, floors, revenue):
            on = best_on.copy()
            on[flip] = not on[flip]
            spend = respend(on)
            if spend is None:
                continue
            value = float(revenue(spend).sum())
            if value > best_value * (1 + 1e-9):
                improved, best_value = (on, spend), value
        if improved is None:
            break
        best_on, best = improved
    return best


def _fill_leftover(
    spend: np.ndarray,
    on: np.ndarray,
    floors: np.ndarray,
    revenue: Callable[[np.ndarray], np.ndarray],
    budget: float,
    daily_cap: float | np.ndarray | None,
) -> np.ndarray | None:
    """The plan's campaign-days plus off ones its unspent money can run at their floor.

    Alike campaigns (a thin flight's posterior-mean curves are nearly the prior's) pay
    for their floor at the same threshold, so the threshold's choice switches them on
    and off together: under a day's cap that fits three floors of six, it leaves the
    day off and the money unspent (1,400 planned as 475), which one toggle a round
    cannot repair. The money left and each day's room go to the off campaign-days that
    earn the most per unit of their floor; None if none fits.
    """
    leftover = budget - float(spend.sum())
    room = (
        np.full(spend.shape[1], np.inf)
        if daily_cap is None
        else np.broadcast_to(np.asarray(daily_cap, dtype=float), (spend.shape[1],))
        - spend.sum(axis=0)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = np.nan_to_num(revenue(floors) / floors, nan=0.0, posinf=0.0)
    candidates = np.argwhere(~on & (per_unit > 0) & (floors > 0))
    order = np.argsort(-per_unit[~on & (per_unit > 0) & (floors > 0)], kind="stable")
    filled = on.copy()
    room = room.copy()
    for i, d in candidates[order]:
        floor = floors[i, d]
        if floor <= leftover and floor <= room[d]:
            filled[i, d] = True
            leftover -= floor
            room[d] -= floor
    return filled if (filled != on).any() else None


def _margin_candidates(
    spend: np.ndarray,
    on: np.ndarray,
    floors: np.ndarray,
    revenue: Callable[[np.ndarray], np.ndarray],
) -> list[tuple[int, int]]:
    """The campaign-days whose switch is most likely to pay: off ones that earn the most
    per unit of their floor, and on ones held at their floor that earn the least per unit."""
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = np.nan_to_num(revenue(floors) / floors, nan=0.0, posinf=0.0)
    off = np.argwhere(~on & (per_unit > 0))
    off = off[np.argsort(-per_unit[~on & (per_unit > 0)], kind="stable")][:TOGGLE_CANDIDATES]
    held = on & (spend <= floors * (1 + 1e-9))
    at_floor = np.argwhere(held)
    at_floor = at_floor[np.argsort(per_unit[held], kind="stable")][:TOGGLE_CANDIDATES]
    return [tuple(int(v) for v in idx) for idx in np.concatenate([off, at_floor])]


def _day_cap_thresholds(
    spend_for: Callable[[np.ndarray], np.ndarray],
    n_days: int,
    daily_cap: float | np.ndarray,
    lowest: float,
    top: float,
) -> np.ndarray:
    """Per day, the lowest threshold at which that day's spend fits under the cap."""
    lo = np.full(n_days, np.log(lowest))
    hi = np.full(n_days, np.log(top))
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        over = spend_for(np.exp(mid)).sum(axis=0) > daily_cap
        lo = np.where(over, mid, lo)
        hi = np.where(over, hi, mid)
    uncapped = spend_for(np.zeros(n_days)).sum(axis=0)
    return np.where(uncapped <= daily_cap, 0.0, np.exp(hi))


def allocate(
    curves: Sequence[ResponseCurve],
    demand: np.ndarray,
    budget: float,
    daily_cap: float | np.ndarray | None = None,
    minimum: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """Optimal daily spend per curve (rows) and day (columns) for the given demand per day.

    ``daily_cap`` is one number for every day, or one per day; ``minimum`` per curve, the
    platform's minimum daily budget (a curve's day is then off or at least that).
    """
    demand = np.asarray(demand, dtype=float)
    saturation_value = np.array([[c.value * c.a] for c in curves]).reshape(-1, 1) * demand[None, :]
    b = np.array([c.b for c in curves], dtype=float)
    ceiling = np.array(
        [np.inf if c.max_daily_spend is None else c.max_daily_spend for c in curves], dtype=float
    )
    floors = None if minimum is None else np.asarray(minimum, dtype=float)
    return allocate_arrays(saturation_value, b, ceiling, budget, daily_cap, floors)


def expected_revenue(
    curves: Sequence[ResponseCurve], demand: np.ndarray, spend: np.ndarray
) -> float:
    """Expected revenue of a spend plan (campaigns x days) on known curves."""
    demand = np.asarray(demand, dtype=float)
    return float(sum(c.revenue(spend[i], demand).sum() for i, c in enumerate(curves)))
