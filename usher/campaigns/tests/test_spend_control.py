"""Spend control against a platform that over-delivers as much as it is allowed to:
the budget is never overspent, and exhaustion pauses everything at once."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from usher.campaigns import ledger, services, spend_control
from usher.campaigns.models import (
    AdAccount,
    AutomatedCampaign,
    BudgetStatus,
    CampaignStatus,
    OptimizationLogEntry,
)
from usher.campaigns.spend_safety import ceil_cents
from usher.campaigns.tests.factories import report_hour_after, report_spend
from usher.campaigns.tests.fakes import FakeCampaignsConnector
from usher.platforms.base import PlatformError

pytestmark = pytest.mark.django_db


def overdeliver(platform, campaign: AutomatedCampaign, week_spent: Decimal) -> Decimal:
    """The most the platform may spend on one day under the campaign's settings."""
    fake = platform.campaigns[campaign.reference]
    if not fake.active:
        return Decimal(0)
    if fake.lifetime_budget is not None:
        return fake.lifetime_budget - ledger.spent_on(campaign)  # all of it, today
    daily = fake.daily_budget
    return max(Decimal(0), min(daily * Decimal("1.75"), daily * 7 - week_spent))


def test_a_whole_flight_of_maximal_overdelivery_never_overspends(live_campaigns, platform):
    budget = live_campaigns[0].budget
    zone = ZoneInfo("Europe/Bucharest")
    spent_by_week: dict[tuple[int, int], Decimal] = {}
    day_start = timezone.now()
    for day in range(21):
        now = day_start + timedelta(days=day)
        spend_control.rebalance_budget(budget.pk, now=now)
        local_day = now.astimezone(zone).date()
        week = local_day.isocalendar()[:2]
        for campaign in live_campaigns:
            campaign.refresh_from_db()
            key = (campaign.pk, *week)
            amount = overdeliver(platform, campaign, spent_by_week.get(key, Decimal(0)))
            spent_by_week[key] = spent_by_week.get(key, Decimal(0)) + amount
            report_spend(campaign, local_day, amount)
        balances = ledger.balances(budget)
        assert balances.spent <= balances.total, f"overspent on day {day}"
        assert balances.spent + balances.outstanding <= balances.total
    budget.refresh_from_db()
    assert budget.spent_budget > Decimal("900")  # the money was used, not just hoarded
    assert budget.spent_budget <= budget.total_budget


def test_a_rolled_end_reserves_two_days_of_over_delivery_and_moves_forward_each_day(
    rolling_campaigns, platform
):
    campaign = rolling_campaigns[0]
    zone = ZoneInfo("Europe/Bucharest")
    fake = platform.campaigns[campaign.reference]
    tomorrow = timezone.localdate(timezone=zone) + timedelta(days=1)
    assert fake.end_time.astimezone(zone).date() == tomorrow  # published rolled, not to day 20
    held = ledger.balances(campaign.budget).outstanding_by_campaign[campaign.pk]
    # Published first, alone, then cut the same day as the others were published: today
    # may still spend twice the day's highest budget, tomorrow twice the one in force
    # (not twice over 20 days).
    campaign.refresh_from_db()
    assert campaign.day_high_budget > fake.daily_budget
    first_high = campaign.day_high_budget
    assert held == first_high * 2 + fake.daily_budget * 2

    platform.calls.clear()
    next_day = timezone.now() + timedelta(days=1)
    spend_control.rebalance_budget(campaign.budget_id, now=next_day)
    assert fake.end_time.astimezone(zone).date() == tomorrow + timedelta(days=1)
    assert ("set_end_time", fake.published.campaign_id) in platform.calls
    campaign.refresh_from_db()
    assert campaign.platform_ends_at == fake.end_time
    # Yesterday's hours may still be reported (twice its highest budget, cut or not),
    # on top of today and tomorrow, until the account's reports reach past midnight and
    # past this morning's move of the end.
    held = ledger.balances(campaign.budget).outstanding_by_campaign[campaign.pk]
    assert held == first_high * 2 + fake.daily_budget * 2 * 2
    report_hour_after(campaign, campaign.unreported_since, Decimal("1.00"))  # today's
    spend_control.rebalance_budget(campaign.budget_id, now=next_day)
    held = ledger.balances(campaign.budget).outstanding_by_campaign[campaign.pk]
    assert held == fake.daily_budget * 2 * 2 - Decimal("1.00")

    platform.calls.clear()  # the same day again: nothing to move
    spend_control.rebalance_budget(campaign.budget_id, now=timezone.now() + timedelta(days=1))
    assert ("set_end_time", fake.published.campaign_id) not in platform.calls


def test_rolled_ends_with_maximal_over_delivery_until_each_end_never_overspend(
    rolling_campaigns, platform
):
    budget = rolling_campaigns[0].budget
    zone = ZoneInfo("Europe/Bucharest")
    day_start = timezone.now()
    for day in range(21):
        now = day_start + timedelta(days=day)
        spend_control.rebalance_budget(budget.pk, now=now)
        for campaign in rolling_campaigns:
            fake = platform.campaigns[campaign.reference]
            serving = fake.active and fake.end_time is not None and now < fake.end_time
            amount = fake.daily_budget * 2 if serving else Decimal(0)
            report_spend(campaign, now.astimezone(zone).date(), amount)
        balances = ledger.balances(budget)
        assert balances.spent + balances.outstanding <= balances.total, f"day {day}"
    budget.refresh_from_db()
    assert budget.spent_budget > Decimal("900")


def test_a_cut_during_the_day_keeps_that_days_highest_budget_reserved(rolling_campaigns, platform):
    """A day's over-delivery follows the day's highest budget: a Google budget cut at
    14:00 may still spend twice its morning budget that day. The money of the cut must
    not go to the others before the day is over."""
    budget = rolling_campaigns[0].budget
    first = rolling_campaigns[0]
    zone = ZoneInfo("Europe/Bucharest")
    day = timezone.localdate(timezone=zone) + timedelta(days=1)
    highest: dict[str, Decimal] = {}  # each campaign's highest budget of `day`

    def rebalance_at(hour: int) -> None:
        spend_control.rebalance_budget(
            budget.pk, now=datetime.combine(day, time(hour), tzinfo=zone)
        )
        for campaign in rolling_campaigns:
            fake = platform.campaigns[campaign.reference]
            if fake.active:
                highest[campaign.reference] = max(
                    highest.get(campaign.reference, Decimal(0)), fake.daily_budget
                )

    def worst_case() -> Decimal:
        """What the platform may still spend: twice each day's highest budget on `day`,
        twice the budget in force on every later day until the campaign's end."""
        total = Decimal(0)
        for campaign in rolling_campaigns:
            fake = platform.campaigns[campaign.reference]
            if fake.active:
                later_days = (fake.end_time.astimezone(zone).date() - day).days
                total += 2 * highest[campaign.reference] + 2 * fake.daily_budget * later_days
        return total

    # Their day of publication is reported (an hour of `day` came in): all of it is in.
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    report_hour_after(rolling_campaigns[-1], midnight, Decimal("0.01"))
    AutomatedCampaign.objects.filter(budget=budget).update(desired_daily_budget=Decimal("200"))
    rebalance_at(8)  # squeezed: 1,000 shared by three wishes of 2 x 200 x 2 days
    assert worst_case() <= budget.total_budget
    AutomatedCampaign.objects.filter(pk=first.pk).update(desired_daily_budget=Decimal("5"))
    rebalance_at(14)
    assert platform.campaigns[first.reference].daily_budget == Decimal("5")
    assert worst_case() <= budget.total_budget  # the old release gave the others 1,156
    held = ledger.balances(budget).outstanding_by_campaign[first.pk]
    assert held == 2 * highest[first.reference] + 2 * Decimal("5")

    rebalance_at(23)  # nothing changed: the cut one's today is still held
    assert ledger.balances(budget).outstanding_by_campaign[first.pk] == held


def test_a_shrinking_remainder_lowers_daily_budgets_then_moves_to_lifetime(
    live_campaigns, platform
):
    budget = live_campaigns[0].budget
    before = {c.pk: platform.campaigns[c.reference].daily_budget for c in live_campaigns}
    for campaign in live_campaigns:
        report_spend(campaign, timezone.localdate(), Decimal("150"))
    spend_control.rebalance_budget(budget.pk)
    after = [platform.campaigns[c.reference] for c in live_campaigns]
    assert all(
        f.lifetime_budget is not None or f.daily_budget < before[c.pk]
        for f, c in zip(after, live_campaigns, strict=True)
    )
    balances = ledger.balances(budget)
    assert balances.spent + balances.outstanding <= balances.total


def test_exhaustion_pauses_every_campaign_on_its_platform(live_campaigns, platform):
    budget = live_campaigns[0].budget
    for campaign in live_campaigns:
        report_spend(campaign, timezone.localdate(), Decimal("333"))
    result = spend_control.rebalance_budget(budget.pk)
    assert result.exhausted
    assert not any(platform.campaigns[c.reference].active for c in live_campaigns)
    budget.refresh_from_db()
    assert budget.status == BudgetStatus.EXHAUSTED
    assert OptimizationLogEntry.objects.filter(budget=budget, kind="exhaustion").exists()
    # A top-up brings them back.
    services.confirm_payment(
        budget.pk, reference="TRF-2", amount_received=Decimal("500"), user=None
    )
    spend_control.rebalance_budget(budget.pk)
    assert all(platform.campaigns[c.reference].active for c in live_campaigns)


def test_wishes_under_the_platform_minimum_pause_campaigns_but_do_not_exhaust_the_budget(
    live_campaigns, platform
):
    """Eleven campaigns sharing 3,000 by equal split wished 12.39 a day each, under Meta's
    25 and TikTok's 100: every one was paused and the budget declared exhausted at
    publication, nothing spent and the optimizer never run again. Money that covers a
    campaign at its minimum is no exhausted budget."""
    budget = live_campaigns[0].budget
    AutomatedCampaign.objects.filter(budget=budget).update(desired_daily_budget=Decimal("2.00"))
    result = spend_control.rebalance_budget(budget.pk)  # the fake's minimum is 5
    assert not result.exhausted
    assert not any(platform.campaigns[c.reference].active for c in live_campaigns)
    budget.refresh_from_db()
    assert budget.status == BudgetStatus.ACTIVE
    assert not OptimizationLogEntry.objects.filter(budget=budget, kind="exhaustion").exists()
    # Wished at the minimum again (the optimizer's choice), they run.
    AutomatedCampaign.objects.filter(budget=budget).update(desired_daily_budget=Decimal("5.00"))
    spend_control.rebalance_budget(budget.pk)
    assert all(platform.campaigns[c.reference].active for c in live_campaigns)


def reports_reach_past_the_changes(campaigns, now=None) -> None:
    """Each campaign's account reports an hour after spend control's last change to it,
    then a rebalance: what the changes held is free."""
    for campaign in campaigns:
        campaign.refresh_from_db()
        report_hour_after(campaign, campaign.unreported_since, Decimal("0.50"))
    spend_control.rebalance_budget(campaigns[0].budget_id, now=now)


def test_pausing_a_budget_pauses_its_campaigns_and_resuming_restores_them(
    live_campaigns, platform, django_capture_on_commit_callbacks
):
    budget = live_campaigns[0].budget
    with django_capture_on_commit_callbacks(execute=True):
        services.change_budget_status(budget.pk, BudgetStatus.PAUSED, user=None)
    assert not any(platform.campaigns[c.reference].active for c in live_campaigns)
    # What they may have spent before the pause stays reserved until reported.
    assert ledger.balances(budget).outstanding > 0
    reports_reach_past_the_changes(live_campaigns)
    assert ledger.balances(budget).outstanding == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.change_budget_status(budget.pk, BudgetStatus.ACTIVE, user=None)
    assert all(platform.campaigns[c.reference].active for c in live_campaigns)


def test_a_pause_keeps_what_its_platform_may_still_report_until_its_reports_pass_it(
    live_campaigns, platform
):
    # TikTok, paused at 19:00 of a flight's last day, reported 56 more spent after the
    # pause had released its reservation to the others.
    budget = live_campaigns[0].budget
    paused = live_campaigns[0]
    paused.refresh_from_db()
    report_spend(paused, timezone.localdate(), Decimal("40.00"))
    AutomatedCampaign.objects.filter(pk=paused.pk).update(desired_daily_budget=0)
    spend_control.rebalance_budget(budget.pk)
    paused.refresh_from_db()
    assert paused.status == CampaignStatus.PAUSED
    assert not platform.campaigns[paused.reference].active
    # Today's cap under Meta's 1.75 over-delivery of the lifetime budget's pace, less
    # the 40 reported: what the platform may have spent and not reported yet.
    held = ledger.balances(budget).outstanding_by_campaign[paused.pk]
    assert held == paused.unreported_ceiling - Decimal("40.00") > 0
    # An hour later, and with a call to the account since, it is still held.
    AdAccount.objects.filter(pk=paused.ad_account_id).update(last_success_at=timezone.now())
    an_hour_later = timezone.now() + timedelta(hours=1)
    spend_control.rebalance_budget(budget.pk, now=an_hour_later)
    assert ledger.balances(budget).outstanding_by_campaign[paused.pk] == held
    # The late report of its last hours: what it shows is spent, the hold shrinks by as much.
    report_spend(paused, timezone.localdate(), Decimal("50.00"))
    spend_control.rebalance_budget(budget.pk, now=an_hour_later)
    assert ledger.balances(budget).outstanding_by_campaign[paused.pk] == held - Decimal("10.00")
    # The hour the pause fell in is reported (by another campaign of the account): its
    # hours before the pause may not all be in yet.
    report_hour_after(live_campaigns[1], paused.unreported_since - timedelta(hours=1), Decimal(2))
    spend_control.rebalance_budget(budget.pk, now=an_hour_later)
    assert ledger.balances(budget).outstanding_by_campaign[paused.pk] == held - Decimal("10.00")
    # A later hour of another campaign of the account is reported: the pause's hours are all in.
    report_hour_after(live_campaigns[1], paused.unreported_since, Decimal("3.00"))
    spend_control.rebalance_budget(budget.pk, now=an_hour_later)
    assert ledger.balances(budget).outstanding_by_campaign[paused.pk] == 0
    balances = ledger.balances(budget)
    assert balances.spent + balances.outstanding <= balances.total


def test_an_account_that_reports_nothing_later_frees_a_pause_a_day_after_it(
    live_campaigns, platform
):
    budget = live_campaigns[0].budget
    AutomatedCampaign.objects.filter(budget=budget).update(desired_daily_budget=0)
    spend_control.rebalance_budget(budget.pk)
    assert ledger.balances(budget).outstanding > 0
    pause = AutomatedCampaign.objects.filter(budget=budget).first().unreported_since
    account = live_campaigns[0].ad_account
    a_day_later = pause + spend_control.REPORTS_SETTLE
    # A day has passed, but no call to the account succeeded since: held.
    spend_control.rebalance_budget(budget.pk, now=a_day_later)
    assert ledger.balances(budget).outstanding > 0
    AdAccount.objects.filter(pk=account.pk).update(last_success_at=a_day_later)
    spend_control.rebalance_budget(budget.pk, now=a_day_later)
    assert ledger.balances(budget).outstanding == 0


def test_a_lowered_lifetime_budget_keeps_what_the_platform_may_have_spent_unreported(
    live_campaigns, platform
):
    # On a flight's last day a lifetime budget may spend all of its rest in any hour: a
    # cut under it may already be spent, so it frees nothing until the reports pass it.
    budget = live_campaigns[0].budget
    campaign = live_campaigns[0]
    campaign.refresh_from_db()
    last_day = campaign.ends_at - timedelta(hours=2)
    rest = campaign.lifetime_budget
    AutomatedCampaign.objects.filter(pk=campaign.pk).update(desired_daily_budget=Decimal("6.00"))
    spend_control.rebalance_budget(budget.pk, now=last_day)
    campaign.refresh_from_db()
    assert platform.campaigns[campaign.reference].lifetime_budget == Decimal("6.00")
    assert ledger.balances(budget).outstanding_by_campaign[campaign.pk] == rest
    # Reported past the cut: it exposes its share of the day, 6, from what it spent (1).
    report_hour_after(campaign, last_day, Decimal("1.00"))
    spend_control.rebalance_budget(budget.pk, now=last_day)
    assert ledger.balances(budget).outstanding_by_campaign[campaign.pk] == Decimal("6.00")
    assert platform.campaigns[campaign.reference].lifetime_budget == Decimal("7.00")


def test_a_failed_platform_cut_keeps_the_money_reserved(live_campaigns, platform):
    budget = live_campaigns[0].budget
    before = ledger.balances(budget).outstanding_by_campaign
    on_platform = {c.pk: platform.campaigns[c.reference].lifetime_budget for c in live_campaigns}
    AutomatedCampaign.objects.update(desired_daily_budget=Decimal("6.00"))  # cut them all
    platform.fail_next.extend([PlatformError("transient", "down")] * len(live_campaigns))
    result = spend_control.rebalance_budget(budget.pk)
    assert [a.ok for a in result.applied] == [False] * len(live_campaigns)
    assert ledger.balances(budget).outstanding_by_campaign == before
    assert {c.pk: platform.campaigns[c.reference].lifetime_budget for c in live_campaigns} == (
        on_platform
    )
    spend_control.rebalance_budget(budget.pk)  # the platform is back: the cut and release
    assert ledger.balances(budget).outstanding < sum(before.values())


def test_campaigns_complete_when_their_flight_ends_and_free_their_money(live_campaigns, platform):
    budget = live_campaigns[0].budget
    after_the_event = live_campaigns[0].ends_at + timedelta(hours=1)
    spend_control.rebalance_budget(budget.pk, now=after_the_event)
    for campaign in live_campaigns:
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.COMPLETED
        assert not platform.campaigns[campaign.reference].active
    # Their last hours are reported later: their money is free once they are.
    assert ledger.balances(budget).outstanding > 0
    reports_reach_past_the_changes(live_campaigns, now=after_the_event)
    assert ledger.balances(budget).outstanding == 0


def test_a_rebalance_that_changes_no_setting_calls_no_platform_and_writes_no_row(
    live_campaigns, platform
):
    budget = live_campaigns[0].budget
    spend_control.rebalance_budget(budget.pk)
    calls, rows = len(platform.calls), budget.ledger.count()
    written = dict(budget.campaigns.values_list("pk", "updated_at"))
    spend_control.rebalance_budget(budget.pk, now=timezone.now() + timedelta(minutes=30))
    assert len(platform.calls) == calls
    assert budget.ledger.count() == rows
    assert dict(budget.campaigns.values_list("pk", "updated_at")) == written


def test_a_steady_campaign_is_committed_again_what_its_reported_spend_used(
    daily_campaigns, platform
):
    budget = daily_campaigns[0].budget
    # small enough that the remainder never binds: the settings stay as they are
    AutomatedCampaign.objects.filter(budget=budget).update(desired_daily_budget=Decimal("6.00"))
    spend_control.rebalance_budget(budget.pk)
    before = {c.pk: platform.campaigns[c.reference].daily_budget for c in daily_campaigns}
    open_before = ledger.balances(budget).outstanding_by_campaign
    calls = len(platform.calls)
    report_spend(daily_campaigns[0], timezone.localdate(), Decimal("1.00"))
    spend_control.rebalance_budget(budget.pk)
    assert {c.pk: platform.campaigns[c.reference].daily_budget for c in daily_campaigns} == before
    assert len(platform.calls) == calls  # nothing changed on the platform
    # The commitment covers again all the platform may spend under its settings: the
    # spend reported today was part of today's cap, so that cap is 1.00 smaller now.
    expected = {**open_before, daily_campaigns[0].pk: open_before[daily_campaigns[0].pk] - 1}
    assert ledger.balances(budget).outstanding_by_campaign == expected


def test_settling_leaves_a_campaign_someone_changed_since_it_was_read(live_campaigns, platform):
    budget = live_campaigns[0].budget
    spend_control.rebalance_budget(budget.pk)
    stale = AutomatedCampaign.objects.get(pk=live_campaigns[0].pk)
    AutomatedCampaign.objects.filter(pk=stale.pk).update(budget_version=stale.budget_version + 1)
    open_before = ledger.balances(budget).outstanding_by_campaign[stale.pk]
    spend_control.settle_steady(budget.pk, {stale: Decimal("0.00")}, timezone.now())
    assert ledger.balances(budget).outstanding_by_campaign[stale.pk] == open_before
    fresh = AutomatedCampaign.objects.get(pk=stale.pk)
    spend_control.settle_steady(budget.pk, {fresh: Decimal("0.00")}, timezone.now())
    assert ledger.balances(budget).outstanding_by_campaign[fresh.pk] == Decimal("0.00")


def test_budget_changes_wait_for_the_platforms_hourly_limit_keeping_the_last_for_a_cut(
    daily_campaigns, platform, monkeypatch
):
    # Meta refuses a fifth budget change of an ad set within an hour (error 17): spend
    # control does not make the call, so staff see no error on the account, and keeps the
    # hour's last change for a cut, which frees money.
    monkeypatch.setattr(FakeCampaignsConnector, "budget_changes_per_hour", 4, raising=False)
    budget, campaign = daily_campaigns[0].budget, daily_campaigns[0]
    # the others at the minimum, so the money covers every wish below
    AutomatedCampaign.objects.update(budget_changes=[], desired_daily_budget=Decimal("5.00"))
    start = timezone.now()
    fake = platform.campaigns[campaign.reference]

    def wish(daily: str, minutes: int) -> spend_control.Applied:
        AutomatedCampaign.objects.filter(pk=campaign.pk).update(desired_daily_budget=daily)
        result = spend_control.rebalance_budget(budget.pk, now=start + timedelta(minutes=minutes))
        return next(a for a in result.applied if a.campaign_id == campaign.pk)

    for daily, minutes in [("10.00", 0), ("12.00", 10), ("10.00", 20)]:
        assert wish(daily, minutes).ok
    assert fake.daily_budget == Decimal("10.00")
    calls = len(platform.calls)
    held = ledger.balances(budget).outstanding_by_campaign[campaign.pk]
    raised = wish("12.00", 30)  # the fourth change of the hour is kept for a cut
    assert not raised.ok and "hourly budget changes" in raised.reason
    assert len(platform.calls) == calls and fake.daily_budget == Decimal("10.00")
    assert ledger.balances(budget).outstanding_by_campaign[campaign.pk] == held
    assert wish("8.00", 40).ok and fake.daily_budget == Decimal("8.00")  # a cut may use it
    assert not wish("6.00", 50).ok and fake.daily_budget == Decimal("8.00")  # none left
    assert AdAccount.objects.get(pk=campaign.ad_account_id).last_error == ""
    # An hour after the first change one is free again, for a cut; after the second's
    # hour, a raise goes through.
    assert not wish("12.00", 61).ok
    assert wish("12.00", 71).ok and fake.daily_budget == Decimal("12.00")
    campaign.refresh_from_db()
    assert len(campaign.budget_changes) == 3  # the hour's: at 20, 40 and 71 minutes


def test_a_change_after_midnight_frees_yesterdays_rest_once_midnight_is_reported(
    daily_campaigns, platform
):
    # A cut at 06:00 holds what the campaign may not have reported yet: the rest of
    # yesterday's cap and of today's. Once the reports pass midnight (03:00, say),
    # yesterday is in, and only today's part stays held until they pass 06:00.
    budget, campaign = daily_campaigns[0].budget, daily_campaigns[0]
    zone = ZoneInfo("Europe/Bucharest")
    today = timezone.localdate(timezone=zone)
    last_day = today + timedelta(days=1)
    AutomatedCampaign.objects.filter(budget=budget).update(
        ends_at=datetime.combine(last_day, time(23, 59), tzinfo=zone)
    )
    report_spend(campaign, today, Decimal("10.00"), hour=21)  # reported until 22:00
    six = datetime.combine(last_day, time(6, 0), tzinfo=zone)
    AutomatedCampaign.objects.filter(pk=campaign.pk).update(desired_daily_budget=Decimal("6.00"))
    spend_control.rebalance_budget(budget.pk, now=six)
    campaign.refresh_from_db()
    assert campaign.daily_budget == Decimal("6.00") and campaign.unreported_since == six
    yesterdays_rest = Decimal("1.75") * spend_control.previous_days_high(campaign, last_day) - 10
    todays_rest = Decimal("1.75") * campaign.day_high_budget
    assert yesterdays_rest > 0
    held = ledger.balances(budget).outstanding_by_campaign[campaign.pk]
    assert held >= yesterdays_rest + todays_rest
    # Yesterday's last hours come in (2.00 more), and an hour after midnight: what the
    # change held of yesterday is free, today's part is not.
    report_spend(campaign, today, Decimal("12.00"), hour=23)
    report_hour_after(
        daily_campaigns[1], datetime.combine(last_day, time(2, 30), tzinfo=zone), Decimal("0.01")
    )
    spend_control.rebalance_budget(budget.pk, now=six + timedelta(minutes=30))
    assert ledger.balances(budget).outstanding_by_campaign[campaign.pk] == ceil_cents(todays_rest)


def test_after_midnight_a_daily_budget_keeps_what_yesterday_may_still_report(
    daily_campaigns, platform
):
    # Reports lag: at 00:30 yesterday's last hours may not be in, and the platform may
    # have spent the rest of yesterday's cap in them. Until an hour of today is
    # reported, that rest stays reserved on top of today's cap.
    budget, campaign = daily_campaigns[0].budget, daily_campaigns[0]
    zone = ZoneInfo("Europe/Bucharest")
    today = timezone.localdate(timezone=zone)
    last_day = today + timedelta(days=1)  # the flight ends tonight: today's cap is all
    AutomatedCampaign.objects.filter(budget=budget).update(
        ends_at=datetime.combine(last_day, time(23, 59), tzinfo=zone)
    )
    report_spend(campaign, today, Decimal("10.00"), hour=21)  # reported until 22:00
    after_midnight = datetime.combine(last_day, time(0, 30), tzinfo=zone)
    spend_control.rebalance_budget(budget.pk, now=after_midnight)
    campaign.refresh_from_db()
    yesterdays_rest = Decimal("1.75") * spend_control.previous_days_high(campaign, last_day) - 10
    todays_cap = Decimal("1.75") * spend_control.days_highest_budget(campaign, last_day)
    held = ledger.balances(budget).outstanding_by_campaign[campaign.pk]
    assert yesterdays_rest > 0
    assert held >= yesterdays_rest + todays_cap
    balances = ledger.balances(budget)
    assert balances.spent + balances.outstanding <= balances.total
    # Today's first hour is reported (another campaign of the account): yesterday is in.
    report_hour_after(daily_campaigns[1], after_midnight, Decimal("0.01"))
    spend_control.rebalance_budget(budget.pk, now=after_midnight + timedelta(hours=1))
    campaign.refresh_from_db()
    todays_cap = ceil_cents(Decimal("1.75") * spend_control.days_highest_budget(campaign, last_day))
    assert ledger.balances(budget).outstanding_by_campaign[campaign.pk] == todays_cap
