"""The demo marketplace carries tracking codes at all three levels."""

from __future__ import annotations

import pytest

from usher.marketplace.demo import load_demo_marketplace
from usher.tracking.models import EventTrackingCode, MarketplaceTrackingCode
from usher.tracking.resolved import CodeSource
from usher.tracking.resolver import resolve_for_event, server_side_codes

pytestmark = pytest.mark.django_db


def test_the_demo_has_codes_at_all_three_levels_and_loads_twice_unchanged():
    client = load_demo_marketplace()
    counts = (EventTrackingCode.objects.count(), MarketplaceTrackingCode.objects.count())
    load_demo_marketplace()
    assert (EventTrackingCode.objects.count(), MarketplaceTrackingCode.objects.count()) == counts

    festival = client.events.get(external_id="ev-001")
    sources = [(code.provider, code.source) for code in resolve_for_event(festival)]
    assert sources == [
        ("meta", CodeSource.EVENT),
        ("ga4", CodeSource.ORGANIZER_DEFAULT),
        ("tiktok", CodeSource.ORGANIZER_DEFAULT),
        ("meta", CodeSource.MARKETPLACE),
        ("ga4", CodeSource.MARKETPLACE),
    ]
    # Every demo code on the festival page has sandbox credentials: all send server-side.
    assert sorted((c.provider, c.source) for c in server_side_codes(festival)) == sorted(sources)
