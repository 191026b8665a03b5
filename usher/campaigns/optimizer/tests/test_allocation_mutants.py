"""The allocator's answer is the optimum by its own conditions, not only close to a grid.

`test_allocation.py` compares revenue with a brute-force search, which tolerates a
few percent; a mutation run (docs/mutation.md) showed that faults in the thresholds,
the per-day caps and the tabulated path pass it. These tests check the optimality
conditions themselves (every funded cell at the same marginal revenue, unfunded ones
below it, capped ones above it), exact closed forms, and the tabulated path against the
closed form, each on a few campaigns so they take milliseconds.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from usher.campaigns.optimizer import allocation
from usher.campaigns.optimizer.allocation import (
    allocate,
    allocate_arrays,
    allocate_tabulated,
    expected_revenue,
    interpolate_rows,
    inverse_marginal,
    spend_at_threshold,
)
from usher.campaigns.optimizer.curves import ResponseCurve

# Saturation values A (campaigns x days), their b, and ceilings: campaign 2 is steep but
# capped, so a binding budget fills it to its ceiling.
SATURATION = np.array([[900.0, 1400.0], [300.0, 200.0], [700.0, 50.0]])
B = np.array([100.0, 40.0, 25.0])
CEILING = np.array([np.inf, np.inf, 40.0])


def marginal(saturation: np.ndarray, b: np.ndarray, spend: np.ndarray) -> np.ndarray:
    """Revenue of the next unit of money per (campaign, day): (A/b)·exp(-S/b)."""
    return saturation / b * np.exp(-spend / b)


def assert_optimal(
    spend: np.ndarray, saturation: np.ndarray, b: np.ndarray, ceiling: np.ndarray, days
) -> float:
    """The KKT conditions on the given days: one threshold for the funded cells, unfunded
    cells' first unit worth no more, cells at their ceiling worth at least as much.
    Returns the threshold."""
    slopes = marginal(saturation, b, spend)[:, days]
    cells = spend[:, days]
    ceilings = np.broadcast_to(ceiling[:, None], cells.shape)
    funded = (cells > 1e-9) & (cells < ceilings - 1e-9)
    assert funded.any()
    threshold = float(np.median(slopes[funded]))
    assert slopes[funded] == pytest.approx(np.full(funded.sum(), threshold), rel=1e-6)
    assert (slopes[cells <= 1e-9] <= threshold * (1 + 1e-6)).all()
    assert (slopes[cells >= ceilings - 1e-9] >= threshold * (1 - 1e-6)).all()
    return threshold


def test_the_threshold_spend_is_the_closed_form_clipped_to_zero_and_the_ceiling():
    saturation = np.array([[100.0, 100.0, 0.0], [100.0, 100.0, 100.0]])
    b = np.array([[10.0, 10.0, 10.0], [10.0, 10.0, 10.0]])
    spend = spend_at_threshold(saturation, b, np.array([np.inf, 15.0]), np.array([1.0, 20.0, 1.0]))
    # 10·ln(100 / (10·1)) = 10·ln 10; a threshold above the slope (10) spends nothing; a
    # curve that never converts spends nothing; the second campaign stops at its 15.
    assert spend == pytest.approx(np.array([[10 * np.log(10), 0.0, 0.0], [15.0, 0.0, 15.0]]))


def test_at_a_zero_threshold_a_campaign_spends_up_to_its_ceiling_or_without_end():
    # x/0 and 0/0 are the closed form's limits here, silenced on purpose.
    with np.errstate(all="raise"):
        spend = spend_at_threshold(
            np.array([[100.0], [100.0], [0.0]]),
            np.array([[10.0], [10.0], [10.0]]),
            np.array([np.inf, 15.0, np.inf]),
            np.array([0.0]),
        )
    assert spend[0, 0] == np.inf
    assert spend[1:, 0].tolist() == [15.0, 0.0]


def test_a_binding_budget_is_spent_whole_at_one_marginal_revenue():
    spend = allocate_arrays(SATURATION, B, CEILING, 300.0, None)
    assert spend.sum() == pytest.approx(300.0, rel=1e-9)
    assert spend.sum() <= 300.0
    assert_optimal(spend, SATURATION, B[:, None], CEILING, slice(None))
    assert spend[2, 0] == pytest.approx(40.0)  # its first units are worth the most


def test_a_budget_larger_than_what_the_ceilings_take_spends_only_up_to_them():
    ceiling = np.array([80.0, 30.0, 60.0])
    spend = allocate_arrays(SATURATION, B, ceiling, 10_000.0, None)
    assert spend == pytest.approx(np.broadcast_to(ceiling[:, None], (3, 2)))


def test_a_budget_smaller_than_one_cells_worth_goes_to_the_steepest_cell_first():
    spend = allocate_arrays(SATURATION, B, CEILING, 1.0, None)
    # Campaign 2's first day has the steepest slope (700/25 = 28 a unit of money; the
    # next, 1400/100 = 14, is reached only after 25·ln 2 of it).
    assert spend[2, 0] == pytest.approx(1.0, rel=1e-9)
    assert spend.sum() == pytest.approx(1.0, rel=1e-9)


def test_b_may_change_from_day_to_day():
    b = np.array([[100.0, 20.0], [40.0, 400.0], [25.0, 25.0]])
    spend = allocate_arrays(SATURATION, b, CEILING, 250.0, None)
    assert spend.sum() == pytest.approx(250.0, rel=1e-9)
    assert_optimal(spend, SATURATION, b, CEILING, slice(None))
    # With the day's own b, not the first day's: campaign 0 takes less on day 1.
    assert spend[0, 1] < allocate_arrays(SATURATION, B, CEILING, 250.0, None)[0, 1]


def test_a_days_cap_fills_that_day_to_the_cap_and_leaves_the_others_optimal():
    spend = allocate_arrays(SATURATION, B, CEILING, 400.0, np.array([1000.0, 120.0]))
    assert spend[:, 1].sum() == pytest.approx(120.0, rel=1e-9)
    assert spend.sum() == pytest.approx(400.0, rel=1e-9)
    day_one = assert_optimal(spend, SATURATION, B[:, None], CEILING, [0])
    day_two = assert_optimal(spend, SATURATION, B[:, None], CEILING, [1])
    assert day_two > day_one  # the capped day stops where its money is still worth more


def test_a_cap_that_every_day_fits_under_changes_nothing():
    uncapped = allocate_arrays(SATURATION, B, CEILING, 400.0, None)
    loose = uncapped.sum(axis=0).max()
    assert allocate_arrays(SATURATION, B, CEILING, 400.0, loose) == pytest.approx(uncapped)


def test_a_cap_on_every_day_with_money_to_spare_fills_each_day_to_its_cap():
    ceiling = np.array([500.0, 500.0, 40.0])
    spend = allocate_arrays(SATURATION, B, ceiling, 10_000.0, np.array([90.0, 150.0]))
    assert spend.sum(axis=0) == pytest.approx([90.0, 150.0], rel=1e-9)
    for day in (0, 1):
        assert_optimal(spend, SATURATION, B[:, None], ceiling, [day])


def test_a_cap_binds_only_on_the_day_that_needs_it_when_the_budget_is_spare():
    ceiling = np.array([300.0, 300.0, 40.0])
    spend = allocate_arrays(SATURATION, B, ceiling, 10_000.0, np.array([10_000.0, 200.0]))
    assert spend[:, 0] == pytest.approx(ceiling)  # an uncapped day takes every ceiling
    assert spend[:, 1].sum() == pytest.approx(200.0, rel=1e-9)


@pytest.mark.parametrize(
    ("n_campaigns", "n_days", "budget"), [(0, 2, 100.0), (3, 0, 100.0), (3, 2, 0.0), (3, 2, -5.0)]
)
def test_nothing_to_fund_or_no_money_spends_nothing_in_the_plans_shape(n_campaigns, n_days, budget):
    saturation = np.full((n_campaigns, n_days), 100.0)
    b, ceiling = np.full(n_campaigns, 10.0), np.full(n_campaigns, np.inf)
    spend = allocate_arrays(saturation, b, ceiling, budget, None)
    assert spend.shape == (n_campaigns, n_days)
    assert not spend.any()
    spend = allocate_tabulated(
        np.tile(np.linspace(0.0, 50.0, 6), (n_campaigns, 1)),
        np.tile(np.linspace(10.0, 0.0, 6), (n_campaigns, 1)),
        np.ones(n_days),
        budget,
        None,
    )
    assert spend.shape == (n_campaigns, n_days)
    assert not spend.any()


def test_curves_too_flat_for_a_float_buy_nothing():
    tiny = float(np.finfo(float).tiny)
    spend = allocate_arrays(np.full((2, 3), tiny), np.full(2, 2.0), np.full(2, np.inf), 50.0, None)
    assert spend.shape == (2, 3)
    assert not spend.any()


def test_the_thresholds_are_searched_down_to_a_trillionth_of_the_steepest_slope():
    # A second curve whose slope is 1e-11 of the first's: it is funded once the first is
    # saturated (its ceiling), since the search goes down to 1e-12 of the steepest.
    saturation = np.array([[1e6], [1e-5]])
    spend = allocate_arrays(saturation, np.array([1.0, 1.0]), np.array([5.0, np.inf]), 20.0, None)
    assert spend[0, 0] == pytest.approx(5.0)
    assert spend[1, 0] == pytest.approx(np.log(10.0))  # down to 1e-6: ln(1e-5 / 1e-6)


def test_allocate_reads_value_a_b_and_ceiling_from_each_curve():
    curves = [
        ResponseCurve(a=9.0, b=100.0, value=100.0),
        ResponseCurve(a=3.0, b=40.0, value=100.0),
        ResponseCurve(a=7.0, b=25.0, value=100.0, max_daily_spend=40.0),
    ]
    demand = np.array([1.0, 1.5])
    spend = allocate(curves, demand, 300.0)
    saturation = np.array([[c.value * c.a] for c in curves]) * demand[None, :]
    assert spend == pytest.approx(allocate_arrays(saturation, B, CEILING, 300.0, None), rel=1e-12)
    assert allocate(curves, demand, 300.0, 100.0).sum(axis=0) == pytest.approx([100.0, 100.0])


def test_expected_revenue_adds_every_campaigns_every_day():
    curves = [ResponseCurve(a=2.0, b=10.0, value=5.0), ResponseCurve(a=1.0, b=20.0, value=8.0)]
    demand = np.array([1.0, 2.0])
    spend = np.array([[10.0, 0.0], [20.0, 40.0]])
    exact = (
        5.0 * 2.0 * (1 - np.exp(-1.0))
        + 8.0 * 1.0 * (1 - np.exp(-1.0))
        + 8.0 * 2.0 * (1 - np.exp(-2.0))
    )
    assert expected_revenue(curves, demand, spend) == pytest.approx(exact, rel=1e-12)


def tabulate(saturation_per_demand: np.ndarray, b: np.ndarray, top: np.ndarray, points: int):
    """Each campaign's marginal revenue at demand 1 on a grid from 0 to its ceiling."""
    grid = np.linspace(0.0, 1.0, points)[None, :] * top[:, None]
    return grid, saturation_per_demand[:, None] / b[:, None] * np.exp(-grid / b[:, None])


def test_the_tabulated_allocator_finds_the_closed_form_optimum():
    per_demand = np.array([900.0, 300.0, 700.0])
    top = np.array([2000.0, 2000.0, 40.0])
    grid, table = tabulate(per_demand, B, top, 4001)
    demand = np.array([1.0, 1.5, 0.5])
    tabulated = allocate_tabulated(grid, table, demand, 500.0, None)
    exact = allocate_arrays(per_demand[:, None] * demand[None, :], B, top, 500.0, None)
    assert tabulated == pytest.approx(exact, abs=0.5)
    assert tabulated.sum() == pytest.approx(500.0, rel=1e-9)


def test_the_tabulated_allocator_keeps_each_days_cap_and_skips_days_without_demand():
    per_demand = np.array([900.0, 300.0, 700.0])
    grid, table = tabulate(per_demand, B, np.array([2000.0, 2000.0, 40.0]), 2001)
    demand = np.array([1.0, 0.0, 2.0])
    spend = allocate_tabulated(grid, table, demand, 500.0, np.array([400.0, 400.0, 150.0]))
    assert not spend[:, 1].any()
    assert spend[:, 2].sum() == pytest.approx(150.0, rel=1e-9)
    assert spend.sum() == pytest.approx(500.0, rel=1e-9)


def test_a_tabulated_campaign_with_money_to_spare_spends_to_its_grids_end():
    grid, table = tabulate(np.array([900.0, 300.0]), B[:2], np.array([150.0, 80.0]), 101)
    spend = allocate_tabulated(grid, table, np.ones(2), 10_000.0, None)
    assert spend == pytest.approx(np.array([[150.0, 150.0], [80.0, 80.0]]))


def test_many_campaigns_are_allocated_alike_by_the_vectorized_search(monkeypatch):
    rng = np.random.default_rng(7)
    n = allocation.VECTORIZE_MIN_CAMPAIGNS
    grid, table = tabulate(rng.uniform(50, 900, n), rng.uniform(20, 400, n), np.full(n, 500.0), 201)
    demand = np.array([1.0, 0.7, 1.3])
    vectorized = allocate_tabulated(grid, table, demand, 3000.0, 1200.0)
    monkeypatch.setattr(allocation, "VECTORIZE_MIN_CAMPAIGNS", n + 1)
    one_by_one = allocate_tabulated(grid, table, demand, 3000.0, 1200.0)
    assert vectorized == pytest.approx(one_by_one, rel=1e-9, abs=1e-9)
    monkeypatch.setattr(allocation, "VECTORIZE_MIN_CAMPAIGNS", n)
    assert vectorized.sum() == pytest.approx(3000.0, rel=1e-9)


@pytest.mark.parametrize("points", [2, 3, 5, 8, 9, 33])
def test_the_inverse_of_a_marginal_table_interpolates_between_its_points(points):
    rng = np.random.default_rng(points)
    spend_grid = np.cumsum(rng.uniform(1.0, 10.0, (4, points)), axis=1) - 1.0
    marginal_table = np.sort(rng.uniform(0.5, 20.0, (4, points)), axis=1)[:, ::-1]
    # Values above the first point, on every point, between points and below the last.
    wanted = np.concatenate(
        [
            marginal_table[:, :1] + 1.0,
            marginal_table,
            (marginal_table[:, :-1] + marginal_table[:, 1:]) / 2,
            marginal_table[:, -1:] - 0.25,
        ],
        axis=1,
    )
    found = inverse_marginal(spend_grid, marginal_table, wanted)
    expected = np.array(
        [
            np.interp(wanted[i], marginal_table[i, ::-1], spend_grid[i, ::-1])
            for i in range(len(wanted))
        ]
    )
    expected[:, 0] = 0.0  # not worth even the first unit
    assert found == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_the_inverse_of_a_table_with_a_flat_stretch_takes_its_first_point():
    spend_grid = np.array([[0.0, 10.0, 20.0, 30.0]])
    marginal_table = np.array([[8.0, 4.0, 4.0, 1.0]])
    found = inverse_marginal(spend_grid, marginal_table, np.array([[4.0, 6.0, 2.5]]))
    assert found == pytest.approx(np.array([[20.0, 5.0, 25.0]]))


def test_the_inverse_at_and_past_a_tables_end_raises_no_floating_point_error():
    spend_grid = np.array([[0.0, 10.0, 20.0]])
    marginal_table = np.array([[8.0, 4.0, 1.0]])
    # At the last point (0/0 between it and itself) and below it (x/0): the grid's end.
    with np.errstate(all="raise"):
        found = inverse_marginal(spend_grid, marginal_table, np.array([[1.0, 0.5]]))
    assert found == pytest.approx(np.array([[20.0, 20.0]]))


def test_a_tabulated_plan_of_one_day_and_under_one_unit_goes_to_the_steepest_campaign():
    # Slopes at demand 2: 2·900/100 = 18 and 2·300/40 = 15. On a coarse grid (steps of
    # 200) the steepest slope is only the first column's: the search must start there.
    grid, table = tabulate(np.array([900.0, 300.0]), B[:2], np.array([2000.0, 2000.0]), 11)
    spend = allocate_tabulated(grid, table, np.array([2.0]), 0.5, None)
    assert spend == pytest.approx(np.array([[0.5], [0.0]]), abs=1e-6)


def test_a_tabulated_day_without_demand_gets_nothing_even_where_a_grid_starts_above_zero():
    spend_grid = np.array([[5.0, 10.0, 20.0]])
    marginal_table = np.array([[8.0, 4.0, 1.0]])
    # A day without demand divides by zero: silenced, and no spend that day.
    with np.errstate(divide="raise"):
        spend = allocate_tabulated(spend_grid, marginal_table, np.array([1.0, 0.0]), 10.0, None)
    assert spend == pytest.approx(np.array([[10.0, 0.0]]))


def test_a_day_under_its_cap_spends_to_its_ceilings_while_another_day_is_capped():
    # Day 1 alone fits its cap (1000 of 1500), though both days together (2000) would not.
    spend = allocate_arrays(
        np.array([[10.0, 10.0]]), np.array([10.0]), np.array([1000.0]), 10_000.0, [1500.0, 100.0]
    )
    assert spend == pytest.approx(np.array([[1000.0, 100.0]]))


def test_curves_saturating_within_one_unit_of_money_are_allocated_by_their_slopes():
    # b below 1: the slopes A/b (2 and 1.8) are above A itself; a budget of 0.01 is worth
    # most on the first curve alone (the second is funded only after 0.5·ln(2/1.8)).
    spend = allocate_arrays(
        np.array([[1.0], [0.9]]), np.array([0.5, 0.5]), np.full(2, np.inf), 0.01, None
    )
    assert spend == pytest.approx(np.array([[0.01], [0.0]]), abs=1e-9)


def test_a_campaign_without_a_minimum_spends_the_budget_another_ones_minimum_does_not_fit():
    # Campaign 1's minimum (90) is over the budget (30): at the thresholds where it stops
    # paying, campaign 0's slope (5·100/150) is long passed, so the threshold's choice
    # ran neither, and the fill and the toggles, which switch minimums, skipped campaign 0
    # (no minimum): the whole budget stayed unspent.
    curves = [ResponseCurve(a=5.0, b=150.0, value=100.0), ResponseCurve(a=6.0, b=20.0, value=100.0)]
    with np.errstate(all="raise"):  # 0 x inf at the price 0, silenced on purpose
        spend = allocate(curves, np.ones(2), 30.0, minimum=[0.0, 90.0])
    assert spend[1].tolist() == [0.0, 0.0]
    assert spend[0] == pytest.approx([15.0, 15.0], rel=1e-9)


def test_a_campaign_without_a_minimum_fills_days_whose_cap_another_ones_minimum_exceeds():
    # Campaign 0's minimum (90) is over the day's cap (80): campaign 1, without one, takes
    # each day's cap; before, nothing ran.
    curves = [
        ResponseCurve(a=6.0, b=130.0, value=100.0),
        ResponseCurve(a=3.6, b=240.0, value=100.0),
    ]
    spend = allocate(curves, np.ones(2), 500.0, 80.0, minimum=[90.0, 0.0])
    assert spend[0].tolist() == [0.0, 0.0]
    assert spend[1] == pytest.approx([80.0, 80.0], rel=1e-9)


def best_plan_over_every_on_set(saturation, b, ceiling, minimum, budget, daily_cap) -> float:
    """The exact semi-continuous optimum's revenue, by enumeration: for each set of
    campaign-days that run, each at its floor plus the continuous optimum of the rest.

    Above a floor f the curve ``A·(1 - exp(-S/b))`` is ``A·(1 - exp(-f/b))`` plus the
    curve ``A·exp(-f/b)`` of the money past f, so the rest is a plain
    ``allocate_arrays`` (budget, caps and ceilings less the floors).
    """
    n_campaigns, n_days = saturation.shape
    b_cells = np.broadcast_to(b[:, None], saturation.shape)
    floor = np.minimum(minimum, ceiling)
    best = 0.0
    for bits in itertools.product((False, True), repeat=n_campaigns * n_days):
        on = np.array(bits).reshape(n_campaigns, n_days)
        floors = np.where(on, floor[:, None], 0.0)
        room = None if daily_cap is None else daily_cap - floors.sum(axis=0)
        if floors.sum() > budget or (room is not None and (room < 0).any()):
            continue
        past_floor = np.where(on, saturation * np.exp(-floors / b_cells), 0.0)
        extra = allocate_arrays(past_floor, b, ceiling - floor, budget - floors.sum(), room)
        plan = np.where(on, floors + extra, 0.0)
        best = max(best, float((saturation * -np.expm1(-plan / b_cells)).sum()))
    return best


def linear_revenue(rate: np.ndarray):
    """A plan's revenue per (campaign, day) at a fixed rate per unit of money."""
    return lambda spend: spend * rate


# Three campaigns' floors over two days, and what a unit of each earns there: campaign
# 0 runs on day 0 (40 spent), cell (2, 1) earns nothing.
FLOORS = np.broadcast_to(np.array([30.0, 20.0, 10.0])[:, None], (3, 2))
RATE = np.array([[1.0, 4.0], [3.0, 2.0], [5.0, 0.0]])
PLAN = np.array([[40.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
RUNNING = PLAN > 0


def switched_on(before: np.ndarray, after: np.ndarray | None) -> list[tuple[int, int]]:
    assert after is not None
    assert (after >= before).all()  # nothing running is switched off
    return [tuple(int(v) for v in cell) for cell in np.argwhere(after & ~before)]


def test_the_money_left_runs_the_off_campaign_days_that_earn_most_per_unit_of_floor():
    revenue = linear_revenue(RATE)
    # 55 left: (2, 0) earns 5 a unit (10), (0, 1) 4 (30); (1, 0)'s 20 no longer fits.
    filled = allocation._fill_leftover(PLAN, RUNNING, FLOORS, revenue, 95.0, None)
    assert switched_on(RUNNING, filled) == [(0, 1), (2, 0)]
    # 60 left: (1, 0) fits exactly; (1, 1) earns less and does not.
    filled = allocation._fill_leftover(PLAN, RUNNING, FLOORS, revenue, 100.0, None)
    assert switched_on(RUNNING, filled) == [(0, 1), (1, 0), (2, 0)]


def test_the_money_left_runs_off_campaign_days_only_within_each_days_room():
    # Caps of 50: day 0 has 10 left, which (2, 0) fills exactly; day 1 takes (0, 1)'s 30,
    # then (1, 1)'s 20, not (1, 0)'s (day 0 is full).
    filled = allocation._fill_leftover(PLAN, RUNNING, FLOORS, linear_revenue(RATE), 1e4, 50.0)
    assert switched_on(RUNNING, filled) == [(0, 1), (1, 1), (2, 0)]


def test_money_left_that_fits_no_floor_switches_nothing():
    revenue = linear_revenue(RATE)
    assert allocation._fill_leftover(PLAN, RUNNING, FLOORS, revenue, 49.0, None) is None
    # Nor floors that earn nothing, or under a unit a unit, or of nothing.
    weak = np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 0.0]])
    floors = np.broadcast_to(np.array([30.0, 0.5, 0.0])[:, None], (3, 2))
    with np.errstate(all="raise"):  # 0/0 for a floor of nothing, silenced on purpose
        filled = allocation._fill_leftover(PLAN, RUNNING, floors, linear_revenue(weak), 1e4, None)
    assert switched_on(RUNNING, filled) == [(1, 0)]


def test_alike_floors_are_run_in_campaign_order():
    # 30 off campaign-days in three groups earning alike (3, 2, 1 a unit: campaigns 0, 3,
    # 6, ..., then 1, 4, 7, ...), floors 1 to 30, 40 to spend: in campaign order within
    # each group 1 + 4 + 7 + 10 + 13 = 35 run, then 2 of the second group and 3 of the
    # third; a plan must not depend on how a sort orders ties.
    floors = np.arange(1.0, 31.0)[:, None]
    rate = (3.0 - np.arange(30) % 3)[:, None]
    off = np.zeros((30, 1), dtype=bool)
    filled = allocation._fill_leftover(
        np.zeros((30, 1)), off, floors, linear_revenue(rate), 40.0, None
    )
    assert switched_on(off, filled) == [(i, 0) for i in (0, 1, 2, 3, 6, 9, 12)]


def test_the_toggles_try_the_best_off_campaign_days_then_the_weakest_held_at_their_floor():
    floors = np.broadcast_to(np.array([30.0, 20.0, 10.0, 5.0, 0.0])[:, None], (5, 2))
    rate = np.array([[1.0, 4.0], [3.0, 2.0], [5.0, 0.0], [0.5, 0.25], [7.0, 7.0]])
    # On: (0, 0) at its floor, (1, 0) a hair over it (still held), (1, 1) at 1.5 times
    # it (not held); campaign 4 has no floor (on, nothing to switch). (2, 1) earns nothing.
    spend = np.zeros((5, 2))
    spend[0, 0], spend[1, 0], spend[1, 1] = 30.0, 20.0 * (1 + 1e-9), 30.0
    on = spend > 0
    on[4] = True
    with np.errstate(all="raise"):  # 0/0 for the floors of nothing, silenced on purpose
        tried = allocation._margin_candidates(spend, on, floors, linear_revenue(rate))
    assert tried == [(2, 0), (0, 1), (3, 0), (3, 1), (4, 0), (4, 1), (0, 0), (1, 0)]


def test_the_toggles_try_at_most_24_of_each_kind_in_campaign_order_among_equals():
    # 30 off campaign-days and 30 held at their floor, each in three groups earning alike.
    rate = np.concatenate([3.0 - np.arange(30) % 3, 1.0 + np.arange(30) % 3])[:, None]
    on = np.arange(60)[:, None] >= 30
    floors = np.ones((60, 1))
    tried = allocation._margin_candidates(np.where(on, 1.0, 0.0), on, floors, linear_revenue(rate))
    off_first = sorted(range(30), key=lambda i: -rate[i, 0])[:24]
    weakest_held = sorted(range(30, 60), key=lambda i: rate[i, 0])[:24]
    assert tried == [(i, 0) for i in off_first + weakest_held]


def test_the_thresholds_are_searched_down_to_a_trillionth_of_the_steepest_slope_under_one():
    # As above with every slope under 1 (0.1 and 1e-12): the search's bottom is a
    # trillionth of the steepest slope, not of 1.
    saturation = np.array([[0.1], [1e-12]])
    spend = allocate_arrays(saturation, np.array([1.0, 1.0]), np.array([5.0, np.inf]), 20.0, None)
    assert spend[0, 0] == pytest.approx(5.0)
    assert spend[1, 0] == pytest.approx(np.log(10.0))  # down to 1e-13: ln(1e-12 / 1e-13)


@pytest.mark.parametrize("budget", [0.0, -5.0])
def test_no_money_spends_nothing_with_minimums_too(budget):
    saturation = np.full((2, 3), 100.0)
    minimum = np.array([0.0, 10.0])
    spend = allocate_arrays(saturation, np.full(2, 10.0), np.full(2, np.inf), budget, None, minimum)
    assert spend.shape == (2, 3)
    assert not spend.any()
    grid = np.tile(np.linspace(0.0, 50.0, 6), (2, 1))
    table = np.tile(np.linspace(10.0, 0.0, 6), (2, 1))
    spend = allocate_tabulated(grid, table, np.ones(3), budget, None, minimum)
    assert spend.shape == (2, 3)
    assert not spend.any()


def test_a_minimum_under_one_unit_of_money_is_a_minimum_all_the_same():
    # A minimum of 0.5 over a budget of 0.3: nothing runs (not 0.3 under the minimum).
    saturation = np.array([[100.0]])
    spend = allocate_arrays(saturation, np.array([10.0]), np.array([np.inf]), 0.3, None, [0.5])
    assert spend.tolist() == [[0.0]]
    grid, table = np.array([[0.0, 10.0, 20.0]]), np.array([[8.0, 4.0, 1.0]])
    assert allocate_tabulated(grid, table, np.ones(1), 0.3, None, [0.5]).tolist() == [[0.0]]


def test_a_tabulated_minimum_above_the_grids_end_is_the_grids_end():
    # The grid ends at 60, the campaign's ceiling: a minimum of 100 runs it at 60, and a
    # budget of 50 cannot (not at the point before the end, 40).
    grid, table = np.array([[0.0, 20.0, 40.0, 60.0]]), np.array([[8.0, 4.0, 2.0, 1.0]])
    assert allocate_tabulated(grid, table, np.ones(1), 50.0, None, [100.0]).tolist() == [[0.0]]
    spend = allocate_tabulated(grid, table, np.ones(2), 500.0, None, [100.0])
    assert spend == pytest.approx(np.array([[60.0, 60.0]]))


def test_interpolating_below_a_grids_first_point_reads_its_first_value():
    grid, values = np.array([[5.0, 10.0, 20.0]]), np.array([[0.0, 30.0, 40.0]])
    found = interpolate_rows(grid, values, np.array([[0.0, 5.0, 7.5, 20.0, 25.0]]))
    assert found == pytest.approx(np.array([[0.0, 0.0, 15.0, 40.0, 40.0]]))


def test_the_tabulated_search_goes_down_to_a_trillionth_of_the_steepest_slope_at_low_demand():
    # At demand 1e-3 the slopes are 1e-4 and 2e-15: the second campaign is funded once
    # the first is at its grid's end (5), since the search's bottom is a trillionth of
    # the steepest slope at that demand (1e-16), not at demand 1.
    grid = np.array([[0.0, 5.0], [0.0, 100.0]])
    table = np.array([[0.1, 0.1], [2e-12, 1e-12]])
    spend = allocate_tabulated(grid, table, np.array([1e-3]), 20.0, None)
    assert spend == pytest.approx(np.array([[5.0], [15.0]]))


def random_problems_with_minimums(count: int):
    """Small random problems (2-3 campaigns, 1-2 days; some capped, some without a
    minimum; a budget and sometimes a daily cap), the same for every caller."""
    for seed in range(count):
        rng = np.random.default_rng(seed)
        n_campaigns, n_days = rng.integers(2, 4), rng.integers(1, 3)
        saturation = rng.uniform(50, 1000, (n_campaigns, n_days))
        b = rng.uniform(20, 300, n_campaigns)
        ceiling = np.where(rng.random(n_campaigns) < 0.4, rng.uniform(20, 200, n_campaigns), np.inf)
        minimum = rng.uniform(0, 150, n_campaigns) * (rng.random(n_campaigns) < 0.85)
        budget = rng.uniform(20, 600)
        daily_cap = None if rng.random() < 0.5 else rng.uniform(30, 400)
        yield saturation, b, ceiling, minimum, budget, daily_cap


def test_a_campaign_that_never_converts_spends_nothing_even_where_its_minimum_fits():
    # Every campaign capped, the budget to spare: the threshold's choice is made at a
    # price of 0, where a minimum that earns nothing costs nothing either.
    saturation = np.array([[500.0, 500.0], [300.0, 300.0], [0.0, 0.0]])
    ceiling = np.array([50.0, 40.0, 60.0])
    with np.errstate(all="raise"):  # 0 x inf at the price 0, silenced on purpose
        spend = allocate_arrays(
            saturation, np.full(3, 30.0), ceiling, 1000.0, None, np.array([10.0, 10.0, 20.0])
        )
    assert spend == pytest.approx(np.array([[50.0, 50.0], [40.0, 40.0], [0.0, 0.0]]))


@functools.cache
def problems_with_their_optimum() -> list[tuple]:
    """100 random problems with minimums and the revenue of their exact optimum."""
    return [
        (*problem, best_plan_over_every_on_set(*problem))
        for problem in random_problems_with_minimums(100)
    ]


def revenue_ratios() -> list[float]:
    """The allocator's revenue over the exact optimum's, per problem."""
    ratios = []
    for saturation, b, ceiling, minimum, budget, cap, best in problems_with_their_optimum():
        spend = allocate_arrays(saturation, b, ceiling, budget, cap, minimum)
        found = float((saturation * -np.expm1(-spend / b[:, None])).sum())
        ratios.append(found / best if best > 0 else 1.0)
        floor = np.minimum(minimum, ceiling)[:, None]
        assert ((spend == 0) | (spend >= floor * (1 - 1e-9))).all()
        assert spend.sum() <= budget * (1 + 1e-9)
    return ratios


def test_with_minimums_the_plan_is_the_exact_optimum_but_for_a_few_swaps():
    # The search toggles one campaign-day at a time: where the optimum needs one switched
    # off for another to fit (a swap), it stops short (2 of these 100, at 88% and 98%).
    ratios = revenue_ratios()
    assert sum(r < 1 - 1e-9 for r in ratios) <= 2
    assert min(ratios) >= 0.88


def test_with_minimums_the_fill_alone_brings_the_thresholds_choice_near_the_optimum(
    monkeypatch,
):
    # Without the toggles, of the 100 problems: 90 at the optimum, none under 85%.
    monkeypatch.setattr(allocation, "TOGGLE_ROUNDS", 0)
    ratios = revenue_ratios()
    assert sum(r >= 1 - 1e-9 for r in ratios) >= 90
    assert min(ratios) >= 0.85


def test_with_minimums_the_thresholds_choice_alone_is_near_the_optimum(monkeypatch):
    # Without the fill and the toggles: of the 100 problems, 85 at the optimum and 94% of
    # it on average (some leave the margin's money unspent).
    monkeypatch.setattr(allocation, "FILL_ROUNDS", 0)
    monkeypatch.setattr(allocation, "TOGGLE_ROUNDS", 0)
    ratios = revenue_ratios()
    assert sum(r >= 1 - 1e-9 for r in ratios) >= 85
    assert np.mean(ratios) >= 0.94
    # In thousandths of the money and the revenue, the same choice.
    for saturation, b, ceiling, minimum, budget, cap in random_problems_with_minimums(100):
        spend = allocate_arrays(saturation, b, ceiling, budget, cap, minimum)
        k, small_cap = 1e-3, None if cap is None else cap * 1e-3
        small = allocate_arrays(
            saturation * k, b * k, ceiling * k, budget * k, small_cap, minimum * k
        )
        assert small == pytest.approx(spend * k, rel=1e-6, abs=1e-9)
