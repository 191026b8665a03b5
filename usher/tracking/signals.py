"""Invalidate cached resolutions whenever something they depend on changes.

Connected in `TrackingConfig.ready`. Bulk `QuerySet.update()` bypasses signals: code that
updates these models in bulk must call `usher.tracking.cache.invalidate_client` itself.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from usher.marketplace.models import MarketplaceClient, MarketplaceEvent, MarketplaceOrganizer
from usher.tracking.cache import invalidate_client
from usher.tracking.models import EventTrackingCode, MarketplaceTrackingCode

SIGNALS = (("post_save", post_save), ("post_delete", post_delete))


def _on_client_owned_change(sender: type, instance: Any, **kwargs: Any) -> None:
    invalidate_client(instance.client_id)


def _on_client_change(sender: type, instance: MarketplaceClient, **kwargs: Any) -> None:
    # Allowed origins and the site key shape the tracking-config answers too.
    invalidate_client(instance.pk)


def connect() -> None:
    for model in (
        EventTrackingCode,
        MarketplaceTrackingCode,
        MarketplaceEvent,  # its organizer, slug, name or currency may change
        MarketplaceOrganizer,  # suspension hides its codes
    ):
        for name, signal in SIGNALS:
            signal.connect(
                _on_client_owned_change,
                sender=model,
                dispatch_uid=f"tracking-invalidate-{model.__name__}-{name}",
            )
    for name, signal in SIGNALS:
        signal.connect(
            _on_client_change, sender=MarketplaceClient, dispatch_uid=f"tracking-client-{name}"
        )
