"""An organizer's history before its first budget, for worlds that start empty: the demo
(`make run`) and the optimizer's benchmark.

A real organizer comes with past buyers and with visitors of the event's page, so its
retargeting, dynamic remarketing and lookalike audiences can be served from day one. An
empty database has neither, and every campaign but prospecting would be skipped. This
module lands that history where the real one lives — past buyers as orders through the
ingest service, page visitors and cart abandoners in the event store, all consented —
as many as each audience the wanted campaigns need to be served, then builds and syncs
those audiences to the platforms, as the nightly refresh does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from usher.audiences.models import AudienceStatus, RemarketingAudience
from usher.audiences.services import (
    DYNAMIC_REMARKETING,
    LOOKALIKE,
    RETARGETING,
    audience_for_campaign,
    refresh_audience,
)
from usher.campaigns.accounts import ad_account_for
from usher.events.models import TrackingEvent
from usher.marketplace import services as marketplace
from usher.marketplace.models import MarketplaceClient, MarketplaceEvent
from usher.marketplace.schemas import AttributionIn, ConsentIn, CustomerIn, OrderIn
from usher.marketplace.simulation import GRANTED
from usher.platforms.registry import get_audiences_connector

# Each audience gets this many times its platform's minimum (Meta serves lists from 100
# people, Google's and TikTok's from 1,000; a lookalike needs a seed of 100 buyers).
HISTORY_MARGIN = 1.2
HISTORY_DAYS = 25  # visits within the 30-day window of the visitor audiences
PAST_PURCHASES_DAYS_AGO = 120
PAST_TICKET_PRICE = Decimal("150.00")
# Syncing a lookalike needs its source list on the platform first: a pass per level.
AUDIENCE_PASSES = 3

Wanted = Iterable[tuple[str, str]]  # (platform, campaign type)


def history_sizes(wanted: Wanted) -> dict[str, int]:
    """How many past buyers (lookalike), event viewers (retargeting) and cart abandoners
    (dynamic remarketing) the wanted campaigns' audiences need to be served."""
    needs = {RETARGETING: 0, DYNAMIC_REMARKETING: 0, LOOKALIKE: 0}
    for platform, campaign_type in wanted:
        if campaign_type not in needs:
            continue
        connector = get_audiences_connector(platform)
        minimum = connector.min_members
        if campaign_type == LOOKALIKE and connector.min_lookalike_seed is not None:
            # the seed list is uploaded first: it must reach the list's own minimum
            minimum = max(connector.min_lookalike_seed, minimum)
        needs[campaign_type] = max(needs[campaign_type], math.ceil(minimum * HISTORY_MARGIN))
    return needs


def land_history(
    client: MarketplaceClient,
    event: MarketplaceEvent,
    past_event: MarketplaceEvent,
    now: datetime,
    sizes: dict[str, int],
) -> None:
    """Past buyers of `past_event` (orders through the ingest service) and `event`'s page
    visitors and cart abandoners (the event store, as the collector keeps them), as many
    as `sizes` says per campaign type. Idempotent: the same ids each time."""
    rng = random.Random(event.pk)
    past = now - timedelta(days=PAST_PURCHASES_DAYS_AGO)
    marketplace.upsert_orders(
        client,
        [
            OrderIn(
                external_id=f"history-{past_event.external_id}-{n}",
                event_external_id=past_event.external_id,
                value=PAST_TICKET_PRICE,
                currency=client.currency,
                tickets_count=1 + n % 3,
                placed_at=past - timedelta(hours=n % 500),
                customer=CustomerIn(email=f"buyer-{n}@example.invalid"),
                attribution=AttributionIn(consent=ConsentIn(**GRANTED)),
            )
            for n in range(sizes[LOOKALIKE])
        ],
    )
    visits = [("page_view", f"viewer-{n}") for n in range(sizes[RETARGETING])] + [
        (name, f"cart-{n}")
        for n in range(sizes[DYNAMIC_REMARKETING])
        for name in ("page_view", "add_to_cart")
    ]
    TrackingEvent.objects.bulk_create(
        (
            TrackingEvent(
                client=client,
                organizer=event.organizer,
                marketplace_event=event,
                event_id=f"history-{event.pk}-{index}",
                name=name,
                occurred_at=now - timedelta(minutes=rng.randrange(HISTORY_DAYS * 24 * 60)),
                visitor_id=visitor,
                page_url=event.public_url,
                consent=GRANTED,
                fanned_out_at=now,  # history: sent on (to no code yet) when it happened
            )
            for index, (name, visitor) in enumerate(visits)
        ),
        ignore_conflicts=True,
    )


def ready_audiences(event: MarketplaceEvent, wanted: Wanted, now: datetime) -> None:
    """Every audience the wanted campaigns target, built and synced to the platforms
    (what the nightly refresh does), so the suite's slots are not skipped."""
    for platform, campaign_type in wanted:
        account = ad_account_for(event.organizer, platform)
        if account is None:
            continue  # the suite says why: no ad account
        audience_for_campaign(event, platform, campaign_type, ad_account_id=account.account_id)
    for _ in range(AUDIENCE_PASSES):
        waiting = RemarketingAudience.objects.filter(organizer=event.organizer).exclude(
            status=AudienceStatus.ACTIVE, status_reason=""
        )
        for audience_id in waiting.order_by("pk").values_list("pk", flat=True):
            refresh_audience(audience_id, now)
