"""factory_boy factories for the marketplace entities, shared by every app's tests."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth.models import Permission
from django.utils import timezone

from usher.marketplace.models import (
    MarketplaceClient,
    MarketplaceEvent,
    MarketplaceOrganizer,
    Order,
    User,
)


class MarketplaceClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketplaceClient

    name = factory.Sequence(lambda n: f"Marketplace {n}")
    slug = factory.Sequence(lambda n: f"marketplace-{n}")
    currency = "RON"
    timezone = "Europe/Bucharest"
    allowed_origins = factory.LazyAttribute(lambda c: [f"https://{c.slug}.example"])


class OrganizerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketplaceOrganizer

    client = factory.SubFactory(MarketplaceClientFactory)
    external_id = factory.Sequence(lambda n: f"org-{n}")
    name = factory.Sequence(lambda n: f"Organizer {n}")


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketplaceEvent

    organizer = factory.SubFactory(OrganizerFactory)
    client = factory.SelfAttribute("organizer.client")
    external_id = factory.Sequence(lambda n: f"ev-{n}")
    slug = factory.Sequence(lambda n: f"event-{n}")
    name = factory.Sequence(lambda n: f"Event {n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    city = "Bucharest"
    country = "RO"
    currency = "RON"
    status = "published"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    event = factory.SubFactory(EventFactory)
    organizer = factory.SelfAttribute("event.organizer")
    client = factory.SelfAttribute("event.client")
    external_id = factory.Sequence(lambda n: f"ord-{n}")
    value = Decimal("120.00")
    currency = "RON"
    tickets_count = 2
    placed_at = factory.LazyFunction(timezone.now)


def staff_user(client: MarketplaceClient, app_label: str, username: str = "staff") -> User:
    """A staff user of `client` with every permission of `app_label`'s models."""
    user = User.objects.create_user(username, password="pw-12345678", client=client, is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label=app_label))
    return user
