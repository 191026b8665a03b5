"""Fixtures of the campaigns tests: a fake platform behind the registry for each
campaign platform, ad accounts for the marketplace, a paid budget."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from usher.campaigns import publishing, services
from usher.campaigns.models import CampaignStatus
from usher.campaigns.tests.factories import AdAccountFactory, BudgetFactory, CampaignFactory
from usher.campaigns.tests.fakes import FakeCampaignsConnector, FakePlatform
from usher.marketplace.tests.factories import EventFactory
from usher.platforms import registry
from usher.platforms.tests.campaign_helpers import ACCOUNTS


@pytest.fixture
def platform(monkeypatch) -> FakePlatform:
    """Every campaign platform is served by one in-memory fake."""
    state = FakePlatform()
    for name in ("meta", "google_ads", "tiktok"):
        connector = type(
            f"Fake{name}", (FakeCampaignsConnector,), {"platform": name, "state": state}
        )
        monkeypatch.setitem(registry._campaigns_factories, name, connector)
    return state


@pytest.fixture
def meta_account(marketplace):
    return AdAccountFactory(client=marketplace, platform="meta")


@pytest.fixture
def event(organizer):
    return EventFactory(organizer=organizer, public_url="https://tix.example/e/rock-night")


@pytest.fixture
def paid_budget(organizer, event, meta_account):
    budget = BudgetFactory(
        organizer=organizer, event=event, platform_allocations={"meta": {"percentage": 100}}
    )
    return services.confirm_payment(
        budget.pk, reference="TRF-1", amount_received=Decimal("1000.00"), user=None
    )


KINDS = ("prospecting", "retargeting", "lookalike")


@pytest.fixture
def live_campaigns(platform, paid_budget, event, meta_account):
    """Three published campaigns of the paid budget, 40 a day each, on the fake Meta."""
    campaigns = []
    for kind in KINDS:
        campaign = CampaignFactory(
            budget=paid_budget,
            event=event,
            ad_account=meta_account,
            campaign_type=kind,
            status=CampaignStatus.APPROVED,
            desired_daily_budget=Decimal("40.00"),
            ends_at=timezone.now() + timedelta(days=20),
        )
        campaign.creatives.create(headline="h", landing_url="https://tix.example/e")
        publishing.publish_campaign(campaign.pk)
        campaigns.append(campaign)
    return campaigns


@pytest.fixture
def daily_campaigns(monkeypatch, platform, request):
    """The live campaigns on daily budgets only (a platform without lifetime caps)."""
    monkeypatch.setattr(FakeCampaignsConnector, "lifetime_budget_hard_cap", False)
    return request.getfixturevalue("live_campaigns")


@pytest.fixture
def rolling_campaigns(monkeypatch, platform, request):
    """The live campaigns on a platform like Google: daily budgets only, up to twice
    over every day, no weekly cap, and an end time that stops delivery and may move."""
    monkeypatch.setattr(FakeCampaignsConnector, "lifetime_budget_hard_cap", False)
    monkeypatch.setattr(FakeCampaignsConnector, "daily_overdelivery_factor", Decimal("2"))
    monkeypatch.setattr(FakeCampaignsConnector, "weekly_overdelivery_factor", None)
    monkeypatch.setattr(FakeCampaignsConnector, "end_time_bounds_daily_budget", True, raising=False)
    return request.getfixturevalue("live_campaigns")


CREDENTIALS = {
    "meta": "sandbox-meta-token",
    "google_ads": "sandbox-refresh-token",
    "tiktok": "sandbox-tiktok-token",
}


@pytest.fixture
def sandbox_accounts(marketplace):
    """The marketplace's ad accounts on the sandbox's three campaign platforms."""
    made = {}
    for name, account in ACCOUNTS.items():
        settings = {k: v for k, v in account.settings.items() if k != "refresh_token"}
        made[name] = AdAccountFactory(
            client=marketplace,
            platform=name,
            account_id=account.account_id,
            currency="RON",
            settings=settings,
            credential_kind="refresh_token" if name == "google_ads" else "access_token",
            credential=CREDENTIALS[name],
        )
    return made
