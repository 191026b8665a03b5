"""The demo marketplace comes with built audiences that show sizes and reasons."""

from __future__ import annotations

import pytest

from usher.audiences.models import AudienceStatus, AudienceType, RemarketingAudience
from usher.marketplace.demo import load_demo_marketplace
from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer

pytestmark = pytest.mark.django_db


def test_the_demo_has_each_organizers_buyers_and_each_events_viewers_built_once():
    client = load_demo_marketplace()
    load_demo_marketplace()  # idempotent
    audiences = RemarketingAudience.objects.filter(client=client)
    assert audiences.filter(audience_type=AudienceType.TICKET_BUYERS).count() == (
        MarketplaceOrganizer.objects.filter(client=client).count()
    )
    assert audiences.filter(audience_type=AudienceType.EVENT_VIEWERS).count() == (
        MarketplaceEvent.objects.filter(client=client).count()
    )
    buyers = audiences.filter(audience_type=AudienceType.TICKET_BUYERS)
    assert all(a.last_built_at for a in audiences)
    assert any(a.member_count > 0 for a in buyers)
    for audience in buyers:
        if audience.member_count < 100:
            assert audience.status == AudienceStatus.BUILDING
            assert audience.status_reason.endswith("Meta needs at least 100.")
        else:
            assert audience.status == AudienceStatus.READY
