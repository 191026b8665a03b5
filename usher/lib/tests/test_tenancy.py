"""Tenant scoping follows the paths a model declares, not only the default ones."""

from __future__ import annotations

import pytest

from usher.marketplace.models import MarketplaceEvent
from usher.marketplace.tests.factories import EventFactory, MarketplaceClientFactory

pytestmark = pytest.mark.django_db


def test_a_models_own_client_path_decides_which_client_sees_a_row(organizer, monkeypatch):
    event = EventFactory(organizer=organizer)
    # A row whose own client column disagrees with its organizer's client: only the
    # declared path can tell which one scopes it.
    elsewhere = MarketplaceClientFactory()
    MarketplaceEvent.objects.filter(pk=event.pk).update(client=elsewhere)
    monkeypatch.setattr(MarketplaceEvent, "TENANT_CLIENT_PATH", "organizer__client", raising=False)
    assert list(MarketplaceEvent.objects.for_client(organizer.client)) == [event]
    assert not MarketplaceEvent.objects.for_client(elsewhere).exists()
    assert list(MarketplaceEvent.objects.for_organizer(organizer)) == [event]
