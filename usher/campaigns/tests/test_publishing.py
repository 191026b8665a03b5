"""Review and publishing through the connector: idempotent, funded before it spends."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from usher.campaigns import ledger, publishing
from usher.campaigns.models import CampaignStatus, OptimizationLogEntry
from usher.campaigns.spend_control import rebalance_budget
from usher.campaigns.spend_safety import flight_weeks
from usher.campaigns.suite import create_campaign_suite
from usher.campaigns.tests.factories import report_hour_after
from usher.lib.errors import InvalidInput
from usher.platforms.base import PlatformError

pytestmark = pytest.mark.django_db


@pytest.fixture
def prospecting(platform, paid_budget, event):
    [campaign] = [
        c for c in create_campaign_suite(event, paid_budget) if c.campaign_type == "prospecting"
    ]
    campaign.desired_daily_budget = Decimal("20.00")
    campaign.save()
    return campaign


def test_approval_publishes_once_the_transaction_commits(
    prospecting, platform, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        publishing.approve_campaign(prospecting.pk, user=None)
    prospecting.refresh_from_db()
    assert prospecting.status == CampaignStatus.ACTIVE
    fake = platform.campaigns[prospecting.reference]
    assert fake.active
    assert prospecting.external_campaign_id == fake.published.campaign_id
    assert {c.external_ad_id for c in prospecting.creatives.all()} == set(
        fake.published.ads.values()
    )
    assert fake.spec.name.endswith("[prospecting]")
    assert fake.spec.dsa_beneficiary == prospecting.organizer.name
    # The allocator spreads the 1000 over the flight; reserving 1.75x a day (7x a week)
    # for that would not fit, so it publishes with a lifetime budget, a hard cap,
    # and the money for all of it is reserved first.
    open_amount = ledger.balances(prospecting.budget).outstanding_by_campaign[prospecting.pk]
    assert fake.daily_budget is None
    assert open_amount == fake.lifetime_budget <= Decimal("1000")
    assert fake.lifetime_budget == Decimal(flight_days(prospecting)) * (
        prospecting.desired_daily_budget
    )


def flight_days(campaign) -> int:
    return sum(flight_weeks(timezone.now(), campaign.ends_at, campaign.ad_account.timezone))


def test_a_retry_after_a_timeout_never_creates_a_second_campaign(prospecting, platform):
    publishing.approve_campaign(prospecting.pk, user=None)
    platform.lose_next_answer = True  # created on the platform, the answer lost
    with pytest.raises(PlatformError):
        publishing.publish_campaign(prospecting.pk)
    publishing.publish_campaign(prospecting.pk)  # the task's retry
    publishing.publish_campaign(prospecting.pk)  # a duplicate task run
    assert len(platform.campaigns) == 1
    assert [name for name, _ in platform.calls].count("publish") == 2
    prospecting.refresh_from_db()
    assert prospecting.status == CampaignStatus.ACTIVE
    assert (
        prospecting.external_campaign_id
        == platform.campaigns[prospecting.reference].published.campaign_id
    )


def test_a_permanent_refusal_fails_the_campaign_and_frees_its_money(prospecting, platform):
    publishing.approve_campaign(prospecting.pk, user=None)
    platform.fail_next.append(PlatformError("permanent", "invalid targeting"))
    publishing.publish_campaign(prospecting.pk)
    prospecting.refresh_from_db()
    assert prospecting.status == CampaignStatus.FAILED
    assert "invalid targeting" in prospecting.last_error
    assert ledger.balances(prospecting.budget).outstanding == 0
    prospecting.ad_account.refresh_from_db()
    assert "invalid targeting" in prospecting.ad_account.last_error


def test_only_pending_campaigns_are_approved_and_rejections_need_a_reason(prospecting):
    with pytest.raises(InvalidInput):
        publishing.reject_campaign(prospecting.pk, user=None, reason=" ")
    publishing.reject_campaign(prospecting.pk, user=None, reason="misleading headline")
    prospecting.refresh_from_db()
    assert prospecting.status == CampaignStatus.REJECTED
    assert prospecting.status_reason == "misleading headline"
    with pytest.raises(InvalidInput):
        publishing.approve_campaign(prospecting.pk, user=None)
    assert OptimizationLogEntry.objects.filter(campaign=prospecting, kind="rejection").exists()


def test_a_budget_too_small_for_the_minimum_waits_instead_of_publishing(prospecting, platform):
    platform.minimum = Decimal("500")
    publishing.approve_campaign(prospecting.pk, user=None)
    publishing.publish_campaign(prospecting.pk)
    prospecting.refresh_from_db()
    assert prospecting.status == CampaignStatus.APPROVED
    assert "waiting for funds" in prospecting.status_reason
    assert platform.campaigns == {}


def test_pause_and_resume_reach_the_platform_and_the_pause_holds(prospecting, platform):
    publishing.approve_campaign(prospecting.pk, user=None)
    publishing.publish_campaign(prospecting.pk)
    publishing.pause_campaign(prospecting.pk, user=None, reason="organizer asked")
    fake = platform.campaigns[prospecting.reference]
    assert not fake.active
    # What it may have spent before the pause and not reported yet stays reserved.
    prospecting.refresh_from_db()
    assert ledger.balances(prospecting.budget).outstanding == prospecting.unreported_ceiling > 0
    rebalance_budget(prospecting.budget_id)  # spend control leaves a staff pause alone
    assert not fake.active
    assert ledger.balances(prospecting.budget).outstanding == prospecting.unreported_ceiling
    report_hour_after(prospecting, prospecting.unreported_since, Decimal("2.00"))
    rebalance_budget(prospecting.budget_id)  # reported: the rest is free
    assert ledger.balances(prospecting.budget).outstanding == 0
    publishing.resume_campaign(prospecting.pk, user=None)
    assert fake.active
    prospecting.refresh_from_db()
    assert prospecting.status == CampaignStatus.ACTIVE


def test_a_staff_daily_budget_wins_over_the_allocator(prospecting, platform):
    publishing.approve_campaign(prospecting.pk, user=None)
    publishing.publish_campaign(prospecting.pk)
    publishing.override_daily_budget(prospecting.pk, Decimal("8.00"), user=None, reason="test")
    lifetime = platform.campaigns[prospecting.reference].lifetime_budget
    assert lifetime == Decimal("8.00") * flight_days(prospecting)
    assert ledger.balances(prospecting.budget).outstanding == lifetime
