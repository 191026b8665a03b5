"""Invalidate cached resolutions whenever a tracking code changes (changes of the
client, its events and organizers: `usher.marketplace.signals`); keep an event's codes
with its organizer.

Connected in `TrackingConfig.ready`. Bulk `QuerySet.update()` bypasses signals: code that
updates these models in bulk must call `usher.lib.client_cache.invalidate_client` itself.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from usher.lib.client_cache import invalidate_client
from usher.marketplace.models import MarketplaceEvent
from usher.tracking.models import EventTrackingCode, MarketplaceTrackingCode

SIGNALS = (("post_save", post_save), ("post_delete", post_delete))


def _on_client_owned_change(sender: type, instance: Any, **kwargs: Any) -> None:
    invalidate_client(instance.client_id)


def _on_event_saved(
    sender: type,
    instance: MarketplaceEvent,
    created: bool = False,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    """An event moved to another organizer (by ingest) takes none of the previous
    organizer's event-specific codes along: they would still show in that organizer's
    list and come back if the event moved back. A new event has no codes, and a save
    that names its fields without the organizer moved nothing: no query then (ingest
    sends this once per row of a batch)."""
    if created or (update_fields is not None and "organizer" not in update_fields):
        return
    EventTrackingCode.objects.filter(event=instance).exclude(
        organizer_id=instance.organizer_id
    ).delete()


def connect() -> None:
    post_save.connect(_on_event_saved, sender=MarketplaceEvent, dispatch_uid="tracking-event-moved")
    for model in (EventTrackingCode, MarketplaceTrackingCode):
        for name, signal in SIGNALS:
            signal.connect(
                _on_client_owned_change,
                sender=model,
                dispatch_uid=f"tracking-invalidate-{model.__name__}-{name}",
            )
