"""factory_boy factories for tracking codes; settings are valid for their provider."""

from __future__ import annotations

import factory

from usher.events.names import StandardEvent
from usher.marketplace.tests.factories import MarketplaceClientFactory, OrganizerFactory
from usher.tracking.models import EventTrackingCode, MarketplaceTrackingCode


def meta_settings(n: int) -> dict:
    return {
        "pixel_id": f"{100000000000000 + n}",
        "conversion_events": list(StandardEvent.values),
        "advanced_matching": False,
        "test_event_code": "",
        "custom_params": {},
    }


class EventTrackingCodeFactory(factory.django.DjangoModelFactory):
    """An organizer default Meta code unless `event` / `provider` / `settings` say otherwise."""

    class Meta:
        model = EventTrackingCode

    organizer = factory.SubFactory(OrganizerFactory)
    client = factory.SelfAttribute("organizer.client")
    event = None
    provider = "meta"
    enabled = True
    settings = factory.Sequence(meta_settings)


class MarketplaceTrackingCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketplaceTrackingCode

    client = factory.SubFactory(MarketplaceClientFactory)
    name = factory.Sequence(lambda n: f"Marketplace code {n}")
    provider = "meta"
    enabled = True
    settings = factory.Sequence(lambda n: meta_settings(n + 500000))
