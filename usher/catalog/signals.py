"""An ingested or changed event reaches the catalogs that hold it (after the commit;
while the broker is down the hourly sync catches up)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from usher.catalog.tasks import sync_event_catalogs_task
from usher.lib.outages import broker_or
from usher.marketplace.models import MarketplaceEvent


@receiver(post_save, sender=MarketplaceEvent, dispatch_uid="catalog.event_saved")
def event_saved(
    sender: type[MarketplaceEvent], instance: MarketplaceEvent, **kwargs: object
) -> None:
    event_id = instance.pk

    def enqueue_catalog_sync() -> None:  # named: Django logs a robust callback's __qualname__
        broker_or(lambda: sync_event_catalogs_task.delay(event_id), lambda: None)

    transaction.on_commit(enqueue_catalog_sync, robust=True)
