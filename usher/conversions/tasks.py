"""Celery tasks of the delivery pipeline: thin wrappers that take ids and are safe to run
twice (fan-out is idempotent on its unique key; dispatch claims rows under a lease)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from usher.conversions import dispatch, fanout, services
from usher.lib.outages import broker_or, cache_or

logger = logging.getLogger("usher.conversions")

# Many events for one destination within this window share one queued dispatch task.
DISPATCH_DEBOUNCE_SECONDS = 2


def _queued_key(destination_key: str) -> str:
    return f"usher:dispatch-queued:{destination_key}"


def schedule_dispatch(destination_keys: Iterable[str]) -> None:
    """Queue one dispatch run per destination (debounced); with the cache down every
    destination is queued, with the broker down the sweep runs them."""
    for key in destination_keys:
        first = cache_or(
            lambda key=key: cache.add(_queued_key(key), 1, timeout=DISPATCH_DEBOUNCE_SECONDS),
            lambda: True,
        )
        if first:
            broker_or(lambda key=key: dispatch_destination_task.delay(key), lambda: None)


@shared_task(ignore_result=True)
def fan_out_tracking_events_task(client_id: int, event_ids: list[str]) -> None:
    schedule_dispatch(fanout.fan_out_tracking_events(client_id, event_ids))


@shared_task(ignore_result=True)
def fan_out_order_task(order_id: int) -> None:
    schedule_dispatch(fanout.fan_out_order(order_id))


@shared_task(ignore_result=True)
def dispatch_destination_task(destination_key: str) -> None:
    # Events stored from now on schedule a new run instead of waiting for the sweep.
    cache_or(lambda: cache.delete(_queued_key(destination_key)), lambda: None)
    summary = dispatch.dispatch_destination(destination_key)
    logger.info(
        "dispatch run destination=%s batches=%d delivered=%d rejected=%d retrying=%d dead=%d",
        destination_key,
        summary.batches,
        summary.delivered,
        summary.rejected,
        summary.retrying,
        summary.dead,
    )
    if summary.resume_at is not None:
        # Work is left (batch cap or rate limit): come back for it, after other
        # destinations had their turn, rather than waiting for the 5-minute sweep.
        delay = max(0.0, (summary.resume_at - timezone.now()).total_seconds())
        dispatch_destination_task.apply_async((destination_key,), countdown=delay)


@shared_task(ignore_result=True)
def sweep_deliveries_task() -> None:
    """Every 5 minutes: events and orders whose fan-out task was lost, retries that came
    due, and leases of crashed workers that ran out."""
    fanout.fan_out_stragglers()
    schedule_dispatch(dispatch.due_destination_keys())


@shared_task(ignore_result=True)
def purge_network_data_task() -> None:
    services.purge_network_data()
    services.purge_delivery_logs()
