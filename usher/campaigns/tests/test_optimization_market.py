"""End to end on the simulated market: Usher's budget, published through the real
connectors to the sandbox, runs for simulated days with every scheduled job on time
(metrics, optimization, rebalance) and the closed loop's orders through the ingest API;
the optimizer moves money toward the campaign that sells, and nothing is overspent."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from usher.campaigns import ledger, publishing, services
from usher.campaigns.models import AutomatedCampaign, CampaignStatus, OptimizationLogEntry
from usher.campaigns.tests.factories import BudgetFactory
from usher.marketplace.simulation import Marketplace, SandboxMarket, drive, simulated_django_clock
from usher.marketplace.tests.factories import EventFactory
from usher.sandbox.tests.market_helpers import START, scenario_dict, segment

pytestmark = pytest.mark.django_db

FLIGHT_DAYS = 3
DRIVEN_HOURS = 48


# The jobs this test is about; the others (deliveries, audiences, watchers) have their own.
JOBS = ("sync-campaign-metrics", "optimize-budgets", "rebalance-budgets")


@pytest.fixture
def campaign_jobs_only(settings):
    """Only the campaign jobs on the beat, and management calls unthrottled: the
    simulated hours pass in real seconds, which the per-hour call budgets would refuse."""
    settings.CELERY_BEAT_SCHEDULE = {
        name: entry for name, entry in settings.CELERY_BEAT_SCHEDULE.items() if name in JOBS
    }
    settings.PLATFORM_MANAGEMENT_RATE_LIMITS = {
        platform: {kind: [10**9, 10**6] for kind in ("publish", "write", "read", "metrics")}
        for platform in ("meta", "google_ads", "tiktok")
    }


def test_over_simulated_days_the_optimizer_moves_money_to_what_sells_and_never_overspends(
    sandbox,
    sandbox_accounts,
    marketplace,
    organizer,
    campaign_jobs_only,
    django_capture_on_commit_callbacks,
) -> None:
    control = SandboxMarket(sandbox.control)
    # Meta sells well and cheaply; Google barely sells, whatever it is given.
    control.load(
        scenario_dict(
            segment("meta", max_daily_conversions=40, half_saturation_spend=150),
            segment("google_ads", max_daily_conversions=3, half_saturation_spend=600),
            days=FLIGHT_DAYS,
            total_budget=1500,
        ),
        seed=7,
    )
    start = datetime.fromisoformat(START.replace("Z", "+00:00"))
    with simulated_django_clock(lambda: control.now or start):
        event = EventFactory(
            organizer=organizer,
            starts_at=start + timedelta(days=FLIGHT_DAYS),
            public_url="https://tix.example/e/rock-night",
        )
        budget = BudgetFactory(
            organizer=organizer,
            event=event,
            requested_amount=Decimal("1500"),
            image_url="https://img.example/rock-night.jpg",
            platform_allocations={"meta": {"percentage": 50}, "google_ads": {"percentage": 50}},
        )
        with django_capture_on_commit_callbacks(execute=True):
            services.confirm_payment(
                budget.pk, reference="TRF-9", amount_received=Decimal("1500"), user=None
            )
        prospecting = list(
            AutomatedCampaign.objects.filter(budget=budget, campaign_type="prospecting")
        )
        assert {c.platform for c in prospecting} == {"meta", "google_ads"}
        with django_capture_on_commit_callbacks(execute=True):
            for campaign in prospecting:
                publishing.approve_campaign(campaign.pk, user=None)
    for campaign in prospecting:
        campaign.refresh_from_db()
        assert campaign.status == CampaignStatus.ACTIVE, campaign.last_error
    # Allocation starts from the equal split: 50% of the budget per platform.
    first = {c.platform: c.desired_daily_budget for c in prospecting}
    assert first["meta"] == first["google_ads"]

    drive(control, Marketplace(marketplace, event, marketplace.api_key), DRIVEN_HOURS, 2)

    balances = ledger.balances(budget)
    assert balances.spent > 0
    assert balances.spent + balances.outstanding <= balances.total
    moved = OptimizationLogEntry.objects.filter(
        budget=budget, actor_label="optimizer", kind="budget_change", applied=True
    )
    assert moved.exists()
    last = {
        c.platform: c for c in AutomatedCampaign.objects.filter(pk__in=[c.pk for c in prospecting])
    }
    meta, google = last["meta"], last["google_ads"]
    # The optimizer moved money from the campaign that barely sells to the one that does.
    assert meta.desired_daily_budget > first["meta"]
    assert google.desired_daily_budget < first["google_ads"]
