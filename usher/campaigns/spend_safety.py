"""How much each campaign of a budget may be given without the budget ever being
overspent: pure arithmetic, no database, no platform.

The rule: what the platforms may still spend under the budgets in force, with no further
action by Usher, never exceeds the budget's remainder. A platform may spend more than a
daily budget on a given day (Meta up to 75 % more, within 7 daily budgets per calendar
week; Google up to 2x), so a daily budget `d` of a campaign that runs `n` more days
exposes `d x (over-delivery allowance over those days)`, not `d x n`. A lifetime budget
is a hard cap: it exposes exactly what is left of it. So as the remainder shrinks, daily
budgets are scaled down together, moved to lifetime budgets where the platform allows,
and campaigns that would fall below the platform's minimum are paused.

A day's over-delivery follows the highest daily budget of that day (Google states it;
the others say nothing of budgets edited during a day, so the same is assumed): a budget
cut during a day may still spend `daily_factor x` the earlier one that day, so a cut
lowers the days after today, not today (`daily_exposure`); only a pause stops today.
What was reported spent today is part of that day's cap, so it no longer counts as
exposure (reports lag behind spend, never ahead: the true rest of the day is less).

Because reports lag, a change never undoes what the platform spent before it: a pause
or a cut still exposes what the platform may have spent and not reported yet (its
`unreported_hold`: the rest of today's cap, a lifetime budget's rest at most), until
the reports reach past the change. So a pause frees only what exceeds the hold, and a
campaign whose hold covers its minimum is kept running rather than paused for nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_UP, Decimal
from enum import StrEnum

from usher.lib.timezones import zone_named

# Rounding down to the cent: rounding up could expose a cent too many.
from usher.platforms.campaigns_common import round_down_to_cents as floor_cents

CENT = Decimal("0.01")
ZERO = Decimal("0")
SECOND = timedelta(seconds=1)


def ceil_cents(amount: Decimal) -> Decimal:
    """Round away from zero to the cent: an exposure is never under-reserved."""
    return amount.quantize(CENT, rounding=ROUND_UP)


@dataclass(frozen=True)
class OverdeliveryRule:
    """What a platform may spend per daily budget (from its connector)."""

    daily_factor: Decimal  # at most this many daily budgets on one day
    weekly_factor: Decimal | None  # at most this many daily budgets per calendar week


def flight_weeks(now: datetime, ends_at: datetime, timezone: str) -> list[int]:
    """The platform days left in the flight (today included, in the account's time
    zone), grouped by calendar week (Monday first): `[3, 7, 2]` is the rest of this week,
    a full week and two days. Empty once the flight is over."""
    zone = zone_named(timezone)
    first: date = now.astimezone(zone).date()
    last: date = ends_at.astimezone(zone).date()
    if ends_at <= now or last < first:
        return []
    weeks: list[int] = []
    day = first
    while day <= last:
        week_end = min(last, day + timedelta(days=6 - day.weekday()))
        weeks.append((week_end - day).days + 1)
        day = week_end + timedelta(days=1)
    return weeks


def rolled_end(now: datetime, ends_at: datetime, timezone: str) -> datetime:
    """The end time to give a campaign on a platform that serves nothing past it and lets
    it move (Google): the last second of tomorrow in the account's time zone, or the
    flight's last second if that comes first, moved forward by every day's first
    rebalance.

    A daily budget may spend twice over every day until its campaign ends, so with the
    flight's end on the platform it exposed 2x for every day left: on a 3-day flight a
    Google budget held 8 daily budgets of the remainder and spend control cut every
    campaign to about half of its wish. Rolled, it exposes today and tomorrow; tomorrow
    is the margin that keeps the campaign serving when a day's first rebalance is late
    (if none comes at all, the campaign stops at the end of tomorrow: safe).

    The flight's last second, not its end: a flight ending at 00:00 serves nothing on
    that date, and an end at 00:00 counted it as one more day of 2x (`flight_weeks`),
    which doubled a Google budget's reserve on the flight's last day. The campaign
    stops a second early."""
    zone = zone_named(timezone)
    after_tomorrow = now.astimezone(zone).date() + timedelta(days=2)
    return min(ends_at, datetime.combine(after_tomorrow, time(), tzinfo=zone)) - SECOND


def daily_budget_multiplier(rule: OverdeliveryRule, weeks: Sequence[int]) -> Decimal:
    """The most a platform may spend, in daily budgets, over the days in `weeks`."""
    total = ZERO
    for days in weeks:
        per_week = rule.daily_factor * days
        if rule.weekly_factor is not None:
            per_week = min(per_week, rule.weekly_factor)
        total += per_week
    return total


class BudgetMode(StrEnum):
    DAILY = "daily"
    LIFETIME = "lifetime"
    PAUSED = "paused"


@dataclass(frozen=True)
class CampaignNeed:
    """One campaign's wish and its platform's rules, as the allocator sees them."""

    key: Hashable
    desired_daily_budget: Decimal
    days_left: int
    daily_multiplier: Decimal  # `daily_budget_multiplier` over the days left
    minimum_daily_budget: Decimal
    lifetime_spent: Decimal = ZERO  # reported spend so far (lifetime budgets include it)
    mode: BudgetMode = BudgetMode.DAILY  # its budget type on the platform now
    can_use_lifetime: bool = True  # the platform lets it move to a lifetime budget
    # Publishing fixes its budget type for the flight (Meta, TikTok): not yet published.
    type_fixed_at_publish: bool = False
    # `daily_multiplier` up to the end time the platform has now, where that differs from
    # the one this need plans with (a rolled end not moved yet); None: the same.
    multiplier_in_force: Decimal | None = None
    # The highest daily budget in force today (the account's day; 0: none), and the
    # platform's `daily_factor`: today may spend that many of it whatever is set now.
    day_high: Decimal = ZERO
    day_factor: Decimal = ZERO
    spent_today: Decimal = ZERO  # reported spend of today (the account's day)
    # What its platform may still report for hours already past, whatever is set now
    # (`unreported_bound` while live; after a change, until the reports pass it).
    unreported_hold: Decimal = ZERO
    # What a daily budget may have spent on earlier days and not reported yet (the rest
    # of yesterday's cap until the reports pass midnight): exposed on top of today's.
    earlier_days_unreported: Decimal = ZERO


@dataclass(frozen=True)
class BudgetSetting:
    """What to set on the platform, and the most it may spend from now on under it."""

    key: Hashable
    mode: BudgetMode
    daily_budget: Decimal | None
    lifetime_budget: Decimal | None
    exposure: Decimal


def _spent_of_todays_cap(need: CampaignNeed) -> Decimal:
    """Today's reported spend, as far as today's cap under the day's highest budget
    covers it (a raise's larger cap is not counted on: the smaller credit is safe)."""
    return min(need.spent_today, need.day_factor * need.day_high)


def daily_exposure(
    need: CampaignNeed, daily: Decimal, multiplier: Decimal | None = None
) -> Decimal:
    """The most a daily budget `daily` may spend from now on: its over-delivery over the
    days left (`multiplier`: the need's unless given), today at least `day_factor x` the
    day's highest budget, which a cut during the day does not lower, less what was
    reported spent of that today."""
    multiplier = need.daily_multiplier if multiplier is None else multiplier
    overhang = need.day_factor * max(need.day_high - daily, ZERO)
    today_on = max(daily * multiplier + overhang - _spent_of_todays_cap(need), ZERO)
    return ceil_cents(today_on + need.earlier_days_unreported)


def unreported_bound(need: CampaignNeed, lifetime_budget: Decimal | None) -> Decimal:
    """The most a live campaign may have spent that its platform has not reported yet:
    the rest of today's cap under the day's highest budget (a lifetime budget's even
    pace, `day_high`, over-delivers like a daily one), and no more than a lifetime
    budget's rest. TikTok, paused at 19:00 of a flight's last day, reported 56 more
    spent after the pause had released its reservation to the others."""
    return ceil_cents(todays_unreported_bound(need, lifetime_budget) + need.earlier_days_unreported)


def todays_unreported_bound(need: CampaignNeed, lifetime_budget: Decimal | None) -> Decimal:
    """`unreported_bound`'s part of today alone (the account's day)."""
    today = max(need.day_factor * need.day_high - _spent_of_todays_cap(need), ZERO)
    if lifetime_budget is not None:
        today = min(today, max(lifetime_budget - need.lifetime_spent, ZERO))
    return today


def lifetime_pace(need: CampaignNeed, lifetime_budget: Decimal) -> Decimal:
    """A lifetime budget's even daily pace today: the platforms spread what was left at
    the day's start over the days left, today included."""
    left_at_dawn = lifetime_budget - need.lifetime_spent + need.spent_today
    return max(left_at_dawn, ZERO) / max(need.days_left, 1)


def paused_setting(need: CampaignNeed) -> BudgetSetting:
    """A pause: it exposes what the platform may still report of the hours before it."""
    return BudgetSetting(need.key, BudgetMode.PAUSED, None, None, need.unreported_hold)


def _daily_for_cap(need: CampaignNeed, cap: Decimal) -> Decimal:
    """The highest daily budget (whole cents) whose `daily_exposure` fits in `cap`; 0
    when none does (not even the day's highest budget's today fits)."""
    cap += _spent_of_todays_cap(need) - need.earlier_days_unreported
    if cap >= need.daily_multiplier * need.day_high:
        return floor_cents(cap / need.daily_multiplier)
    # Below the day's highest budget: today costs `day_factor x` it whatever is set, the
    # days after today (there are some: on the last day the multiplier is the day's
    # factor, so a cap covering today covers the day's highest budget, above) the rest.
    today = need.day_factor * need.day_high
    if cap < today:
        return ZERO
    return floor_cents((cap - today) / (need.daily_multiplier - need.day_factor))


def _exposure(need: CampaignNeed, mode: BudgetMode, daily: Decimal) -> Decimal:
    """What `daily` a day exposes in `mode`: over-delivery for daily budgets, the plain
    number of days for lifetime budgets (a hard cap, paced by the platform)."""
    if mode == BudgetMode.DAILY:
        return daily_exposure(need, daily)
    return ceil_cents(daily * need.days_left)


def _mode_for(need: CampaignNeed, squeezed: bool) -> BudgetMode:
    """Lifetime where the platform allows it and either the wishes do not fit now or
    publishing fixes the budget type for the flight. A budget meant to be spent ends
    with a remainder near what is left to spend at face value, which daily budgets'
    over-delivery cannot fit: published daily on such a platform, a campaign is
    squeezed late in the flight and cannot move to lifetime then. Before Google's end
    was rolled (`rolled_end`), its flight-long reserve squeezed suites like the
    example's at publication, which put their Meta and TikTok campaigns on lifetime
    budgets by accident; this keeps them there on purpose."""
    if need.mode == BudgetMode.LIFETIME:
        return BudgetMode.LIFETIME  # platforms do not reliably switch back
    if need.can_use_lifetime and (squeezed or need.type_fixed_at_publish):
        return BudgetMode.LIFETIME
    return BudgetMode.DAILY


def _wanted(need: CampaignNeed, mode: BudgetMode) -> Decimal:
    return max(_exposure(need, mode, need.desired_daily_budget), need.unreported_hold)


def _setting(need: CampaignNeed, mode: BudgetMode, cap: Decimal) -> BudgetSetting:
    """The budget whose exposure fits in `cap` (whole cents, at least the need's hold:
    what the platform may still report whatever is set), or a pause."""
    paused = paused_setting(need)
    hold = need.unreported_hold
    if mode == BudgetMode.DAILY:
        daily = min(need.desired_daily_budget, _daily_for_cap(need, cap))
        if daily <= 0 or daily < need.minimum_daily_budget:
            return paused
        exposure = max(daily_exposure(need, daily), hold)  # <= cap: cap is whole cents
        return BudgetSetting(need.key, mode, daily, None, exposure)
    share = min(cap, floor_cents(need.desired_daily_budget * need.days_left))
    if share <= 0 or share < need.minimum_daily_budget * need.days_left:
        return paused
    return BudgetSetting(need.key, mode, None, need.lifetime_spent + share, max(share, hold))


def _minimum_exposure(need: CampaignNeed, mode: BudgetMode) -> Decimal:
    """The exposure of the campaign's platform minimum in `mode`."""
    return _exposure(need, mode, need.minimum_daily_budget)


def _floor(need: CampaignNeed, mode: BudgetMode, wanted: Decimal) -> Decimal:
    """The exposure of the campaign's platform minimum (its whole wish if that is less)."""
    return min(wanted, _minimum_exposure(need, mode))


def _caps(
    available: Decimal,
    live: Sequence[CampaignNeed],
    modes: dict[Hashable, BudgetMode],
    wanted: dict[Hashable, Decimal],
) -> dict[Hashable, Decimal]:
    """Each campaign's exposure cap: its wish when all fit; else one factor on the wishes,
    a campaign the factor would take under its platform minimum held at that minimum
    while the minimums fit (the others take the cut); when not even they fit, the
    campaigns wished most at their minimums (`_fund_what_fits`).

    The allocator funds a campaign at its minimum only when that minimum pays for itself
    (docs/optimizer.md), and a platform refuses less: scaling it under the minimum pauses
    it for a cut of a few percent. On a 3-day flight a squeeze paused TikTok
    retargeting, asked at its 100 minimum, for the whole flight while the others kept
    almost all of their wishes.

    Every cap is at least the campaign's `unreported_hold`, which no setting lowers: a
    hold is a floor like a minimum, and when not even the floors fit, the minimums are
    funded from what is left above the holds. Shared as if there were none, a campaign
    capped under its hold was paused and its pause freed nothing; with the holds taken
    from the money afterwards, the next round paused the others, and a flight's last
    evening ended with every campaign paused and 440 unspent."""
    if sum(wanted.values(), ZERO) <= available:
        return dict(wanted)
    holds = {n.key: n.unreported_hold for n in live}
    floors = {n.key: max(_floor(n, modes[n.key], wanted[n.key]), holds[n.key]) for n in live}
    if sum(floors.values(), ZERO) > available:
        above = max(available - sum(holds.values(), ZERO), ZERO)
        extra = {k: floors[k] - holds[k] for k in floors}
        funded = _fund_what_fits(above, wanted, extra)
        return {k: holds[k] + funded[k] for k in wanted}
    held: set[Hashable] = set()
    while True:
        free = sum((w for k, w in wanted.items() if k not in held), ZERO)
        rest = available - sum((floors[k] for k in held), ZERO)
        scale = min(Decimal(1), rest / free) if free > 0 else ZERO
        more = {k for k, w in wanted.items() if k not in held and w * scale < floors[k]}
        if not more:
            break
        held |= more
    return {k: floors[k] if k in held else floor_cents(w * scale) for k, w in wanted.items()}


def _fund_what_fits(
    available: Decimal, wanted: dict[Hashable, Decimal], floors: dict[Hashable, Decimal]
) -> dict[Hashable, Decimal]:
    """When not every minimum fits: the campaigns wished most, each at its minimum, while
    theirs fit; nothing for the others (paused: `plan_budgets` then shares the money
    among the funded ones). One factor for all took every campaign under its minimum
    and paused the whole suite: eleven campaigns of a 3,000 budget, whose minimums did
    not fit at once, had the budget declared exhausted at publication, nothing spent."""
    funded: dict[Hashable, Decimal] = {}
    used = ZERO
    for key in sorted(wanted, key=lambda k: wanted[k], reverse=True):
        if used + floors[key] <= available:
            funded[key] = floors[key]
            used += floors[key]
    return {k: funded.get(k, ZERO) for k in wanted}


def can_fund_a_minimum(available: Decimal, needs: Sequence[CampaignNeed]) -> bool:
    """Whether `available` covers at least one live campaign at its platform minimum (in
    the budget type it would get when squeezed). Only when none fits is a budget
    exhausted: wishes under the minimums pause campaigns, but the optimizer can still
    fund some of them at their minimums. Holds are spent whatever is set: a campaign
    needs only what its minimum exposes above its own hold, from what is left above all
    of them."""
    above = available - sum((n.unreported_hold for n in needs), ZERO)
    return any(
        _minimum_exposure(n, _mode_for(n, squeezed=True)) - n.unreported_hold <= above
        for n in needs
        if n.days_left > 0
    )


def plan_budgets(available: Decimal, needs: Sequence[CampaignNeed]) -> list[BudgetSetting]:
    """Budgets for `needs` whose exposures sum to at most `available`.

    Campaigns get what they ask for when it fits. Otherwise every campaign is scaled by
    one factor (so the allocator's proportions survive), except those the factor would
    take under their platform's minimum, which keep the minimum while the minimums fit
    (`_caps`); daily budgets move to lifetime budgets where allowed (a lifetime budget
    exposes only what it is), and a campaign that still falls below its platform's
    minimum is paused, its share handed to the others on the next round.

    A paused campaign keeps its `unreported_hold` (spend before the pause that its
    platform reports later): the others share what is left after the holds.
    """
    available = max(available, ZERO)
    live = [n for n in needs if n.desired_daily_budget > 0 and n.days_left > 0]
    settings: dict[Hashable, BudgetSetting] = {}
    squeezed = sum(_wanted(n, n.mode) for n in live) > _room(available, needs, live)
    modes = {n.key: _mode_for(n, squeezed) for n in live}
    while True:
        room = _room(available, needs, live)
        wanted = {n.key: _wanted(n, modes[n.key]) for n in live}
        caps = _caps(room, live, modes, wanted)
        settings = {n.key: _setting(n, modes[n.key], caps[n.key]) for n in live}
        still = [n for n in live if settings[n.key].mode != BudgetMode.PAUSED]
        if len(still) == len(live) or sum(wanted.values(), ZERO) <= room:
            break
        live = still  # pausing freed what exceeds its hold: share it among the rest
    return [settings.get(n.key) or paused_setting(n) for n in needs]


def _room(
    available: Decimal, needs: Sequence[CampaignNeed], live: Sequence[CampaignNeed]
) -> Decimal:
    """What is left for the `live` campaigns once the others' holds are kept."""
    keys = {n.key for n in live}
    holds = sum((n.unreported_hold for n in needs if n.key not in keys), ZERO)
    return max(available - holds, ZERO)
