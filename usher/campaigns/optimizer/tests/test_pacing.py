"""Pacing never commits more than the money left (property tests)."""

from __future__ import annotations

import warnings
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usher.campaigns.optimizer import pacing

budgets_st = st.lists(st.floats(0.0, 5000.0), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    budgets=budgets_st,
    remaining=st.floats(0.0, 20000.0),
    max_ratio=st.floats(1.0, 2.0),
    share_left=st.floats(0.0, 1.0),
    max_scale=st.sampled_from([1.0, 4.0]),
    scale_per_budget=st.booleans(),
    weekly=st.booleans(),
    week_spent=st.floats(0.0, 10000.0),
    floor=st.one_of(st.none(), st.floats(0.0, 300.0)),
)
def test_fitted_budgets_never_spend_more_than_the_remainder(
    budgets,
    remaining,
    max_ratio,
    share_left,
    max_scale,
    scale_per_budget,
    weekly,
    week_spent,
    floor,
):
    budgets = np.array(budgets)
    rooms = np.full(len(budgets), 7.0 if weekly else np.inf)
    spent = np.full(len(budgets), week_spent)
    # One largest scale for all, or one each (the last day: none past its ceiling).
    tops = np.linspace(1.0, max_scale, len(budgets)) if scale_per_budget else max_scale
    floors = None if floor is None else np.full(len(budgets), floor)
    fitted = pacing.fit_to_remainder(
        budgets, remaining, max_ratio, share_left, rooms, spent, tops, floors
    )
    worst = pacing.worst_spend(fitted, max_ratio, share_left, rooms, spent).sum()
    assert worst <= remaining + 1e-6
    assert (fitted >= 0).all()
    assert (fitted <= budgets * tops + 1e-9).all()
    if max_scale == 1.0:
        assert (fitted <= budgets + 1e-9).all()


@settings(max_examples=100, deadline=None)
@given(budgets=budgets_st, max_ratio=st.floats(1.0, 2.0), share_left=st.floats(0.01, 1.0))
def test_budgets_that_fit_are_left_alone(budgets, max_ratio, share_left):
    budgets = np.array(budgets)
    worst = pacing.worst_spend(
        budgets, max_ratio, share_left, np.full(len(budgets), np.inf), np.zeros(len(budgets))
    )
    fitted = pacing.fit_to_remainder(budgets, float(worst.sum()) + 1.0, max_ratio, share_left)
    assert np.allclose(fitted, budgets)


def test_a_weekly_cap_bounds_a_days_spend_below_its_over_delivery():
    # Spent 6 daily budgets this week already: a 7x weekly cap leaves one.
    worst = pacing.worst_spend(np.array([100.0]), 1.75, 1.0, np.array([7.0]), np.array([600.0]))
    assert worst[0] == 100.0
    no_cap = pacing.worst_spend(np.array([100.0]), 1.75, 1.0, np.array([np.inf]), np.array([600.0]))
    assert no_cap[0] == 175.0


def test_the_daily_limit_cuts_every_days_spend_alike_even_under_a_weekly_cap():
    # Saturday: the capped campaign spent 1,900 this week; the day's plans sum to 1,050
    # where the limit leaves 1,000.
    planned = np.array([300.0, 500.0, 250.0])
    rooms = np.array([7.0, np.inf, np.inf])
    spent = np.array([1900.0, 0.0, 0.0])
    limited = pacing.fit_to_daily_limit(planned, 1000.0, rooms, spent, mean_ratio=1.0)
    assert limited.sum() <= 1000.0 + 1e-6
    # Scaling the raised budgets alike would leave the capped campaign 7 x 284 - 1,900 = 88.
    today = pacing.worst_spend(limited, 1.0, 1.0, rooms, spent)
    scale = limited[1] / planned[1]
    assert scale > 0.9
    assert np.allclose(today, planned * scale)


@settings(max_examples=200, deadline=None)
@given(
    budgets=budgets_st,
    room=st.floats(0.0, 20000.0),
    weekly=st.booleans(),
    week_spent=st.floats(0.0, 10000.0),
    mean_ratio=st.floats(0.5, 1.5),
    minimum=st.one_of(st.none(), st.floats(0.0, 500.0)),
)
def test_budgets_under_the_daily_limit_fit_it(
    budgets, room, weekly, week_spent, mean_ratio, minimum
):
    budgets = np.array(budgets)
    rooms = np.full(len(budgets), 7.0 if weekly else np.inf)
    spent = np.full(len(budgets), week_spent)
    minimums = None if minimum is None else np.full(len(budgets), minimum)
    limited = pacing.fit_to_daily_limit(budgets, room, rooms, spent, mean_ratio, minimums)
    assert (limited >= 0).all()
    assert limited.sum() <= room * (1 + 1e-9) + 1e-6
    if not weekly and budgets.sum() <= room:
        assert np.allclose(limited, budgets)


def test_the_daily_limit_cuts_the_budgets_above_their_minimum_while_the_minimums_fit():
    # 40 + 5 + 5 + 170 = 220 over a limit of 200: the cut falls on the two budgets above
    # their minimums; the 5-a-day ones, cut alike to 4.5, would be refused and paused.
    planned = np.array([40.0, 5.0, 5.0, 170.0])
    minimums = np.array([25.0, 5.0, 5.0, 100.0])
    none = np.full(4, np.inf)
    limited = pacing.fit_to_daily_limit(planned, 200.0, none, np.zeros(4), 1.0, minimums)
    assert limited.sum() == pytest.approx(200.0, rel=1e-6)
    assert (limited >= minimums - 1e-9).all()
    assert limited[1:3] == pytest.approx([5.0, 5.0])


@settings(max_examples=100, deadline=None)
@given(
    total=st.floats(0.0, 1e6),
    spent=st.floats(0.0, 1e6),
    in_force=st.floats(0.0, 1e4),
    first=st.integers(0, 23),
    hours=st.integers(0, 72),
    ratio=st.floats(1.0, 2.0),
    profile=st.one_of(st.none(), st.lists(st.floats(0.0, 1.0), min_size=24, max_size=24)),
)
def test_free_money_takes_off_the_worst_unreported_spend_and_is_never_negative(
    total, spent, in_force, first, hours, ratio, profile
):
    if profile is not None:
        weight = sum(profile) or 1.0
        profile = [p / weight for p in profile]
    share = pacing.share_of_hours(first, hours, profile)
    bound = pacing.unreported_spend_bound(in_force, share, ratio)
    if profile is not None:
        # At least the hours' own delivery, day by day.
        own = hours // 24 + min(1.0, sum(profile[(first + k) % 24] for k in range(hours % 24)))
        assert share >= own - 1e-9
    assert bound >= in_force * ratio * min(hours / 24, hours // 24 + 1) * (profile is None) - 1e-6
    free = pacing.free_money(total, spent, bound)
    assert 0.0 <= free <= max(total - spent, 0.0)


def test_evening_hours_hold_more_of_the_day_than_night_hours():
    profile = [0.01] * 12 + [0.07] * 12  # the second half of the day delivers 84%
    night = pacing.share_of_hours(0, 6, profile)
    evening = pacing.share_of_hours(18, 6, profile)
    assert evening > 5 * night
    assert evening >= 0.42 and pacing.share_of_hours(18, 30, profile) >= 1.42


def test_delivery_ratios_default_to_the_documented_maximum_until_there_is_data():
    assert pacing.max_delivery_ratio(np.zeros(0)) == pacing.DEFAULT_MAX_DELIVERY_RATIO
    ratios = pacing.delivery_ratios([110, 90, 120, 80, 100, 0], [100, 100, 100, 100, 100, 0])
    assert len(ratios) == 5
    assert 1.2 < pacing.max_delivery_ratio(ratios) < 1.3
    assert pacing.expected_delivery_ratio(ratios) == 1.0


def test_the_worst_delivery_ratio_leaves_the_documented_maximum_day_by_day():
    # A 3-day flight never sees five days: two days of 1.1 count for two fifths.
    seen = 1.1 * pacing.DELIVERY_RATIO_MARGIN
    two = pacing.max_delivery_ratio(np.array([1.1, 0.9]))
    assert two == pytest.approx(0.4 * seen + 0.6 * pacing.DEFAULT_MAX_DELIVERY_RATIO)
    four = pacing.max_delivery_ratio(np.array([1.1, 0.9, 1.0, 0.8]))
    assert seen < four < two < pacing.DEFAULT_MAX_DELIVERY_RATIO
    # A day worse than the documented maximum is believed at once.
    assert pacing.max_delivery_ratio(np.array([2.5])) == pytest.approx(
        2.5 * pacing.DELIVERY_RATIO_MARGIN
    )


def test_the_expected_delivery_ratio_is_the_mean_from_five_days_on():
    # Platforms that under-deliver: a mean of 0.8, read only once there are five days.
    four = np.array([0.7, 0.8, 0.9, 0.8])
    assert pacing.expected_delivery_ratio(four) == 1.0
    assert pacing.expected_delivery_ratio(np.append(four, 0.8)) == 0.8


def test_delivery_ratios_count_every_day_that_had_a_budget_and_are_floats():
    ratios = pacing.delivery_ratios(
        [Decimal("0.75"), Decimal("40.00"), 5], [Decimal("0.50"), Decimal("0"), 4]
    )
    assert ratios.dtype == float  # the ledger's Decimal money becomes plain numbers
    assert ratios.tolist() == [1.5, 1.25]  # a budget under 1 counts; none does not


def test_fitting_takes_the_ledgers_decimal_budgets():
    fitted = pacing.fit_to_remainder([Decimal("100.00")], 100.0, 2.0, 1.0)
    assert fitted.dtype == float and fitted[0] == pytest.approx(50.0)


def test_a_share_of_hours_counts_whole_days_and_at_most_one_day_for_the_rest():
    margin = pacing.HOUR_SHARE_MARGIN
    assert pacing.share_of_hours(5, 0) == 0.0
    assert pacing.share_of_hours(5, -3) == 0.0  # no hours: nothing unreported
    assert pacing.share_of_hours(0, 6) == pytest.approx(6 / 24 * margin)
    assert pacing.share_of_hours(0, 30) == pytest.approx(1 + 6 / 24 * margin)
    # 20 hours at the margin would be 1.25 days: a part of a day holds one day at most.
    assert pacing.share_of_hours(0, 20) == 1.0


def test_fitting_counts_on_the_weekly_cap_to_keep_a_budget():
    # 1.75 x 100 could be spent today, but the 7x weekly cap leaves 700 - 600 = 100: fits.
    fitted = pacing.fit_to_remainder([100.0], 100.0, 1.75, 1.0, [7.0], [Decimal("600.00")])
    assert fitted.tolist() == [100.0]


def test_with_room_to_grow_budgets_are_raised_by_the_largest_scale_allowed():
    fitted = pacing.fit_to_remainder([100.0, 50.0], 10_000.0, 2.0, 1.0, max_scale=2.0)
    assert fitted.tolist() == [200.0, 100.0]


def test_a_budget_at_its_platform_minimum_is_kept_while_the_others_cut_can_fit():
    # 300 free at 2x: 150 of budgets fit. Cutting all alike would put the 100 minimum at
    # 75 (refused, so paused); the other takes the whole cut instead.
    fitted = pacing.fit_to_remainder([100.0, 100.0], 300.0, 2.0, 1.0, floors=[100.0, 5.0])
    assert fitted.tolist() == pytest.approx([100.0, 50.0])
    assert pacing.worst_spend(fitted, 2.0, 1.0, np.full(2, np.inf), np.zeros(2)).sum() <= 300.0


def test_when_the_minimums_alone_do_not_fit_every_budget_is_cut_alike():
    fitted = pacing.fit_to_remainder([100.0, 100.0], 150.0, 2.0, 1.0, floors=[100.0, 100.0])
    assert fitted.tolist() == pytest.approx([37.5, 37.5])


def test_a_budget_is_never_raised_past_its_own_largest_scale():
    # The last day's rise: the second campaign is at its audience's ceiling.
    fitted = pacing.fit_to_remainder(
        [100.0, 100.0], 10_000.0, 2.0, 1.0, max_scale=np.array([4.0, 1.0])
    )
    assert fitted.tolist() == [400.0, 100.0]


def test_a_weekly_cap_without_spend_this_week_leaves_a_budget_that_fits_alone():
    assert pacing.fit_to_remainder([100.0], 1000.0, 1.75, 1.0, [7.0]).tolist() == [100.0]


def test_a_week_spent_past_its_cap_frees_no_money_for_other_budgets():
    # A budget lowered mid-week: 800 spent against a cap of 7 x 100 can spend nothing
    # more today, which must not count as -100 against the others' worst case.
    worst = pacing.worst_spend(np.array([100.0]), 1.75, 1.0, np.array([7.0]), np.array([800.0]))
    assert worst.tolist() == [0.0]


def test_worst_spend_takes_decimal_budgets_and_warns_of_nothing_without_a_weekly_cap():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inf x 0 for a paused budget without a weekly cap
        worst = pacing.worst_spend(
            [Decimal("100.00"), Decimal("0")], 1.75, 1.0, np.array([np.inf] * 2), np.zeros(2)
        )
    assert worst.tolist() == [175.0, 0.0]
