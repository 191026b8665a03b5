"""Celery tasks of the delivery pipeline: thin wrappers that take ids and are safe to run
twice (fan-out is idempotent on its unique key; dispatch claims rows under a lease)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from usher.conversions import dispatch, fanout, services
from usher.lib.outages import broker_or, cache_or

logger = logging.getLogger("usher.conversions")

# A queued task's flag (see `_queue_once`) lasts this long at most: a lost task delays
# the next one by no more than this.
QUEUED_FLAG_SECONDS = 2
# Follow-up runs are queued with a countdown up to this far ahead; later retries are
# left to the periodic `dispatch_due_task` (a broker holds delayed messages in memory,
# and Redis redelivers the long ones after its visibility timeout).
FOLLOW_UP_HORIZON_SECONDS = 30 * 60


def _queued_key(destination_key: str) -> str:
    return f"usher:dispatch-queued:{destination_key}"


def _fan_out_queued_key(client_id: int) -> str:
    return f"usher:fan-out-queued:{client_id}"


def _queue_once(flag: str, publish: Callable[[], object]) -> None:
    """Publish a task unless one under `flag` is queued and not started yet: the task
    deletes its flag as it starts, before it reads its work, so whatever was committed
    before this call is either seen by that task or gets a new one. With the cache down
    every call publishes; with the broker down the periodic sweeps do the work."""
    first = cache_or(lambda: cache.add(flag, 1, timeout=QUEUED_FLAG_SECONDS), lambda: True)
    if first:
        broker_or(publish, lambda: None)


def schedule_dispatch(destination_keys: Iterable[str]) -> None:
    """Queue one dispatch run per destination (debounced)."""
    for key in destination_keys:
        _queue_once(_queued_key(key), lambda key=key: dispatch_destination_task.delay(key))


def schedule_fan_out(client_id: int) -> None:
    """Queue one fan-out of the client's stored events (debounced): however many
    collector requests arrive while it waits for a worker, one task fans them all out."""
    _queue_once(_fan_out_queued_key(client_id), lambda: fan_out_client_events_task.delay(client_id))


@shared_task(ignore_result=True)
def fan_out_client_events_task(client_id: int) -> None:
    # Events stored from now on queue a new run: this one may not see them.
    cache_or(lambda: cache.delete(_fan_out_queued_key(client_id)), lambda: None)
    keys, more = fanout.fan_out_pending_events(client_id)
    schedule_dispatch(keys)
    if more:  # the rest after other clients had their turn
        fan_out_client_events_task.delay(client_id)


@shared_task(ignore_result=True)
def fan_out_order_task(order_id: int) -> None:
    schedule_dispatch(fanout.fan_out_order(order_id))


def schedule_follow_up(destination_key: str, when: datetime) -> bool:
    """Queue one dispatch of the destination for `when` (a retry's backoff time, the end
    of a throttle or of a dead worker's lease); one task per destination and second,
    however many runs ask for it. Returns whether a task was queued."""
    delay = max(0.0, (when - timezone.now()).total_seconds())
    if delay > FOLLOW_UP_HORIZON_SECONDS:
        return False
    key = f"usher:dispatch-at:{destination_key}:{int(when.timestamp())}"
    if not cache.add(key, 1, timeout=int(delay) + 60):
        return False
    dispatch_destination_task.apply_async((destination_key,), countdown=delay)
    return True


@shared_task(ignore_result=True)
def dispatch_destination_task(destination_key: str) -> None:
    # Events stored from now on schedule a new run instead of waiting for the sweep.
    cache_or(lambda: cache.delete(_queued_key(destination_key)), lambda: None)
    summary = dispatch.dispatch_destination(
        destination_key, on_backlog=lambda: schedule_dispatch([destination_key])
    )
    logger.info(
        "dispatch run destination=%s batches=%d delivered=%d rejected=%d retrying=%d dead=%d",
        destination_key,
        summary.batches,
        summary.delivered,
        summary.rejected,
        summary.retrying,
        summary.dead,
    )
    if summary.capped:
        # Work is due now: come back for it after other destinations had their turn.
        dispatch_destination_task.apply_async((destination_key,))
        return
    when = dispatch.next_due_at(destination_key)
    if when is not None:
        # Retries at their own backoff time, not at the next sweep; never before a
        # throttled platform lets us in again.
        if summary.resume_at is not None:
            when = max(when, summary.resume_at)
        schedule_follow_up(destination_key, when)


@shared_task(ignore_result=True)
def dispatch_due_task() -> None:
    """Every few seconds, the safety net of the follow-ups: retries whose queued task was
    lost (the broker, a killed worker holding it) and leases of crashed workers that ran
    out. Two indexed queries when nothing is due."""
    schedule_dispatch(dispatch.due_destination_keys())


@shared_task(ignore_result=True)
def sweep_deliveries_task() -> None:
    """Every 30 seconds: events and orders whose fan-out task was lost (an indexed query
    of the rows not fanned out yet)."""
    schedule_dispatch(fanout.fan_out_stragglers())


@shared_task(ignore_result=True)
def purge_network_data_task() -> None:
    services.purge_network_data()
    services.purge_delivery_logs()
