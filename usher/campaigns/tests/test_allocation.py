"""allocate_budget: equal split, manual percentages, performance, limits."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from usher.campaigns import spend_control
from usher.campaigns.allocation import CampaignSlot, PlatformShare, allocate
from usher.campaigns.models import AutomatedCampaign, CampaignAttribution, CampaignStatus
from usher.campaigns.tests.factories import CampaignFactory, report_spend
from usher.marketplace.tests.factories import OrderFactory


def slots(*specs) -> list[CampaignSlot]:
    return [CampaignSlot(key, platform, days, roas) for key, platform, days, roas in specs]


def test_equal_split_paces_the_remainder_over_each_campaigns_days():
    result = allocate(
        "equal_split",
        Decimal("1200"),
        slots(("a", "meta", 10, None), ("b", "meta", 10, None), ("c", "tiktok", 20, None)),
    )
    # Half per platform; meta's half in two, over 10 days; tiktok's over 20 days.
    assert result == {"a": Decimal("30.00"), "b": Decimal("30.00"), "c": Decimal("30.00")}


def test_manual_percentages_decide_the_platform_shares():
    result = allocate(
        "manual",
        Decimal("1000"),
        slots(("a", "meta", 10, None), ("b", "google_ads", 10, None)),
        platforms={"meta": PlatformShare(Decimal(80)), "google_ads": PlatformShare(Decimal(20))},
    )
    assert result == {"a": Decimal("80.00"), "b": Decimal("20.00")}


def test_performance_moves_money_to_the_better_return_with_a_floor_for_the_rest():
    result = allocate(
        "performance_based",
        Decimal("1000"),
        slots(("good", "meta", 10, Decimal("6")), ("bad", "meta", 10, Decimal("0"))),
        target_roas=Decimal("2"),
    )
    # Weights 6 and the floor 0.5 (a quarter of the target): 12/13 and 1/13 of 100/day.
    assert result == {"good": Decimal("92.30"), "bad": Decimal("7.69")}


def test_daily_limits_cap_each_platform_and_the_whole_budget():
    result = allocate(
        "equal_split",
        Decimal("10000"),
        slots(("a", "meta", 10, None), ("b", "tiktok", 10, None)),
        platforms={"meta": PlatformShare(daily_limit=Decimal("50"))},
        daily_limit=Decimal("300"),
    )
    # Meta alone is cut to 50, then both are scaled together to fit 300 a day.
    assert result == {"a": Decimal("27.27"), "b": Decimal("272.72")}


def test_ended_campaigns_get_nothing_and_the_rest_share_the_remainder():
    result = allocate(
        "equal_split", Decimal("100"), slots(("over", "meta", 0, None), ("on", "meta", 5, None))
    )
    assert result == {"over": Decimal("0"), "on": Decimal("20.00")}


@given(
    remaining=st.decimals(min_value="0", max_value="100000", places=2),
    days=st.lists(st.integers(min_value=0, max_value=90), min_size=1, max_size=8),
    strategy=st.sampled_from(["equal_split", "performance_based", "manual"]),
    roas=st.one_of(st.none(), st.decimals(min_value="0", max_value="20", places=2)),
)
def test_the_wishes_never_plan_more_than_the_remainder(remaining, days, strategy, roas):
    platforms = ("meta", "google_ads", "tiktok")
    result = allocate(
        strategy,
        remaining,
        slots(*[(i, platforms[i % 3], d, roas) for i, d in enumerate(days)]),
        platforms={p: PlatformShare(Decimal(100) / 3) for p in platforms},
    )
    planned = sum(result[i] * d for i, d in enumerate(days))
    assert planned <= remaining
    assert all(v >= 0 for v in result.values())


@pytest.mark.django_db
def test_allocate_budget_sets_wishes_logs_them_and_paces_the_platforms(
    platform, paid_budget, event, meta_account
):
    paid_budget.allocation_strategy = "performance_based"
    paid_budget.target_roas = Decimal("2")
    paid_budget.save()
    campaigns = [
        CampaignFactory(
            budget=paid_budget,
            event=event,
            ad_account=meta_account,
            campaign_type=kind,
            status=CampaignStatus.APPROVED,
            ends_at=timezone.now() + timedelta(days=10),
        )
        for kind in ("prospecting", "retargeting")
    ]
    for campaign in campaigns:
        campaign.creatives.create(headline="h", landing_url="https://tix.example/e")
    spend_control.allocate_budget(paid_budget.pk)
    for campaign in campaigns:
        report_spend(campaign, timezone.localdate(), Decimal("50"))
    order = OrderFactory(event=event, value=Decimal("400"))
    CampaignAttribution.objects.create(
        order=order, campaign=campaigns[0], matched_by="fbc", value=Decimal("400"), currency="RON"
    )
    spend_control.allocate_budget(paid_budget.pk)
    good, bad = (AutomatedCampaign.objects.get(pk=c.pk) for c in campaigns)
    assert good.desired_daily_budget > bad.desired_daily_budget > 0  # ROAS 8 against 0
    assert paid_budget.log.filter(kind="reallocation").count() >= 2
    assert platform.campaigns[campaigns[0].reference].active
    assert len(platform.campaigns) == 2  # published once, by the first allocation
