"""Audiences: which audience a campaign needs, creating the standard ones, custom segments.

`audience_for_campaign` is what the campaigns engine asks before publishing a suite:
it makes sure the standard audience for that campaign kind exists (created in
`building`; the daily job or a refresh builds and syncs it) and says whether the
platform audience is ready, and if not, why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from usher.audiences.criteria import Criteria
from usher.audiences.models import (
    AudiencePlatform,
    AudienceStatus,
    AudienceType,
    RefreshFrequency,
    RemarketingAudience,
)
from usher.lib.errors import InvalidInput
from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer
from usher.ops.jobs import clients_at_local_hour
from usher.platforms.registry import get_audiences_connector

# Campaign kinds of a suite (the campaigns app's names) and the audience each targets.
PROSPECTING = "prospecting"
RETARGETING = "retargeting"
LOOKALIKE = "lookalike"
DYNAMIC_REMARKETING = "dynamic_remarketing"
CAMPAIGN_TYPES = (PROSPECTING, RETARGETING, LOOKALIKE, DYNAMIC_REMARKETING)

DEFAULT_LOOKALIKE_PERCENT = 1  # the closest match; organizers widen it per audience

# The standard audiences: the plan's retargeting (the event's visitors who did not buy),
# buyers (the lookalike seed) and cart abandoners (dynamic remarketing).
STANDARD_CRITERIA: dict[str, Criteria] = {
    AudienceType.EVENT_VIEWERS: Criteria(
        source_events=("page_view", "view_item"), exclude_purchasers=True
    ),
    AudienceType.CART_ABANDONERS: Criteria(
        source_events=("add_to_cart", "begin_checkout"), exclude_purchasers=True
    ),
    AudienceType.TICKET_BUYERS: Criteria(source_events=("purchase",), time_window_days=540),
}


@dataclass(frozen=True)
class CampaignAudience:
    """The audience a campaign kind targets on one platform, and whether it can run."""

    external_audience_id: str | None
    ready: bool
    reason: str


def audience_for_campaign(
    event: MarketplaceEvent, platform: str, campaign_type: str, *, ad_account_id: str = ""
) -> CampaignAudience:
    """Which platform audience a `campaign_type` campaign for `event` targets.

    Prospecting needs none. Retargeting targets the event's viewers who did not buy,
    dynamic remarketing its cart abandoners, lookalike a lookalike of the organizer's
    buyers. On a platform without lookalikes (Google retired similar audiences)
    "lookalike" answers with the buyers' customer list, used as an optimized-targeting
    signal instead. Missing audiences are created (in `building`) so the next build
    picks them up, in `ad_account_id` (the campaign's account) when given.
    """
    if platform not in AudiencePlatform.values:
        raise ValueError(f"unknown platform {platform!r}")
    if campaign_type not in CAMPAIGN_TYPES:
        raise ValueError(f"unknown campaign type {campaign_type!r}; expected {CAMPAIGN_TYPES}")
    if campaign_type == PROSPECTING:
        return CampaignAudience(None, True, "Prospecting reaches new people: no audience needed.")
    organizer = event.organizer
    if campaign_type == RETARGETING:
        audience = ensure_standard_audience(
            organizer, platform, AudienceType.EVENT_VIEWERS, event, ad_account_id=ad_account_id
        )
    elif campaign_type == DYNAMIC_REMARKETING:
        audience = ensure_standard_audience(
            organizer, platform, AudienceType.CART_ABANDONERS, event, ad_account_id=ad_account_id
        )
    else:
        buyers = ensure_standard_audience(
            organizer, platform, AudienceType.TICKET_BUYERS, ad_account_id=ad_account_id
        )
        if get_audiences_connector(platform).min_lookalike_seed is None:
            decision = _readiness(buyers)
            note = (
                f"{buyers.get_platform_display()} has no lookalikes (Google retired similar "
                "audiences); the buyers' list is the signal for optimized targeting."
            )
            return CampaignAudience(
                decision.external_audience_id, decision.ready, f"{note} {decision.reason}".strip()
            )
        audience = ensure_lookalike_audience(buyers)
    return _readiness(audience)


def _readiness(audience: RemarketingAudience) -> CampaignAudience:
    # Active with a note means on the platform but below what it serves.
    if (
        audience.status == AudienceStatus.ACTIVE
        and audience.external_audience_id
        and not audience.status_reason
    ):
        return CampaignAudience(audience.external_audience_id, True, "")
    reason = audience.status_reason or f"The audience is {audience.get_status_display().lower()}."
    return CampaignAudience(None, False, reason)


def ensure_standard_audience(
    organizer: MarketplaceOrganizer,
    platform: str,
    audience_type: str,
    event: MarketplaceEvent | None = None,
    *,
    ad_account_id: str = "",
) -> RemarketingAudience:
    """The organizer's standard audience of this type (for `event`, or organizer-wide),
    in `ad_account_id` when given, else the organizer's default account."""
    criteria = STANDARD_CRITERIA[audience_type]
    with transaction.atomic():
        existing = (
            RemarketingAudience.objects.for_organizer(organizer)
            .select_for_update()
            .filter(platform=platform, audience_type=audience_type, event=event)
            .exclude(status=AudienceStatus.EXPIRED)
            .order_by("id")
            .first()
        )
        if existing is not None:
            if ad_account_id and not existing.ad_account_id:
                existing.ad_account_id = ad_account_id
                existing.save(update_fields=["ad_account_id", "updated_at"])
            return existing
        label = AudienceType(audience_type).label
        scope = event.name if event is not None else organizer.name
        return RemarketingAudience.objects.create(
            client_id=organizer.client_id,
            organizer=organizer,
            event=event,
            platform=platform,
            audience_type=audience_type,
            name=f"{label}: {scope}"[:255],
            description=_describe(criteria),
            criteria=criteria.to_json(),
            ad_account_id=ad_account_id or default_ad_account(organizer, platform),
        )


def ensure_lookalike_audience(
    source: RemarketingAudience, percentage: int = DEFAULT_LOOKALIKE_PERCENT
) -> RemarketingAudience:
    """The lookalike of `source` at `percentage`, on the source's platform and account."""
    with transaction.atomic():
        existing = (
            RemarketingAudience.objects.select_for_update()
            .filter(
                organizer_id=source.organizer_id,
                audience_type=AudienceType.LOOKALIKE,
                criteria__lookalike_source_id=source.pk,
                criteria__lookalike_percentage=percentage,
            )
            .exclude(status=AudienceStatus.EXPIRED)
            .order_by("id")
            .first()
        )
        if existing is not None:
            if source.ad_account_id and not existing.ad_account_id:
                existing.ad_account_id = source.ad_account_id
                existing.save(update_fields=["ad_account_id", "updated_at"])
            return existing
        criteria = Criteria(lookalike_source_id=source.pk, lookalike_percentage=percentage)
        return RemarketingAudience.objects.create(
            client_id=source.client_id,
            organizer_id=source.organizer_id,
            event=None,
            platform=source.platform,
            audience_type=AudienceType.LOOKALIKE,
            name=f"Lookalike {percentage}% of {source.name}"[:255],
            description=f"People most like the {percentage}% closest to: {source.name}.",
            criteria=criteria.to_json(),
            ad_account_id=source.ad_account_id,
        )


def default_ad_account(organizer: MarketplaceOrganizer, platform: str) -> str:
    """The account new audiences of `organizer` live in on `platform`, or "" if unknown.

    Read from the organizer's default tracking code settings (`ad_account_id` for Meta,
    `customer_id` for Google Ads, `advertiser_id` for TikTok) until ad accounts have
    their own model.
    """
    from usher.tracking.models import EventTrackingCode

    key = ACCOUNT_SETTING[platform]
    code = (
        EventTrackingCode.objects.for_organizer(organizer)
        .filter(provider=platform, event__isnull=True, enabled=True)
        .first()
    )
    return str(code.settings.get(key, "")) if code else ""


ACCOUNT_SETTING = {
    AudiencePlatform.META: "ad_account_id",
    AudiencePlatform.GOOGLE_ADS: "customer_id",
    AudiencePlatform.TIKTOK: "advertiser_id",
}


def _describe(criteria: Criteria) -> str:
    events = ", ".join(criteria.source_events)
    text = f"Visitors with {events} in the last {criteria.time_window_days} days"
    if criteria.min_actions > 1:
        text += f", at least {criteria.min_actions} times"
    if criteria.exclude_purchasers:
        text += ", who have not bought"
    return text + "."


# --- the daily refresh (plan 2.7: 03:00) ---

REFRESH_LOCAL_HOUR = 3  # in each marketplace's own time zone: its quietest hour
# Built less than this long ago: not due again (the hourly beat may fire twice in an hour).
MIN_AGE_FOR_REFRESH = {
    RefreshFrequency.DAILY: timedelta(hours=20),
    RefreshFrequency.WEEKLY: timedelta(days=6, hours=20),
}


def due_audience_ids(now: datetime) -> list[int]:
    """Audiences to refresh now: auto-refreshed, not expired, of marketplaces where it
    is 03:00, and not built within their frequency."""
    clients = [client.pk for client in clients_at_local_hour(now, REFRESH_LOCAL_HOUR)]
    due = Q()
    for frequency, age in MIN_AGE_FOR_REFRESH.items():
        due |= Q(refresh_frequency=frequency) & (
            Q(last_built_at__isnull=True) | Q(last_built_at__lt=now - age)
        )
    return list(
        RemarketingAudience.objects.filter(due, client_id__in=clients, auto_refresh=True)
        .exclude(status=AudienceStatus.EXPIRED)
        .order_by("id")
        .values_list("id", flat=True)
    )


def refresh_audience(audience_id: int, now: datetime) -> None:
    """Build one audience and sync it (the daily job's unit of work, and "refresh now")."""
    from usher.audiences.membership import build_audience
    from usher.audiences.sync import audience_lock, sync_locked

    with audience_lock(audience_id) as acquired:
        audience = RemarketingAudience.objects.filter(pk=audience_id).first()
        if not acquired or audience is None or audience.status == AudienceStatus.EXPIRED:
            return  # another worker has it (and will send what this one would)
        build_audience(audience, now)
        sync_locked(audience_id, now)


# --- organizers' own segments ---


@dataclass(frozen=True)
class SegmentInput:
    platform: str
    name: str
    description: str = ""
    event_id: int | None = None
    criteria: dict | None = None
    refresh_frequency: str = RefreshFrequency.DAILY
    auto_refresh: bool = True
    expires_at: datetime | None = None
    ad_account_id: str = ""


def create_custom_segment(
    organizer: MarketplaceOrganizer, data: SegmentInput
) -> RemarketingAudience:
    """A custom segment of the organizer's buyers (spend, orders, recency); it is built
    and synced by the next refresh, or at once with "refresh now"."""
    criteria = Criteria.from_json(data.criteria)
    if criteria.lookalike_source_id is not None or criteria.lookalike_percentage is not None:
        raise InvalidInput(("body", "criteria"), "lookalike criteria belong to lookalike audiences")
    event = None
    if data.event_id is not None:
        event = MarketplaceEvent.objects.for_organizer(organizer).filter(pk=data.event_id).first()
        if event is None:
            raise InvalidInput(("body", "event_id"), "no such event of yours")
    return RemarketingAudience.objects.create(
        client_id=organizer.client_id,
        organizer=organizer,
        event=event,
        platform=data.platform,
        audience_type=AudienceType.CUSTOM_SEGMENT,
        name=data.name,
        description=data.description,
        criteria=criteria.to_json(),
        refresh_frequency=data.refresh_frequency,
        auto_refresh=data.auto_refresh,
        expires_at=data.expires_at,
        ad_account_id=data.ad_account_id or default_ad_account(organizer, data.platform),
    )
