"""A paid budget through suite, review and publishing on all three platforms, against
the sandbox with the real connectors; pausing the budget reaches every platform."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from usher.campaigns import publishing, services
from usher.campaigns.models import AutomatedCampaign, BudgetStatus, CampaignStatus
from usher.campaigns.tests.factories import BudgetFactory

pytestmark = pytest.mark.django_db


def test_a_paid_budget_publishes_its_approved_suite_everywhere_and_pauses_with_it(
    sandbox, sandbox_accounts, organizer, event, django_capture_on_commit_callbacks
):
    # A six-day flight: 6000 covers what the platforms may over-deliver on 120 a day.
    event.starts_at = timezone.now() + timedelta(days=6)
    event.save()
    budget = BudgetFactory(
        organizer=organizer,
        event=event,
        requested_amount=Decimal("6000"),
        image_url="https://img.example/rock-night.jpg",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.confirm_payment(
            budget.pk, reference="TRF-77", amount_received=Decimal("6000"), user=None
        )
    suite = AutomatedCampaign.objects.filter(budget=budget)
    assert suite.count() == 12  # four kinds on three platforms
    prospecting = list(suite.filter(campaign_type="prospecting"))
    assert {c.status for c in prospecting} == {CampaignStatus.PENDING_REVIEW}
    # TikTok's daily minimum in RON is 100: a smaller wish would wait for funds.
    suite.update(desired_daily_budget=Decimal("120"))
    with django_capture_on_commit_callbacks(execute=True):
        for campaign in prospecting:
            publishing.approve_campaign(campaign.pk, user=None)
    for campaign in prospecting:
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.ACTIVE, (campaign.platform, campaign.last_error)
        [on_platform] = [
            o["fields"]
            for o in sandbox.state.objects_of(campaign.platform, object_type="campaign")
            if name_of(o).startswith(f"{campaign.reference} ")
        ]
        assert name_of({"fields": on_platform}).endswith("[prospecting]")
    with django_capture_on_commit_callbacks(execute=True):
        services.change_budget_status(budget.pk, BudgetStatus.PAUSED, user=None)
    for campaign in prospecting:
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.PAUSED
    assert [c.status for c in prospecting if c.platform == "meta"] == [CampaignStatus.PAUSED]
    meta = next(c for c in prospecting if c.platform == "meta")
    assert sandbox.state.get_object("meta", meta.external_campaign_id)["fields"]["status"] == (
        "PAUSED"
    )


def name_of(stored: dict) -> str:
    fields = stored["fields"]
    return fields.get("name") or fields.get("campaign_name", "")  # TikTok's field name
