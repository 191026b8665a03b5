"""What starts a delivery: a paid order from the core, or events stored by the collector;
both only once their transaction has committed."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from usher.conversions.tasks import fan_out_order_task, fan_out_tracking_events_task
from usher.marketplace.models import Order, OrderStatus
from usher.tracking.collector import events_collected


@receiver(post_save, sender=Order, dispatch_uid="conversions.order_saved")
def order_saved(sender: type[Order], instance: Order, **kwargs: object) -> None:
    if instance.status != OrderStatus.PAID:
        return
    transaction.on_commit(partial(fan_out_order_task.delay, instance.pk))


@receiver(events_collected, dispatch_uid="conversions.events_collected")
def events_stored(sender: object, client_id: int, event_ids: list[str], **kwargs: object) -> None:
    """The collector announces stored events after its transaction commits."""
    fan_out_tracking_events_task.delay(client_id, event_ids)
