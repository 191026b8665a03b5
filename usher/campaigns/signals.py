"""Orders from the core are attributed to Usher's campaigns once their transaction
commits (the ingest's upsert saves them, new or changed)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from usher.campaigns.tasks import attribute_order_task
from usher.marketplace.models import Order


@receiver(post_save, sender=Order, dispatch_uid="campaigns.order_saved")
def order_saved(sender: type[Order], instance: Order, **kwargs: object) -> None:
    order_id = instance.pk

    def enqueue_attribution() -> None:  # named: Django logs a robust callback's __qualname__
        attribute_order_task.delay(order_id)

    transaction.on_commit(enqueue_attribution, robust=True)
