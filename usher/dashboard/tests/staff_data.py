"""A marketplace's campaign data for the staff dashboards' tests: budgets, live and
pending campaigns with reported metrics, attributed orders, creatives and deliveries,
written directly (the dashboards only read them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from usher.campaigns.models import (
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetStatus,
    CampaignAttribution,
    CampaignCreative,
    CampaignMetrics,
    CampaignStatus,
    OptimizationLogEntry,
)
from usher.campaigns.tests.factories import AdAccountFactory, BudgetFactory, CampaignFactory
from usher.conversions.models import ConversionDelivery, DeliveryStatus
from usher.marketplace.models import MarketplaceClient, MarketplaceOrganizer
from usher.marketplace.tests.factories import EventFactory, OrderFactory, OrganizerFactory

PLATFORMS = ("meta", "google_ads", "tiktok")
KINDS = ("prospecting", "retargeting", "lookalike", "dynamic_remarketing")
SPEND_PER_DAY = Decimal("12.50")
ORDER_VALUE = Decimal("150.00")


@dataclass
class World:
    client: MarketplaceClient
    organizers: list[MarketplaceOrganizer] = field(default_factory=list)
    budgets: list[AdCampaignBudget] = field(default_factory=list)
    live: list[AutomatedCampaign] = field(default_factory=list)
    pending: list[AutomatedCampaign] = field(default_factory=list)


def build_world(
    client: MarketplaceClient, *, organizers: int = 2, campaigns_each: int = 3, days: int = 3
) -> World:
    """Per organizer one active budget of 1000 with `campaigns_each` active campaigns
    (platforms in turn) that spent SPEND_PER_DAY on each of the last `days` days and
    sold one order each, plus one pending campaign with two creatives, a logged
    decision, and a delivered, a rejected and a retrying conversion."""
    world = World(client)
    today = timezone.now().date()
    accounts = {p: AdAccountFactory(client=client, platform=p) for p in PLATFORMS}
    for n in range(organizers):
        organizer = OrganizerFactory(client=client)
        event = EventFactory(organizer=organizer, public_url=f"https://tix.example/e/{n}")
        budget = BudgetFactory(
            organizer=organizer,
            event=event,
            status=BudgetStatus.ACTIVE,
            total_budget=Decimal("1000.00"),
            spent_budget=SPEND_PER_DAY * days * campaigns_each,
        )
        world.organizers.append(organizer)
        world.budgets.append(budget)
        for i in range(campaigns_each):
            platform = PLATFORMS[i % len(PLATFORMS)]
            campaign = CampaignFactory(
                budget=budget,
                event=event,
                ad_account=accounts[platform],
                campaign_type=KINDS[i // len(PLATFORMS) % len(KINDS)],
                status=CampaignStatus.ACTIVE,
                daily_budget=Decimal("20.00"),
            )
            world.live.append(campaign)
            _spend(campaign, today, days)
            order = OrderFactory(event=event, value=ORDER_VALUE)
            CampaignAttribution.objects.create(
                order=order, campaign=campaign, matched_by="fbc", value=ORDER_VALUE, currency="RON"
            )
            _deliveries(client, organizer, order, platform)
        pending = CampaignFactory(
            budget=budget,
            event=EventFactory(organizer=organizer, public_url=f"https://tix.example/p/{n}"),
            ad_account=accounts["meta"],
            targeting={"countries": ["RO"], "age_min": 18},
        )
        for variant in ("A", "B"):
            CampaignCreative.objects.create(
                campaign=pending,
                variant=variant,
                headline=f"Headline {variant} of {organizer.name}",
                description="Tickets are selling fast",
                landing_url=f"https://tix.example/e/{n}?v={variant}",
            )
        world.pending.append(pending)
        OptimizationLogEntry.objects.create(
            client=client, budget=budget, campaign=world.live[-1], kind="pause", reason="ROAS low"
        )
    return world


def _spend(campaign: AutomatedCampaign, today: date, days: int) -> None:
    CampaignMetrics.objects.bulk_create(
        CampaignMetrics(
            campaign=campaign,
            level="campaign",
            object_id=str(campaign.pk),
            date=today - timedelta(days=d),
            hour=None,
            impressions=1000,
            clicks=40,
            spend=SPEND_PER_DAY,
            conversions=Decimal("2"),
            conversion_value=Decimal("300.00"),
        )
        for d in range(days)
    )


def _deliveries(client, organizer, order, platform: str) -> None:
    now = timezone.now()
    for n, status in enumerate(
        (DeliveryStatus.DELIVERED, DeliveryStatus.REJECTED, DeliveryStatus.RETRYING)
    ):
        ConversionDelivery.objects.create(
            client=client,
            organizer=organizer,
            destination_key=f"{platform}-{organizer.pk}-{n}",
            provider=platform,
            event_id=f"purchase-{order.pk}",
            event_name="purchase",
            order=order,
            status=status,
            next_attempt_at=now,
        )
