"""An organizer's advertising world for the panel's tests: a paid budget, campaigns with
platform metrics and Usher-attributed orders, ledger rows, an audience and a
recommendation (built directly: the pages only read them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import product

from django.utils import timezone

from usher.audiences.models import AudienceStatus, AudienceType, RemarketingAudience
from usher.campaigns.models import (
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetLedgerEntry,
    BudgetStatus,
    CampaignAttribution,
    CampaignMetrics,
    CampaignStatus,
    CampaignType,
    DecisionKind,
    LedgerKind,
    MetricsLevel,
    OptimizationLogEntry,
)
from usher.campaigns.tests.factories import AdAccountFactory, BudgetFactory, CampaignFactory
from usher.marketplace.models import MarketplaceOrganizer, User
from usher.marketplace.tests.factories import EventFactory, OrderFactory

PASSWORD = "pw-panel-12345"
PLATFORMS = ("meta", "google_ads", "tiktok")


@dataclass
class World:
    organizer: MarketplaceOrganizer
    user: User
    budget: AdCampaignBudget
    campaigns: list[AutomatedCampaign]
    audience: RemarketingAudience


def build_world(
    organizer: MarketplaceOrganizer, *, campaigns: int = 2, username: str = "org", seed: int = 1
) -> World:
    """`campaigns` active campaigns (one per platform and type) on one paid budget, each with two days of metrics
    and `seed + index` attributed orders; numbers differ per `seed` so organizers differ."""
    user = User.objects.create_user(
        username, password=PASSWORD, client=organizer.client, organizer=organizer
    )
    event = EventFactory(organizer=organizer, client=organizer.client, name=f"Event {username}")
    budget = BudgetFactory(
        organizer=organizer,
        event=event,
        status=BudgetStatus.ACTIVE,
        total_budget=Decimal("1000.00"),
        spent_budget=Decimal(f"{100 * seed}.00"),
        ends_at=timezone.now() + timedelta(days=5, hours=1),
    )
    BudgetLedgerEntry.objects.create(
        budget=budget, kind=LedgerKind.PAID_IN, amount=Decimal("1000.00"), currency="RON"
    )
    accounts = {
        platform: AdAccountFactory(client=organizer.client, platform=platform)
        for platform in PLATFORMS
    }
    today = date.today()
    made = []
    kinds = list(product(CampaignType.values, PLATFORMS))
    for index in range(campaigns):
        campaign_type, platform = kinds[index]
        campaign = CampaignFactory(
            budget=budget,
            event=event,
            ad_account=accounts[platform],
            campaign_type=campaign_type,
            status=CampaignStatus.ACTIVE,
            name=f"{username} campaign {index}",
            budget_spent=Decimal(f"{40 * seed + index}.00"),
        )
        for offset in (1, 0):
            CampaignMetrics.objects.create(
                campaign=campaign,
                level=MetricsLevel.CAMPAIGN,
                object_id=f"c{campaign.pk}",
                date=today - timedelta(days=offset),
                impressions=1000 * seed + offset,
                clicks=50 * seed,
                spend=Decimal(f"{20 * seed}.00"),
                conversions=Decimal(seed + 1),
                conversion_value=Decimal(f"{150 * seed}.00"),
            )
        for number in range(seed + index):
            order = OrderFactory(event=event, value=Decimal("60.00") + number, tickets_count=2)
            CampaignAttribution.objects.create(
                order=order,
                campaign=campaign,
                matched_by="fbc",
                value=order.value,
                currency="RON",
                tickets=order.tickets_count,
            )
        BudgetLedgerEntry.objects.create(
            budget=budget,
            campaign=campaign,
            kind=LedgerKind.SPENT,
            amount=campaign.budget_spent,
            currency="RON",
            spend_date=today,
        )
        made.append(campaign)
    OptimizationLogEntry.objects.create(
        client=organizer.client,
        budget=budget,
        campaign=made[0] if made else None,
        kind=DecisionKind.REALLOCATION,
        reason=f"move budget to the better campaign of {username}",
        expected_effect=f"+{seed} sales a day for {username}",
        applied=False,
    )
    OptimizationLogEntry.objects.create(
        client=organizer.client,
        budget=budget,
        kind=DecisionKind.RECOMMENDATION,
        reason="raise the budget by 20%",
        numbers={
            "recommendation": "raise_budget",
            "extra_money": 200.0,
            "extra_tickets": 12.0 * seed,
            "roas_of_extra_money": 3.25,
        },
        applied=False,
    )
    audience = RemarketingAudience.objects.create(
        client=organizer.client,
        organizer=organizer,
        event=event,
        platform="meta",
        audience_type=AudienceType.TICKET_BUYERS,
        name=f"Buyers of {username}",
        member_count=1200 * seed,
        status=AudienceStatus.ACTIVE,
        last_synced_at=timezone.now(),
    )
    return World(organizer, user, budget, made, audience)
