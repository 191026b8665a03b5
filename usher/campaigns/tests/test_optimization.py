"""The hourly optimization job: the optimizer's inputs read from what Usher stored, its
decisions applied through spend control and publishing, each one logged; staff
overrides win until lifted; recommendations stored for the panel."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from usher.campaigns import optimization, publishing
from usher.campaigns.models import (
    AdAccount,
    AdCampaignBudget,
    AutomatedCampaign,
    CampaignAttribution,
    CampaignMetrics,
    CampaignStatus,
    DecisionKind,
    OptimizationLogEntry,
)
from usher.campaigns.optimizer import cycle
from usher.campaigns.optimizer import decisions as opt
from usher.campaigns.tests.factories import AdAccountFactory
from usher.marketplace.models import MarketplaceClient
from usher.marketplace.tests.factories import OrderFactory
from usher.platforms.base import PlatformError

pytestmark = pytest.mark.django_db


def decision(kind, campaign, rule=opt.DecisionRule.ALLOCATION, **fields) -> opt.Decision:
    return opt.Decision(
        kind=kind,
        rule=rule,
        campaign_id=str(campaign.pk),
        reason="because the model says so",
        numbers={"marginal_roas": 1.5},
        expected_effect="about 2.0 sales today",
        plan_day=0,
        **fields,
    )


@pytest.fixture
def decide(monkeypatch):
    """Make the optimizer answer the given decisions and advice."""

    def answer(decisions, recommendations=()):
        result = opt.CycleResult(tuple(decisions), tuple(recommendations), ())
        monkeypatch.setattr(optimization, "run_cycle", lambda state, **kw: result)

    return answer


def test_the_job_applies_each_decision_on_the_platform_and_logs_it(
    daily_campaigns, platform, decide
) -> None:
    lowered, paused, rotated = daily_campaigns
    ad = rotated.creatives.get()
    ad_id = ad.external_ad_id
    decide(
        [
            decision(opt.DecisionKind.SET_BUDGET, lowered, daily_budget=Decimal("6.00")),
            decision(opt.DecisionKind.PAUSE_CAMPAIGN, paused, rule=opt.DecisionRule.CPA_GUARD),
            decision(
                opt.DecisionKind.PAUSE_CREATIVE,
                rotated,
                rule=opt.DecisionRule.CREATIVE_TEST,
                creative_id=ad_id,
            ),
        ],
        [opt.Recommendation(opt.RecommendationKind.SATURATED, "retargeting is saturated")],
    )
    outcome = optimization.optimize_budget(lowered.budget_id)
    assert (outcome.decisions, outcome.applied, outcome.recommendations) == (3, 3, 1)
    for campaign in (lowered, paused):
        campaign.refresh_from_db()
    assert lowered.desired_daily_budget == lowered.daily_budget == Decimal("6.00")
    assert platform.campaigns[lowered.reference].daily_budget == Decimal("6.00")
    assert paused.status == CampaignStatus.PAUSED and paused.desired_daily_budget == 0
    assert not platform.campaigns[paused.reference].active
    assert ("set_ad_status", ad_id) in platform.calls
    ad.refresh_from_db()
    assert not ad.is_active
    log = OptimizationLogEntry.objects.filter(actor_label="optimizer")
    entries = {(e.campaign_id, e.kind): e for e in log.exclude(kind=DecisionKind.RECOMMENDATION)}
    assert set(entries) == {
        (lowered.pk, DecisionKind.BUDGET_CHANGE),
        (paused.pk, DecisionKind.PAUSE),
        (rotated.pk, DecisionKind.CREATIVE_ROTATION),
    }
    budget_entry = entries[(lowered.pk, DecisionKind.BUDGET_CHANGE)]
    assert budget_entry.applied and budget_entry.numbers["daily_budget"] == "6.00"
    assert budget_entry.numbers["rule"] == "allocation" and budget_entry.numbers["plan_day"] == 0
    assert budget_entry.reason.startswith("allocation: because")
    assert budget_entry.expected_effect == "about 2.0 sales today"
    advice = log.get(kind=DecisionKind.RECOMMENDATION)
    assert not advice.applied and advice.numbers["recommendation"] == "saturated"


def test_what_the_optimizer_did_is_read_back_into_its_next_inputs(
    daily_campaigns, platform, decide
) -> None:
    lowered, paused, _ = daily_campaigns
    decide(
        [
            decision(opt.DecisionKind.SET_BUDGET, lowered, daily_budget=Decimal("6.00")),
            decision(opt.DecisionKind.PAUSE_CAMPAIGN, paused, rule=opt.DecisionRule.CPA_GUARD),
        ]
    )
    optimization.optimize_budget(lowered.budget_id)
    state = _state(lowered.budget)
    by_id = {c.campaign_id: c for c in state.campaigns}
    assert by_id[str(lowered.pk)].budget_set_day == 0
    assert by_id[str(lowered.pk)].daily_budget == Decimal("6.00")
    assert by_id[str(paused.pk)].paused_by_rule and not by_id[str(paused.pk)].active


def test_a_decision_the_platform_refuses_is_logged_as_not_applied(
    daily_campaigns, platform, decide
) -> None:
    campaign = daily_campaigns[0]
    decide([decision(opt.DecisionKind.SET_BUDGET, campaign, daily_budget=Decimal("6.00"))])
    platform.fail_next = [PlatformError("transient", "service unavailable", platform="meta")]
    outcome = optimization.optimize_budget(campaign.budget_id)
    assert (outcome.applied, outcome.refused) == (0, 1)
    entry = OptimizationLogEntry.objects.get(actor_label="optimizer", campaign=campaign)
    assert not entry.applied
    # Not applied: the optimizer has not set this day's budget and will decide again.
    assert _campaign_state(campaign).budget_set_day is None


def test_the_inputs_carry_reported_hours_and_usher_attributed_orders(
    daily_campaigns, event
) -> None:
    campaign = daily_campaigns[0]
    budget = campaign.budget
    start = optimization.flight_of(budget, daily_campaigns).start
    for hour in range(24):
        CampaignMetrics.objects.create(
            campaign=campaign,
            level="campaign",
            object_id=campaign.external_campaign_id,
            date=start.date(),
            hour=hour,
            spend=Decimal("1.50"),
            conversions=Decimal("0.5"),
            conversion_value=Decimal("60"),
        )
    order = OrderFactory(event=event, placed_at=start + timedelta(hours=5), tickets_count=3)
    CampaignAttribution.objects.create(
        order=order, campaign=campaign, matched_by="fbc", value=Decimal("180"), currency="RON"
    )
    state = optimization.suite_state(
        budget,
        daily_campaigns,
        optimization.flight_of(budget, daily_campaigns),
        start + timedelta(days=1, hours=2),
    )
    day = state.campaigns[0].days[0]
    assert day.spend == pytest.approx(36.0) and day.complete
    assert day.platform_conversions == pytest.approx(12.0)
    assert (day.attributed_conversions, day.attributed_revenue) == (1, 180.0)
    assert state.reported_hours == 24 and state.hour_of_flight == 26
    assert state.hourly_profile is None  # only finished days before yesterday count
    assert state.total_budget == Decimal("1000.00")


def _hour_reported(campaign, day, hour, spend="1.00") -> None:
    CampaignMetrics.objects.create(
        campaign=campaign,
        level="campaign",
        object_id=campaign.external_campaign_id,
        date=day,
        hour=hour,
        spend=Decimal(spend),
    )


def test_the_flight_keeps_the_accounts_own_days_when_they_are_not_utc(daily_campaigns, event):
    """A Bucharest account reports local days and resets budgets at local midnight: the
    optimizer's days are those days, and an order at 00:30 local (22:30 UTC the day
    before) belongs to the local day its campaign's spend was reported on."""
    campaign = daily_campaigns[0]
    AdAccount.objects.filter(pk=campaign.ad_account_id).update(timezone="Europe/Bucharest")
    campaigns = _published(campaign.budget)
    flight = optimization.flight_of(campaign.budget, campaigns)
    assert str(flight.zone) == "Europe/Bucharest"
    assert flight.start.astimezone(flight.zone).time() == datetime.min.time()
    local_start = flight.start.date()
    _hour_reported(campaign, local_start, 0, spend="2.00")
    _hour_reported(campaign, local_start, 23, spend="3.00")
    order = OrderFactory(event=event, placed_at=flight.start + timedelta(minutes=30))
    CampaignAttribution.objects.create(
        order=order, campaign=campaign, matched_by="fbc", value=Decimal("90"), currency="RON"
    )

    state = optimization.suite_state(
        campaign.budget, campaigns, flight, flight.start + timedelta(days=1, hours=1)
    )

    day0 = state.campaigns[0].days[0]
    assert day0.spend == pytest.approx(5.0) and day0.complete
    assert (day0.attributed_conversions, day0.attributed_revenue) == (1, 90.0)
    assert state.hour_of_flight == 25 and state.reported_hours == 24


def test_accounts_in_several_zones_are_read_on_the_marketplaces_clock(daily_campaigns):
    """Google reports in UTC, Meta in Bucharest time: each hour lands on the marketplace's
    local hour, so a day of one account is not half of two days of the other."""
    utc_campaign, local_campaign = daily_campaigns[0], daily_campaigns[1]
    AdAccount.objects.filter(pk=utc_campaign.ad_account_id).update(timezone="UTC")
    local_account = AdAccountFactory(
        client=local_campaign.budget.client, platform="meta", timezone="Europe/Bucharest"
    )
    AutomatedCampaign.objects.filter(pk=local_campaign.pk).update(ad_account=local_account)
    MarketplaceClient.objects.filter(pk=utc_campaign.budget.client_id).update(
        timezone="Europe/Bucharest"
    )
    budget = AdCampaignBudget.objects.select_related("client").get(pk=utc_campaign.budget_id)
    campaigns = _published(budget)
    flight = optimization.flight_of(budget, campaigns)
    assert str(flight.zone) == "Europe/Bucharest"
    local_start = flight.start.date()
    utc_hour = flight.start.astimezone(UTC)  # 22:00 or 21:00 UTC the day before
    _hour_reported(utc_campaign, utc_hour.date(), utc_hour.hour, spend="4.00")
    _hour_reported(local_campaign, local_start, 0, spend="6.00")

    state = optimization.suite_state(budget, campaigns, flight, flight.start + timedelta(hours=2))

    by_id = {c.campaign_id: c for c in state.campaigns}
    assert by_id[str(utc_campaign.pk)].days[0].spend == pytest.approx(4.0)
    assert by_id[str(local_campaign.pk)].days[0].spend == pytest.approx(6.0)
    assert state.reported_hours == 1


def test_an_account_whose_campaigns_stopped_does_not_hold_back_the_suites_report(
    daily_campaigns,
):
    """A paused campaign reports no new hours: its account's last row must not make every
    later hour of the other accounts count as unreported spend."""
    reporting, stopped = daily_campaigns[0], daily_campaigns[1]
    other_account = AdAccountFactory(client=stopped.budget.client, platform="meta")
    AutomatedCampaign.objects.filter(pk=stopped.pk).update(
        ad_account=other_account, status=CampaignStatus.PAUSED
    )
    campaigns = _published(reporting.budget)
    flight = optimization.flight_of(reporting.budget, campaigns)
    for hour in range(20):
        _hour_reported(reporting, flight.start.date(), hour)
    _hour_reported(stopped, flight.start.date(), 3)  # paused after its fourth hour

    state = optimization.suite_state(
        reporting.budget, campaigns, flight, flight.start + timedelta(hours=21)
    )

    assert state.reported_hours == 20  # not 4
    # Were the stopped account the only one, its report is still the suite's.
    AutomatedCampaign.objects.filter(budget=reporting.budget).update(status=CampaignStatus.PAUSED)
    paused = _published(reporting.budget)
    assert (
        optimization.suite_state(
            reporting.budget, paused, flight, flight.start + timedelta(hours=21)
        ).reported_hours
        == 4
    )


def test_an_unknown_time_zone_runs_the_flight_on_utc(daily_campaigns):
    campaign = daily_campaigns[0]
    AdAccount.objects.filter(pk=campaign.ad_account_id).update(timezone="Mars/Olympus_Mons")
    flight = optimization.flight_of(campaign.budget, _published(campaign.budget))
    assert str(flight.zone) == "UTC" and flight.start.hour == 0


def test_each_creative_carries_the_orders_its_landing_tag_brought(daily_campaigns, event) -> None:
    """The creative test compares variants on Usher's own orders: an order's
    `utm_content` (the variant's landing URL tag) says which creative sold it."""
    campaign = daily_campaigns[0]
    campaign.creatives.update(external_ad_id="ad-a")
    campaign.creatives.create(
        variant="B", headline="h", landing_url="https://tix.example/e", external_ad_id="ad-b"
    )
    for n, variant in enumerate(["B", "B", "A", "B"]):
        order = OrderFactory(event=event, utm_content=f"{campaign.campaign_type}-{variant}")
        CampaignAttribution.objects.create(
            order=order, campaign=campaign, matched_by="utm", value=Decimal(10 + n), currency="RON"
        )
    other = OrderFactory(event=event, utm_content=f"{campaign.campaign_type}-B")
    CampaignAttribution.objects.create(  # another campaign's sale is not this one's
        order=other, campaign=daily_campaigns[1], matched_by="utm", value=1, currency="RON"
    )
    creatives = {c.name: c for c in _campaign_state(campaign).creatives}
    assert (creatives["A"].attributed_conversions, creatives["B"].attributed_conversions) == (1, 3)


def test_a_staff_override_wins_over_the_optimizer_until_lifted(daily_campaigns, platform) -> None:
    held = daily_campaigns[0]
    publishing.override_daily_budget(held.pk, Decimal("7.00"), user=None, reason="staff test")
    optimization.optimize_budget(held.budget_id)
    optimization.optimize_budget(held.budget_id)  # the same day: logged once
    held.refresh_from_db()
    assert held.daily_budget == Decimal("7.00")
    assert platform.campaigns[held.reference].daily_budget == Decimal("7.00")
    [kept] = OptimizationLogEntry.objects.filter(actor_label="optimizer", campaign=held)
    assert kept.kind == DecisionKind.OVERRIDE and kept.overridden
    others = OptimizationLogEntry.objects.filter(
        actor_label="optimizer", kind=DecisionKind.BUDGET_CHANGE
    )
    assert {e.campaign_id for e in others} == {c.pk for c in daily_campaigns[1:]}
    publishing.lift_budget_override(held.pk, user=None)
    # The next flight day at the hour its rebalance is due even without yesterday's
    # report (a day later by the clock alone is before it from 22:00 UTC on).
    flight = optimization.flight_of(held.budget, daily_campaigns)
    tomorrow = flight.start + timedelta(days=1, hours=cycle.REBALANCE_LATEST_HOUR)
    optimization.optimize_budget(held.budget_id, now=tomorrow)
    assert OptimizationLogEntry.objects.filter(
        actor_label="optimizer", campaign=held, kind=DecisionKind.BUDGET_CHANGE
    ).exists()


def _published(budget):
    return list(
        budget.campaigns.filter(status__in=optimization.OPTIMIZED_STATUSES)
        .select_related("ad_account")
        .order_by("pk")
    )


def _state(budget):
    campaigns = _published(budget)
    flight = optimization.flight_of(budget, campaigns)
    return optimization.suite_state(budget, campaigns, flight, timezone.now())


def _campaign_state(campaign):
    state = _state(campaign.budget)
    return next(c for c in state.campaigns if c.campaign_id == str(campaign.pk))


def test_each_creative_carries_its_reported_clicks_for_the_ab_test(daily_campaigns) -> None:
    campaign = daily_campaigns[2]
    budget = campaign.budget
    flight = optimization.flight_of(budget, daily_campaigns)
    ad = campaign.creatives.get()
    for day, clicks in ((0, 40), (1, 25)):
        CampaignMetrics.objects.create(
            campaign=campaign,
            level="ad",
            object_id=ad.external_ad_id,
            date=(flight.start + timedelta(days=day)).date(),
            hour=None,
            spend=Decimal("10.00"),
            clicks=clicks,
        )
    state = optimization.suite_state(
        budget, daily_campaigns, flight, flight.start + timedelta(days=2, hours=2)
    )
    [creative] = next(c for c in state.campaigns if c.campaign_id == str(campaign.pk)).creatives
    assert (creative.clicks, creative.spend) == (65.0, 20.0)


def test_a_variant_is_known_across_the_suite_by_what_it_shows_not_by_its_letter(
    daily_campaigns,
) -> None:
    """The creative test pools a variant's clicks over the campaigns that show the same
    ad: the same copy and media share a key; another ad under the same letter does not."""
    first, second, third = daily_campaigns
    third.creatives.update(headline="teaser · Rock Night")
    shown = {c.campaign_id: c.creatives[0] for c in _state(first.budget).campaigns}
    a1, a2, a3 = (shown[str(c.pk)] for c in daily_campaigns)
    assert a1.name == a2.name == a3.name == "A"
    assert a1.content and a1.content == a2.content != a3.content
    second.creatives.update(image_url="https://tix.example/other-poster.png")
    assert _campaign_state(second).creatives[0].content != a1.content


def test_each_day_carries_the_ads_live_at_its_noon_once_the_test_paused_a_loser(
    daily_campaigns, platform, decide
) -> None:
    """A day's sales are rescaled to today's creative mix only if the optimizer knows
    which ads ran that day: the pause, read back from the log, ends the loser's days."""
    campaign = daily_campaigns[0]
    campaign.creatives.create(
        variant="B", headline="loser", landing_url="https://tix.example/e", external_ad_id="ad-b"
    )
    winner = campaign.creatives.get(variant="A").external_ad_id
    decide(
        [
            decision(
                opt.DecisionKind.PAUSE_CREATIVE,
                campaign,
                rule=opt.DecisionRule.CREATIVE_TEST,
                creative_id="ad-b",
            )
        ]
    )
    optimization.optimize_budget(campaign.budget_id)
    flight = optimization.flight_of(campaign.budget, daily_campaigns)
    entry = OptimizationLogEntry.objects.get(kind=DecisionKind.CREATIVE_ROTATION)
    assert entry.applied and entry.numbers["creative_id"] == "ad-b"
    # Paused on day 1 at 03:00: days 0 ran both ads, day 1 (from its noon on) the winner.
    entry.created_at = flight.start + timedelta(days=1, hours=3)
    entry.save(update_fields=["created_at"])
    state = optimization.suite_state(
        campaign.budget, daily_campaigns, flight, flight.start + timedelta(days=2, hours=5)
    )
    days = next(c for c in state.campaigns if c.campaign_id == str(campaign.pk)).days
    assert [set(d.active_creatives) for d in days] == [{winner, "ad-b"}, {winner}, {winner}]


def test_a_lifetime_budgets_change_is_logged_beside_its_lifetime_budget(
    live_campaigns, platform, decide
) -> None:
    """A budget change of a campaign on a lifetime budget shows staff the lifetime
    budget it paces beside the daily wishes the optimizer moved between."""
    campaign = live_campaigns[0]
    campaign.refresh_from_db()
    assert campaign.lifetime_budget is not None  # the fake Meta caps lifetime budgets
    change = decision(opt.DecisionKind.SET_BUDGET, campaign, daily_budget=Decimal("30.00"))
    decide([replace(change, numbers={"previous_budget": 25.0, "new_budget": 30.0})])
    optimization.optimize_budget(campaign.budget_id)
    entry = OptimizationLogEntry.objects.get(
        actor_label="optimizer", campaign=campaign, kind=DecisionKind.BUDGET_CHANGE
    )
    assert Decimal(str(entry.numbers["lifetime_budget"])) == campaign.lifetime_budget
    assert (entry.numbers["previous_budget"], entry.numbers["new_budget"]) == (25.0, 30.0)


def test_a_lifetime_budgets_daily_wish_is_read_into_the_optimizers_state(
    live_campaigns,
) -> None:
    lifetime = live_campaigns[0]
    lifetime.refresh_from_db()
    assert lifetime.lifetime_budget is not None
    seen = _campaign_state(lifetime)
    assert seen.daily_budget == 0 and seen.lifetime_wish == lifetime.desired_daily_budget > 0


def test_a_daily_budget_has_no_lifetime_wish_in_the_optimizers_state(daily_campaigns) -> None:
    seen = _campaign_state(daily_campaigns[0])
    assert seen.lifetime_wish is None and seen.daily_budget > 0
