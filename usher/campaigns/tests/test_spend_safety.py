"""The spend-safety arithmetic, without a database: exposures never exceed the money."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from usher.campaigns.spend_safety import (
    BudgetMode,
    CampaignNeed,
    OverdeliveryRule,
    can_fund_a_minimum,
    ceil_cents,
    daily_budget_multiplier,
    daily_exposure,
    flight_weeks,
    lifetime_pace,
    plan_budgets,
    rolled_end,
    unreported_bound,
)

META = OverdeliveryRule(Decimal("1.75"), Decimal("7"))
GOOGLE = OverdeliveryRule(Decimal("2"), None)


def need(key, daily, days=10, rule=GOOGLE, minimum="1", **kw) -> CampaignNeed:
    weeks = [7] * (days // 7) + ([days % 7] if days % 7 else [])
    return CampaignNeed(
        key=key,
        desired_daily_budget=Decimal(daily),
        days_left=days,
        daily_multiplier=daily_budget_multiplier(rule, weeks),
        minimum_daily_budget=Decimal(minimum),
        day_factor=rule.daily_factor,
        **kw,
    )


def test_flight_weeks_split_the_days_left_by_calendar_week_in_the_account_zone():
    # Wednesday 2026-12-02 22:30 UTC is already Thursday in Bucharest.
    now = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)
    ends = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)  # a Tuesday
    assert flight_weeks(now, ends, "Europe/Bucharest") == [4, 7, 2]
    assert flight_weeks(now, ends, "UTC") == [5, 7, 2]
    assert flight_weeks(ends, now, "UTC") == []


def test_the_last_day_of_a_flight_is_its_date_in_the_account_zone():
    now = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)
    # Tuesday 22:30 UTC is already Wednesday in Bucharest: one more day to spend.
    ends = datetime(2026, 12, 15, 22, 30, tzinfo=UTC)
    assert flight_weeks(now, ends, "Europe/Bucharest") == [4, 7, 3]


def test_a_flight_ending_later_today_has_today_left_and_one_ending_now_has_nothing():
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    assert flight_weeks(now, datetime(2026, 12, 2, 18, 0, tzinfo=UTC), "UTC") == [1]
    assert flight_weeks(now, now, "UTC") == []
    # A flight ending on a Monday spends that Monday too.
    assert flight_weeks(now, datetime(2026, 12, 7, 12, 0, tzinfo=UTC), "UTC") == [5, 1]


def test_a_rolled_end_is_the_last_second_of_tomorrow_in_the_account_zone_or_the_flights_end():
    # Wednesday 2026-12-02 22:30 UTC is already Thursday in Bucharest.
    now = datetime(2026, 12, 2, 22, 30, tzinfo=UTC)
    flight_end = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)
    end = rolled_end(now, flight_end, "Europe/Bucharest")
    assert end == datetime(2026, 12, 4, 21, 59, 59, tzinfo=UTC)  # Friday 23:59:59 local
    assert flight_weeks(now, end, "Europe/Bucharest") == [2]  # today and tomorrow
    assert rolled_end(now, flight_end, "UTC") == datetime(2026, 12, 3, 23, 59, 59, tzinfo=UTC)
    sooner = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert rolled_end(now, sooner, "UTC") == datetime(2026, 12, 3, 11, 59, 59, tzinfo=UTC)


def test_a_rolled_end_on_a_flight_ending_at_midnight_counts_its_last_day_once():
    last_day = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    end = rolled_end(last_day, datetime(2026, 12, 4, 0, 0, tzinfo=UTC), "UTC")
    assert end == datetime(2026, 12, 3, 23, 59, 59, tzinfo=UTC)
    assert flight_weeks(last_day, end, "UTC") == [1]  # not the 4th, when nothing serves


def test_a_rolled_google_budget_exposes_two_days_of_over_delivery_not_the_flights():
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    end = rolled_end(now, datetime(2026, 12, 12, 0, 0, tzinfo=UTC), "UTC")
    assert daily_budget_multiplier(GOOGLE, flight_weeks(now, end, "UTC")) == Decimal("4")


def test_meta_weekly_cap_bounds_a_full_week_below_seven_days_of_daily_overdelivery():
    assert daily_budget_multiplier(META, [7]) == Decimal("7")
    assert daily_budget_multiplier(META, [2]) == Decimal("3.50")
    assert daily_budget_multiplier(GOOGLE, [7, 2]) == Decimal("18")


def test_campaigns_get_what_they_ask_when_the_remainder_covers_the_overdelivery():
    plan = plan_budgets(Decimal("1000"), [need("a", "20"), need("b", "30")])
    assert [(s.mode, s.daily_budget) for s in plan] == [
        (BudgetMode.DAILY, Decimal("20.00")),
        (BudgetMode.DAILY, Decimal("30.00")),
    ]
    assert sum(s.exposure for s in plan) == Decimal("1000")  # (20 + 30) x 2 x 10 days


def test_a_shrinking_remainder_moves_daily_budgets_to_lifetime_budgets():
    plan = plan_budgets(
        Decimal("300"), [need("a", "20", lifetime_spent=Decimal("55")), need("b", "20")]
    )
    assert all(s.mode == BudgetMode.LIFETIME for s in plan)
    # 400 wanted over 10 days at face value, 300 left: each gets 150 more than it spent.
    assert [s.lifetime_budget for s in plan] == [Decimal("205.00"), Decimal("150.00")]


def test_lifetime_budgets_keep_the_full_wish_when_only_the_overdelivery_does_not_fit():
    # Two daily budgets of 20 may spend 2 x 20 x 10 = 800; 500 covers the 400 they are
    # meant to spend, so as lifetime budgets they keep it all rather than shrink to 12.50.
    plan = plan_budgets(Decimal("500"), [need("a", "20"), need("b", "20")])
    assert [(s.mode, s.lifetime_budget) for s in plan] == [
        (BudgetMode.LIFETIME, Decimal("200.00")),
        (BudgetMode.LIFETIME, Decimal("200.00")),
    ]


def test_a_campaign_whose_platform_fixes_the_budget_type_at_publication_gets_a_lifetime_one():
    fixed, free = need("fixed", "20", type_fixed_at_publish=True), need("free", "20")
    plan = plan_budgets(Decimal("1000"), [fixed, free])  # both wishes fit as daily budgets
    assert [(s.mode, s.lifetime_budget) for s in plan] == [
        (BudgetMode.LIFETIME, Decimal("200.00")),
        (BudgetMode.DAILY, None),
    ]
    google = need("google", "20", type_fixed_at_publish=True, can_use_lifetime=False)
    assert plan_budgets(Decimal("1000"), [google])[0].mode == BudgetMode.DAILY


def test_a_platform_that_cannot_switch_keeps_a_lower_daily_budget():
    plan = plan_budgets(Decimal("200"), [need("a", "20", can_use_lifetime=False)])
    assert plan[0].mode == BudgetMode.DAILY
    assert plan[0].daily_budget == Decimal("10.00")


def test_a_campaign_below_the_platform_minimum_is_paused_and_its_share_goes_to_others():
    plan = plan_budgets(
        Decimal("100"),
        [
            need("small", "1", minimum="5", can_use_lifetime=False),
            need("big", "20", can_use_lifetime=False),
        ],
    )
    assert plan[0].mode == BudgetMode.PAUSED and plan[0].exposure == 0
    assert plan[1].daily_budget == Decimal("5.00")  # 100 / (2 x 10 days)


def test_a_squeeze_keeps_a_campaign_at_its_platform_minimum_while_the_others_take_the_cut():
    # Each wants 100 a day over 10 days on Google (2x): 2,000 of exposure each, 3,000
    # available. One factor (0.75) would put "at minimum" under its 100 minimum and
    # pause it for good; it keeps its minimum and "big" takes the cut (50 a day).
    plan = plan_budgets(
        Decimal("3000"),
        [
            need("at minimum", "100", minimum="100", can_use_lifetime=False),
            need("big", "100", minimum="5", can_use_lifetime=False),
        ],
    )
    assert [(s.mode, s.daily_budget) for s in plan] == [
        (BudgetMode.DAILY, Decimal("100")),
        (BudgetMode.DAILY, Decimal("50.00")),
    ]
    assert sum(s.exposure for s in plan) <= Decimal("3000")


def test_when_the_minimums_themselves_do_not_fit_every_wish_is_scaled_alike():
    plan = plan_budgets(
        Decimal("1500"),
        [
            need("at minimum", "100", minimum="100", can_use_lifetime=False),
            need("big", "100", minimum="5", can_use_lifetime=False),
        ],
    )
    # 0.375 of each wish: "at minimum" falls under its minimum and is paused, "big"
    # then takes what is left (1,500 over 2 x 10 days).
    assert plan[0].mode == BudgetMode.PAUSED
    assert (plan[1].mode, plan[1].daily_budget) == (BudgetMode.DAILY, Decimal("75.00"))


def test_nothing_left_pauses_everything():
    plan = plan_budgets(Decimal("0"), [need("a", "20"), need("b", "5")])
    assert {s.mode for s in plan} == {BudgetMode.PAUSED}


def test_daily_and_lifetime_budgets_are_scaled_by_one_factor_of_their_own_exposures():
    # a may move to a lifetime budget (exposes 20 x 10 days = 200), b may not (a daily
    # budget of 20 exposes 2 x 20 x 10 = 400 on Google): 300 is half of the 600 wanted.
    plan = plan_budgets(Decimal("300"), [need("a", "20"), need("b", "20", can_use_lifetime=False)])
    assert (plan[0].mode, plan[0].lifetime_budget) == (BudgetMode.LIFETIME, Decimal("100.00"))
    assert (plan[1].mode, plan[1].daily_budget) == (BudgetMode.DAILY, Decimal("10.00"))


def test_nothing_left_pauses_even_where_the_platform_has_no_minimum():
    plan = plan_budgets(
        Decimal("0"),
        [
            need("daily", "20", minimum="0", can_use_lifetime=False),
            need("lifetime", "20", minimum="0", mode=BudgetMode.LIFETIME),
        ],
    )
    assert [(s.mode, s.exposure) for s in plan] == [(BudgetMode.PAUSED, 0)] * 2


def test_small_budgets_down_to_the_platform_minimum_are_kept():
    plan = plan_budgets(
        Decimal("1000"),
        [
            need("daily", "1", minimum="0.50", can_use_lifetime=False),
            # 5 a day over 10 days is exactly the minimum lifetime budget (5 x 10).
            need("at minimum", "5", minimum="5", mode=BudgetMode.LIFETIME),
            need("cents", "0.10", minimum="0", mode=BudgetMode.LIFETIME),
        ],
    )
    assert (plan[0].mode, plan[0].daily_budget) == (BudgetMode.DAILY, Decimal("1.00"))
    assert (plan[1].mode, plan[1].lifetime_budget) == (BudgetMode.LIFETIME, Decimal("50.00"))
    assert (plan[2].mode, plan[2].lifetime_budget) == (BudgetMode.LIFETIME, Decimal("1.00"))


def test_a_lifetime_share_below_the_platforms_minimum_is_paused():
    plan = plan_budgets(
        Decimal("120"),
        [need("small", "2", minimum="5"), need("big", "30", minimum="5")],
    )
    # Squeezed into lifetime budgets: small's share (120 x 20/320 = 7.50) is below
    # 5 x 10 days; paused, its share goes to big.
    assert plan[0].mode == BudgetMode.PAUSED
    assert (plan[1].mode, plan[1].exposure) == (BudgetMode.LIFETIME, Decimal("120.00"))


money = st.decimals(min_value="0", max_value="5000", places=2)
needs_strategy = st.lists(
    st.builds(
        need,
        key=st.uuids(),
        daily=st.decimals(min_value="0", max_value="500", places=2),
        days=st.integers(min_value=0, max_value=60),
        rule=st.sampled_from([META, GOOGLE, OverdeliveryRule(Decimal("1.25"), None)]),
        minimum=st.decimals(min_value="0", max_value="50", places=2),
        lifetime_spent=st.decimals(min_value="0", max_value="1000", places=2),
        mode=st.sampled_from([BudgetMode.DAILY, BudgetMode.LIFETIME]),
        can_use_lifetime=st.booleans(),
        day_high=st.decimals(min_value="0", max_value="500", places=2),
    ),
    max_size=12,
)


@given(available=money, needs=needs_strategy)
def test_the_exposures_never_exceed_the_money_available(available, needs):
    plan = plan_budgets(available, needs)
    assert sum(s.exposure for s in plan) <= available
    for n, s in zip(needs, plan, strict=True):
        assert s.key == n.key and s.exposure >= 0
        if s.mode == BudgetMode.DAILY:
            assert n.minimum_daily_budget <= s.daily_budget <= n.desired_daily_budget
            assert s.exposure == daily_exposure(n, s.daily_budget)
            today = n.day_factor * max(n.day_high, s.daily_budget)
            assert s.exposure >= ceil_cents(today)  # today follows the day's highest budget
        elif s.mode == BudgetMode.LIFETIME:
            assert s.lifetime_budget - n.lifetime_spent == s.exposure
            assert s.exposure <= n.desired_daily_budget * n.days_left
        else:
            assert s.daily_budget is None and s.lifetime_budget is None and s.exposure == 0


@given(needs=needs_strategy)
def test_with_enough_money_every_campaign_keeps_its_wish(needs):
    plan = plan_budgets(Decimal("10000000"), needs)
    for n, s in zip(needs, plan, strict=True):
        runnable = n.desired_daily_budget >= max(n.minimum_daily_budget, Decimal("0.01"))
        if runnable and n.days_left > 0:
            assert s.mode == n.mode
            if s.mode == BudgetMode.DAILY:
                assert s.daily_budget == n.desired_daily_budget


def test_when_not_every_minimum_fits_the_campaigns_wished_most_run_at_theirs():
    """Eleven campaigns of a 3,000 budget whose minimums did not fit at once were all
    scaled under them and paused: the budget was declared exhausted at publication with
    nothing spent. The ones wished most run instead, each at least at its minimum."""
    needs = [
        need(k, daily=str(10 + k), days=21, minimum="10", can_use_lifetime=False) for k in range(11)
    ]
    exposure_of_a_minimum = Decimal(10) * needs[0].daily_multiplier
    available = exposure_of_a_minimum * 4 + Decimal("5")  # four minimums, not eleven
    plan = plan_budgets(available, needs)
    running = {s.key: s for s in plan if s.mode != BudgetMode.PAUSED}
    assert set(running) == {10, 9, 8, 7}  # the largest wishes
    assert all(s.daily_budget >= Decimal(10) for s in running.values())
    assert sum(s.exposure for s in plan) <= available
    # Not even one minimum: nothing runs (the budget is exhausted for real).
    assert all(s.mode == BudgetMode.PAUSED for s in plan_budgets(exposure_of_a_minimum / 2, needs))


def test_a_cut_during_the_day_lowers_the_days_after_today_not_today():
    """A platform's day cap follows the day's highest budget: a budget of 100 cut to 10
    at noon may still spend 200 that day, so only tomorrow's exposure falls."""
    running = need("a", daily="10", days=2, day_high=Decimal("100"), can_use_lifetime=False)
    assert daily_exposure(running, Decimal("10")) == Decimal("200") + Decimal("20")
    assert daily_exposure(running, Decimal("150")) == Decimal("600")  # a raise: 2 x 150 x 2
    fresh = need("a", daily="10", days=2)  # no budget in force today yet
    assert daily_exposure(fresh, Decimal("10")) == Decimal("40")


def test_a_plan_counts_the_days_highest_budget_and_pauses_when_even_today_does_not_fit():
    cut = need("a", daily="10", days=2, day_high=Decimal("100"), can_use_lifetime=False)
    other = need("b", daily="100", days=2, can_use_lifetime=False)
    kept, wished = plan_budgets(Decimal("620"), [cut, other])
    assert (kept.daily_budget, kept.exposure) == (Decimal("10"), Decimal("220"))
    assert (wished.daily_budget, wished.exposure) == (Decimal("100"), Decimal("400"))
    # Squeezed, the cut one still holds today's 200 (and its minimum's 2 for tomorrow):
    # the other gets what is left of 500, not of 500 - 40.
    kept, squeezed = plan_budgets(Decimal("500"), [cut, other])
    assert kept.exposure >= Decimal("202")
    assert kept.exposure + squeezed.exposure <= Decimal("500")
    # Less than today's 200 for the cut one: only a pause stops today's delivery.
    (paused,) = plan_budgets(Decimal("150"), [cut])
    assert paused.mode == BudgetMode.PAUSED and paused.exposure == 0


def test_under_a_squeeze_a_budget_is_cut_to_what_fits_beside_todays_highest():
    running = need("a", daily="100", days=3, day_high=Decimal("100"), can_use_lifetime=False)
    (squeezed,) = plan_budgets(Decimal("300"), [running])
    # Today 2 x 100 = 200 whatever is set; the two days after take the rest: 100 / 4.
    assert (squeezed.daily_budget, squeezed.exposure) == (Decimal("25"), Decimal("300"))


def test_on_the_last_day_anything_up_to_the_days_highest_costs_the_same():
    last_day = need("a", daily="150", days=1, day_high=Decimal("100"), can_use_lifetime=False)
    (kept,) = plan_budgets(Decimal("200"), [last_day])
    # 2 x 150 = 300 does not fit; 100 (today's highest) costs the 200 already exposed.
    assert (kept.daily_budget, kept.exposure) == (Decimal("100"), Decimal("200"))
    (raised,) = plan_budgets(Decimal("205"), [last_day])
    assert (raised.daily_budget, raised.exposure) == (Decimal("102.50"), Decimal("205"))
    (paused,) = plan_budgets(Decimal("199.99"), [last_day])
    assert paused.mode == BudgetMode.PAUSED


def test_what_was_reported_spent_today_no_longer_counts_as_exposure():
    """Today's cap covers what was spent today: at 18:00, with 150 of a 100 budget's
    200 spent, today may spend 50 more, not 200."""
    evening = need("a", daily="100", days=2, day_high=Decimal("100"), spent_today=Decimal("150"))
    assert daily_exposure(evening, Decimal("100")) == Decimal("50") + Decimal("200")
    # A report above today's cap (a late correction) frees no more than the cap.
    over = need("a", daily="100", days=2, day_high=Decimal("100"), spent_today=Decimal("260"))
    assert daily_exposure(over, Decimal("100")) == Decimal("200")
    # The plan counts it too: 260 covers today's rest and tomorrow's 2 x 105.
    cut = need(
        "a",
        daily="150",
        days=2,
        day_high=Decimal("100"),
        spent_today=Decimal("150"),
        can_use_lifetime=False,
    )
    (raised,) = plan_budgets(Decimal("260"), [cut])
    assert (raised.daily_budget, raised.exposure) == (Decimal("102.50"), Decimal("260"))


def test_the_exposure_in_force_is_counted_up_to_the_end_the_platform_has():
    """`daily_exposure` with the multiplier of the end in force (a rolled end not moved
    yet: today only) rather than the one the plan moves to."""
    running = need("a", daily="10", days=2, day_high=Decimal("10"))
    assert daily_exposure(running, Decimal("10"), Decimal("2")) == Decimal("20")
    assert daily_exposure(running, Decimal("10")) == Decimal("40")


def test_a_budget_is_exhausted_only_when_no_live_campaign_fits_at_its_minimum():
    meta_like = need("m", daily="10", days=3, rule=META, minimum="25")  # lifetime: 75
    google_like = need("g", daily="10", days=3, minimum="5", can_use_lifetime=False)  # 30
    assert can_fund_a_minimum(Decimal("75"), [meta_like])  # squeezed into a lifetime budget
    assert not can_fund_a_minimum(Decimal("74.99"), [meta_like])
    assert can_fund_a_minimum(Decimal("30"), [meta_like, google_like])
    assert not can_fund_a_minimum(Decimal("29.99"), [meta_like, google_like])
    over = need("o", daily="10", days=0, minimum="0")  # its flight is over
    assert not can_fund_a_minimum(Decimal("10"), [over])
    last_day = need("l", daily="10", days=1, minimum="5", can_use_lifetime=False)  # 2 x 5
    assert can_fund_a_minimum(Decimal("10"), [last_day])


def test_the_minimums_that_fit_exactly_are_all_funded():
    needs = [
        need(k, daily=str(10 + k), days=7, minimum="10", can_use_lifetime=False) for k in range(3)
    ]
    two_minimums = Decimal(10) * needs[0].daily_multiplier * 2
    plan = plan_budgets(two_minimums, needs)
    assert [s.mode != BudgetMode.PAUSED for s in plan] == [False, True, True]
    assert sum(s.exposure for s in plan) == two_minimums


def test_wishes_of_less_than_a_unit_are_scaled_too():
    tiny = [need(k, daily="0.10", days=2, minimum="0", can_use_lifetime=False) for k in "ab"]
    plan = plan_budgets(Decimal("0.40"), tiny)  # wished: 0.40 each
    assert [s.daily_budget for s in plan] == [Decimal("0.05"), Decimal("0.05")]


def test_what_a_live_campaign_may_have_spent_unreported_is_the_rest_of_todays_cap():
    # Google may spend twice the day's highest budget (40): 80, of which 30 reported.
    daily = need("d", "20", day_high=Decimal("40"), spent_today=Decimal("30"))
    assert unreported_bound(daily, None) == Decimal("50")
    # A lifetime budget stops the platform at its rest, whatever the day's pace allows.
    lifetime = need(
        "l", "20", day_high=Decimal("40"), spent_today=Decimal("30"), lifetime_spent=Decimal("480")
    )
    assert unreported_bound(lifetime, Decimal("500")) == Decimal("20")
    assert unreported_bound(lifetime, Decimal("600")) == Decimal("50")


def test_a_lifetime_budget_is_paced_over_the_days_left_from_what_was_left_at_dawn():
    today = need("l", "0", days=3, lifetime_spent=Decimal("400"), spent_today=Decimal("100"))
    assert lifetime_pace(today, Decimal("1000")) == Decimal("700") / 3
    assert lifetime_pace(today, Decimal("300")) == 0  # lowered under what was spent


def test_a_paused_campaign_keeps_its_hold_and_the_others_share_the_rest():
    # Paused lately (no wish), it may still report 300 of the hours before its pause.
    paused = need("paused", "0", unreported_hold=Decimal("300"))
    live = [need(k, "50", mode=BudgetMode.LIFETIME) for k in ("a", "b")]
    settings = {s.key: s for s in plan_budgets(Decimal("1000"), [paused, *live])}
    assert settings["paused"].mode == BudgetMode.PAUSED
    assert settings["paused"].exposure == Decimal("300")
    assert settings["a"].exposure == settings["b"].exposure == Decimal("350")


def test_a_campaign_whose_hold_covers_its_minimum_runs_on_rather_than_pause_for_nothing():
    # A flight's last evening: three lifetime campaigns may each still spend their rest
    # (150, 150, 140: all that is left) and wish 300. A pause frees nothing and a lower
    # lifetime budget may already be spent: each keeps running on its rest, none paused
    # (a squeeze that shared the money as if unspent paused all three with 440 left).
    rests = {"a": Decimal("150"), "b": Decimal("150"), "c": Decimal("140")}
    needs = [
        need(k, "300", days=1, minimum="100", mode=BudgetMode.LIFETIME, unreported_hold=hold)
        for k, hold in rests.items()
    ]
    settings = {s.key: s for s in plan_budgets(Decimal("440"), needs)}
    assert {k: s.mode for k, s in settings.items()} == dict.fromkeys(rests, BudgetMode.LIFETIME)
    assert {k: s.exposure for k, s in settings.items()} == rests
    assert {k: s.lifetime_budget for k, s in settings.items()} == rests  # nothing spent yet


def test_a_hold_under_the_minimum_pauses_and_its_money_stays_held():
    # Below the platform's minimum a campaign cannot run on its hold: paused, the hold
    # stays exposed, and the other shares what is left above both holds.
    small = need(
        "small", "30", minimum="30", mode=BudgetMode.LIFETIME, unreported_hold=Decimal("60")
    )
    big = need("big", "200", mode=BudgetMode.LIFETIME, unreported_hold=Decimal("80"))
    settings = {s.key: s for s in plan_budgets(Decimal("250"), [small, big])}
    assert settings["small"].mode == BudgetMode.PAUSED
    assert settings["small"].exposure == Decimal("60")
    assert settings["big"].exposure == Decimal("190")


@given(
    holds=st.lists(st.integers(0, 500), min_size=1, max_size=5),
    wishes=st.lists(st.integers(0, 300), min_size=1, max_size=5),
    lifetime=st.lists(st.booleans(), min_size=5, max_size=5),
    available=st.integers(0, 3000),
)
def test_exposures_cover_the_holds_and_never_exceed_the_money_unless_the_holds_alone_do(
    holds, wishes, lifetime, available
):
    needs = [
        need(
            str(k),
            str(w),
            minimum="25",
            unreported_hold=Decimal(h),
            mode=BudgetMode.LIFETIME if lifetime[k] else BudgetMode.DAILY,
            can_use_lifetime=lifetime[k],
        )
        for k, (h, w) in enumerate(zip(holds, wishes, strict=False))
    ]
    settings = plan_budgets(Decimal(available), needs)
    assert all(s.exposure >= n.unreported_hold for s, n in zip(settings, needs, strict=True))
    total = sum((s.exposure for s in settings), Decimal(0))
    floor = sum((n.unreported_hold for n in needs), Decimal(0))
    assert total <= max(Decimal(available), floor)


def test_yesterdays_unreported_rest_is_exposed_on_top_of_a_daily_budgets_days():
    # After midnight the platform may still report up to the rest of yesterday's cap:
    # whatever is set today, that money is gone, so today's budget is chosen from the rest.
    base = need("d", "50", days=3, can_use_lifetime=False)
    late = replace(base, earlier_days_unreported=Decimal("40"))
    late = replace(late, unreported_hold=unreported_bound(late, None))
    assert daily_exposure(late, Decimal("50")) == daily_exposure(base, Decimal("50")) + 40
    fits = daily_exposure(late, Decimal("50"))
    assert plan_budgets(fits, [late])[0].daily_budget == Decimal("50")
    [squeezed] = plan_budgets(fits - 10, [late])
    assert squeezed.daily_budget < Decimal("50") and squeezed.exposure <= fits - 10
    [paused] = plan_budgets(Decimal("30"), [late])  # not even yesterday's rest fits
    assert paused.mode == BudgetMode.PAUSED and paused.exposure == late.unreported_hold >= 40
