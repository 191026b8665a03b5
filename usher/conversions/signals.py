"""What starts a delivery: a paid order from the core, or events stored by the collector;
both only once their transaction has committed."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from usher.conversions.tasks import fan_out_order_task, fan_out_tracking_events_task
from usher.events.collector import events_collected
from usher.marketplace.models import Order, OrderStatus


@receiver(post_save, sender=Order, dispatch_uid="conversions.order_saved")
def order_saved(sender: type[Order], instance: Order, **kwargs: object) -> None:
    if instance.status != OrderStatus.PAID:
        return
    # robust: with the broker down the order is still stored (the ingest answers 200) and
    # the sweep fans it out later; see fanout.fan_out_stragglers.
    order_id = instance.pk

    def enqueue_fan_out() -> None:  # named: Django logs a robust callback's __qualname__
        fan_out_order_task.delay(order_id)

    transaction.on_commit(enqueue_fan_out, robust=True)


@receiver(events_collected, dispatch_uid="conversions.events_collected")
def events_stored(sender: object, client_id: int, event_ids: list[str], **kwargs: object) -> None:
    """The collector announces stored events after its transaction commits."""
    fan_out_tracking_events_task.delay(client_id, event_ids)
