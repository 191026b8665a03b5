"""What starts a delivery: a paid order from the core, or events stored by the collector;
both only once their transaction has committed."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from usher.conversions.tasks import fan_out_order_task, schedule_fan_out
from usher.events.collector import events_collected
from usher.lib.outages import broker_or
from usher.marketplace.models import Order, OrderStatus


@receiver(post_save, sender=Order, dispatch_uid="conversions.order_saved")
def order_saved(sender: type[Order], instance: Order, **kwargs: object) -> None:
    if instance.status != OrderStatus.PAID:
        return
    # With the broker down the order is still stored (the ingest answers 200) and the
    # sweep fans it out later (fanout.fan_out_stragglers); robust for anything else.
    order_id = instance.pk

    def enqueue_fan_out() -> None:  # named: Django logs a robust callback's __qualname__
        broker_or(lambda: fan_out_order_task.delay(order_id), lambda: None)

    transaction.on_commit(enqueue_fan_out, robust=True)


@receiver(events_collected, dispatch_uid="conversions.events_collected")
def events_stored(sender: object, client_id: int, event_ids: list[str], **kwargs: object) -> None:
    """The collector announces stored events once committed: one queued fan-out of the
    client's pending events covers every request until a worker starts it; with the
    broker down they wait for the sweep."""
    schedule_fan_out(client_id)
