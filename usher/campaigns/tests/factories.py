"""factory_boy factories for ad accounts, budgets and campaigns."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import factory
from django.utils import timezone

from usher.campaigns import metrics_sync
from usher.campaigns.models import (
    AdAccount,
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetStatus,
    CampaignMetrics,
    CampaignStatus,
)
from usher.marketplace.tests.factories import EventFactory, OrganizerFactory


class AdAccountFactory(factory.django.DjangoModelFactory):
    """The marketplace's own account (organizer NULL) with a credential."""

    class Meta:
        model = AdAccount
        skip_postgeneration_save = True

    client = factory.SubFactory("usher.marketplace.tests.factories.MarketplaceClientFactory")
    organizer = None
    platform = "meta"
    account_id = factory.Sequence(lambda n: f"act_{1000 + n}")
    currency = "RON"
    timezone = "Europe/Bucharest"

    @factory.post_generation
    def credential(obj, create, extracted, **kwargs):
        obj.set_credential("sandbox-token" if extracted is None else extracted)
        if create:
            obj.save()


class BudgetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AdCampaignBudget

    organizer = factory.SubFactory(OrganizerFactory)
    client = factory.SelfAttribute("organizer.client")
    requested_amount = Decimal("1000.00")
    currency = "RON"
    status = BudgetStatus.PENDING_PAYMENT


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AutomatedCampaign

    budget = factory.SubFactory(BudgetFactory)
    organizer = factory.SelfAttribute("budget.organizer")
    client = factory.SelfAttribute("budget.client")
    event = factory.SubFactory(
        EventFactory,
        organizer=factory.SelfAttribute("..organizer"),
        public_url="https://tix.example/e/1",
    )
    ad_account = factory.SubFactory(AdAccountFactory, client=factory.SelfAttribute("..client"))
    platform = factory.SelfAttribute("ad_account.platform")
    campaign_type = "prospecting"
    name = factory.LazyAttribute(lambda c: f"{c.event.name} · prospecting [prospecting]")
    status = CampaignStatus.PENDING_REVIEW
    ends_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=10))


def report_spend(
    campaign: AutomatedCampaign, day: date, total: Decimal, hour: int | None = None
) -> None:
    """The platform reports `total` spent on `day` (all in the day's `hour` when given,
    as an account reporting by the hour would): stored as metrics sync stores it, and
    brought into the ledger by metrics sync's own path."""
    CampaignMetrics.objects.update_or_create(
        campaign=campaign,
        level="campaign",
        object_id=campaign.external_campaign_id or str(campaign.pk),
        date=day,
        hour=hour,
        defaults={"spend": total},
    )
    metrics_sync.record_spends([campaign], day, day)


def report_hour_after(campaign: AutomatedCampaign, moment: datetime, spend: Decimal) -> None:
    """The platform's reports reach past `moment`: `spend` reported for the first whole
    hour after it (in the account's time zone), stored and recorded as metrics sync
    does. Spend control frees what a change held once its account reported such an hour."""
    zone = ZoneInfo(campaign.ad_account.timezone)
    local = moment.astimezone(zone)
    hour = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    report_spend(campaign, hour.date(), spend, hour=hour.hour)
