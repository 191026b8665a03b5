"""`create_campaign_suite(event, budget)`: the plan's four campaigns per platform, waiting
for staff review, and how a general budget (event NULL) funds the organizer's events.

A kind that cannot run yet (no ad account or connector for the platform, its audience
missing or below the platform's minimum, the organizer's campaign limit reached) is
recorded as `skipped` with the reason, so the organizer and staff see why. Creating a
suite twice is harmless: each (budget, event, platform, kind) slot exists once, and a
skipped slot is retried.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db import transaction
from django.utils import timezone

from usher.audiences.services import audience_for_campaign
from usher.campaigns import accounts
from usher.campaigns.models import (
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetStatus,
    CampaignCreative,
    CampaignStatus,
    CampaignType,
    Objective,
)
from usher.campaigns.services import budget_platforms
from usher.lib.errors import InvalidInput
from usher.marketplace.models import EventStatus, MarketplaceEvent
from usher.platforms.registry import campaign_platform_names

logger = logging.getLogger("usher.campaigns")

# Statuses that count against the organizer's limit of campaigns (abuse protection).
COUNTED_STATUSES = (
    CampaignStatus.PENDING_REVIEW,
    CampaignStatus.APPROVED,
    CampaignStatus.ACTIVE,
    CampaignStatus.PAUSED,
)
DEFAULT_AGE_MIN = 18
DEFAULT_AGE_MAX = 65
# The query parameter that carries Usher's campaign id on every landing URL.
CAMPAIGN_ID_PARAM = "usher_campaign"


def creative_tag(campaign_type: str, variant: str) -> str:
    """The `utm_content` of a variant's landing URL: an order's tag names its creative."""
    return f"{campaign_type}-{variant}"


def landing_url(event: MarketplaceEvent, campaign: AutomatedCampaign, variant: str) -> str:
    """The event page with UTM tags and the campaign's own id, so attribution can tell
    campaigns (and A/B variants) apart whatever the platform reports."""
    parts = urlsplit(event.public_url)
    query = dict(parse_qsl(parts.query))
    query.update(
        {
            "utm_source": campaign.platform,
            "utm_medium": "paid",
            "utm_campaign": campaign.reference,
            "utm_content": creative_tag(campaign.campaign_type, variant),
            CAMPAIGN_ID_PARAM: str(campaign.pk),
        }
    )
    return urlunsplit(parts._replace(query=urlencode(query)))


def campaign_name(event: MarketplaceEvent, campaign_type: str) -> str:
    """The kind as a bracketed tag at the end: the simulator (and staff) read it."""
    label = CampaignType(campaign_type).label.lower()
    return f"{event.name[:200]} · {label} [{campaign_type}]"


def _targeting(event: MarketplaceEvent, audience_id: str | None) -> dict:
    return {
        "countries": [event.country] if event.country else [],
        "city": event.city,
        "age_min": DEFAULT_AGE_MIN,
        "age_max": DEFAULT_AGE_MAX,
        "interests": [x for x in (event.genre, event.category) if x],
        "include_audience_ids": [audience_id] if audience_id else [],
        "exclude_audience_ids": [],
    }


def _creatives(
    event: MarketplaceEvent, campaign: AutomatedCampaign, budget: AdCampaignBudget
) -> list[CampaignCreative]:
    image = budget.image_url or accounts.campaign_settings(budget.client).default_image_url
    when = event.starts_at.strftime("%d %b %Y")
    place = event.venue or event.city
    variants = {
        "A": (f"{event.name}: tickets on sale", f"{when} · {place}".strip(" ·")),
        "B": (f"{event.name}, {when}", f"Get your tickets for {place}".strip()),
    }
    return [
        CampaignCreative(
            campaign=campaign,
            variant=variant,
            headline=headline[:255],
            description=description,
            landing_url=landing_url(event, campaign, variant),
            image_url=image,
            video_url=budget.video_url,
        )
        for variant, (headline, description) in variants.items()
    ]


def _skip_reason(
    event: MarketplaceEvent, platform: str, campaign_type: str
) -> tuple[str, str | None]:
    """Why this slot cannot run (empty when it can), and its audience id."""
    if platform not in campaign_platform_names():
        return f"Usher cannot run campaigns on {platform} yet.", None
    account = accounts.ad_account_for(event.organizer, platform)
    if account is None:
        return f"No {platform} ad account with a credential is connected.", None
    if not event.public_url:
        return "The event has no public page to send people to.", None
    # The audience lives in the account the campaign runs on, or the campaign cannot use it.
    audience = audience_for_campaign(
        event, platform, campaign_type, ad_account_id=account.account_id
    )
    if not audience.ready:
        return audience.reason or "Its audience is not ready.", None
    return "", audience.external_audience_id


def _check_event(event: MarketplaceEvent, budget: AdCampaignBudget) -> None:
    if budget.status != BudgetStatus.ACTIVE:
        raise InvalidInput(["budget"], "only an active (paid) budget runs campaigns.")
    if event.organizer_id != budget.organizer_id or event.client_id != budget.client_id:
        raise InvalidInput(["event"], "the event is not the budget's organizer's.")
    if budget.event_id is not None and budget.event_id != event.pk:
        raise InvalidInput(["event"], "this budget funds another event.")
    if event.status != EventStatus.PUBLISHED or event.starts_at <= timezone.now():
        raise InvalidInput(["event"], "only an upcoming, published event gets campaigns.")


def create_campaign_suite(
    event: MarketplaceEvent, budget: AdCampaignBudget
) -> list[AutomatedCampaign]:
    """The suite for `event` on every platform the budget allows, `pending_review`."""
    _check_event(event, budget)
    ends_at = min(t for t in (event.starts_at, budget.ends_at) if t is not None)
    limit = accounts.campaign_settings(budget.client).max_active_campaigns_per_organizer
    suite: list[AutomatedCampaign] = []
    with transaction.atomic():
        # Serialize suites of one organizer, so the limit holds under concurrency.
        type(budget.organizer).objects.select_for_update().get(pk=budget.organizer_id)
        counted = AutomatedCampaign.objects.filter(
            organizer_id=budget.organizer_id, status__in=COUNTED_STATUSES
        ).count()
        for platform in budget_platforms(budget):
            account = accounts.ad_account_for(event.organizer, platform)
            for campaign_type in CampaignType.values:
                campaign, created = AutomatedCampaign.objects.get_or_create(
                    budget=budget,
                    event=event,
                    platform=platform,
                    campaign_type=campaign_type,
                    defaults={
                        "client_id": budget.client_id,
                        "organizer_id": budget.organizer_id,
                        "name": campaign_name(event, campaign_type),
                        "status": CampaignStatus.DRAFT,
                    },
                )
                if not created and campaign.status != CampaignStatus.SKIPPED:
                    suite.append(campaign)
                    continue
                reason, audience_id = _skip_reason(event, platform, campaign_type)
                if not reason and counted >= limit:
                    reason = f"The organizer already has {limit} campaigns (the limit)."
                campaign.ad_account = account
                campaign.objective = Objective.CONVERSIONS
                campaign.ends_at = ends_at
                campaign.targeting = _targeting(event, audience_id)
                campaign.status = (
                    CampaignStatus.SKIPPED if reason else CampaignStatus.PENDING_REVIEW
                )
                campaign.status_reason = reason
                campaign.save()
                if not reason:
                    counted += 1
                    if not campaign.creatives.exists():
                        CampaignCreative.objects.bulk_create(_creatives(event, campaign, budget))
                suite.append(campaign)
    logger.info(
        "campaign suite: budget=%s event=%s campaigns=%d skipped=%d",
        budget.pk,
        event.pk,
        len(suite),
        sum(c.status == CampaignStatus.SKIPPED for c in suite),
    )
    return suite


def events_funded_by(budget: AdCampaignBudget) -> list[MarketplaceEvent]:
    """The events a budget pays for: its event, or (a general budget) every upcoming
    published event of the organizer; events that end, are cancelled or sell out (the
    core then ends or cancels them) drop out, and allocation re-splits among the rest."""
    events = MarketplaceEvent.objects.filter(
        organizer_id=budget.organizer_id,
        client_id=budget.client_id,
        status=EventStatus.PUBLISHED,
        starts_at__gt=timezone.now(),
    )
    if budget.event_id is not None:
        events = events.filter(pk=budget.event_id)
    return list(events.order_by("starts_at"))


def create_suites_for_budget(budget: AdCampaignBudget) -> list[AutomatedCampaign]:
    """Suites for every event the budget funds (new events get theirs on the next run)."""
    return [c for event in events_funded_by(budget) for c in create_campaign_suite(event, budget)]
