"""Which catalog a dynamic remarketing campaign shows: registered with the campaigns app
(`specs.register_catalog_resolver`) and asked when the campaign is published.

A campaign runs on its account's catalog when the feed exists (the platform's catalog
id is known) and holds the campaign's events as the platform accepted them: the event
for an event's budget, every event of the organizer on the feed for a general budget.
Otherwise it runs as before, on the event's cart abandoners with its own creatives, and
the note says why.
"""

from __future__ import annotations

from usher.audiences.models import AudienceType
from usher.audiences.services import STANDARD_CRITERIA
from usher.campaigns.models import AutomatedCampaign
from usher.campaigns.specs import FALLBACK, CatalogChoice
from usher.catalog.models import CatalogFeed, CatalogItemState
from usher.platforms.campaigns_base import CatalogSpec

# The product audience looks back as far as the cart abandoners' audience the suite
# checked before creating the campaign.
RETENTION_DAYS = STANDARD_CRITERIA[AudienceType.CART_ABANDONERS].time_window_days


def catalog_for_campaign(campaign: AutomatedCampaign) -> CatalogChoice:
    feed = CatalogFeed.objects.filter(ad_account_id=campaign.ad_account_id).first()
    if feed is None or not feed.catalog_id:
        return CatalogChoice(
            None, f"{FALLBACK}: its ad account has no event catalog (settings.catalog is off)"
        )
    items = CatalogItemState.objects.filter(feed=feed).exclude(synced_hash="")
    if campaign.budget.event_id is None:
        items = items.filter(event__organizer_id=campaign.organizer_id)
    else:
        items = items.filter(event_id=campaign.event_id)
    content_ids = tuple(sorted(items.values_list("content_id", flat=True)))
    if not content_ids:
        return CatalogChoice(
            None,
            f"{FALLBACK}: its events are not in catalog {feed.catalog_id} yet (not synced, "
            "refused, or without an image or price; see the catalog feed)",
        )
    return CatalogChoice(
        CatalogSpec(feed.catalog_id, content_ids, RETENTION_DAYS),
        f"catalog ads of {len(content_ids)} event(s) of catalog {feed.catalog_id}",
    )
