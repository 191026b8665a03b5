"""Demo audiences for `make run`: each demo organizer's buyers and each event's viewers
on Meta, built (not synced), so the admin and the API show sizes and waiting reasons."""

from __future__ import annotations

from django.utils import timezone

from usher.audiences.membership import build_audience
from usher.audiences.models import AudienceType
from usher.audiences.services import ensure_standard_audience
from usher.marketplace.models import MarketplaceClient, MarketplaceEvent, MarketplaceOrganizer

DEMO_PLATFORM = "meta"


def load_demo_audiences(client: MarketplaceClient) -> None:
    """Idempotent: the standard audiences exist once and are rebuilt."""
    now = timezone.now()
    audiences = [
        ensure_standard_audience(organizer, DEMO_PLATFORM, AudienceType.TICKET_BUYERS)
        for organizer in MarketplaceOrganizer.objects.filter(client=client)
    ]
    audiences += [
        ensure_standard_audience(event.organizer, DEMO_PLATFORM, AudienceType.EVENT_VIEWERS, event)
        for event in MarketplaceEvent.objects.filter(client=client).select_related("organizer")
    ]
    for audience in audiences:
        build_audience(audience, now)
