"""Dispatch: claim due deliveries of one destination, send them in batches, record outcomes.

Claiming sets a lease (`status=sending`, `lease_expires_at`) inside a row-locking
transaction (SKIP LOCKED on PostgreSQL), so concurrent workers never take the same rows.
A worker killed mid-batch leaves its rows leased; once the lease runs out the sweeper
claims them again and they are resent — the shared event id lets the platform count
them once. Transient failures back off exponentially with jitter; permanent ones stop
at once and never block the other destinations, which are dispatched separately.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from usher.conversions.events import DestinationUnavailable, conversion_events, destination_for
from usher.conversions.models import ConversionDelivery, DeliveryBatch, DeliveryStatus
from usher.lib.ratelimit import TokenBucket
from usher.platforms.base import (
    BatchResult,
    ConversionEvent,
    ConversionsConnector,
    Destination,
    ErrorKind,
    EventOutcome,
    OutcomeStatus,
    PlatformError,
)
from usher.platforms.registry import get_connector

logger = logging.getLogger(__name__)

LEASE_SECONDS = 120  # longer than the slowest batch (HTTP timeout plus processing)
MAX_ATTEMPTS = 8  # about a day of backoff before a delivery is dead
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 6 * 3600
MAX_BATCHES_PER_RUN = 20  # then the task yields the worker to other destinations
RATE_LIMIT_WAIT_INLINE_SECONDS = 2.0  # shorter waits are slept; longer ones reschedule
RESPONSE_BODY_LOG_CHARS = 4000


@dataclass
class DispatchSummary:
    delivered: int = 0
    rejected: int = 0
    retrying: int = 0
    dead: int = 0
    batches: int = 0
    outcomes: list[EventOutcome] = field(default_factory=list)
    # Set when work is left: the run hit its batch cap (now) or the rate limit (later).
    resume_at: datetime | None = None


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with full jitter, so retries of many workers spread out."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


def due_filter(now: datetime) -> Q:
    return Q(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now
    ) | Q(status=DeliveryStatus.SENDING, lease_expires_at__lt=now)


def due_destination_keys(now: datetime | None = None) -> list[str]:
    now = now or timezone.now()
    keys = ConversionDelivery.objects.filter(due_filter(now)).values_list(
        "destination_key", flat=True
    )
    return sorted(set(keys))


def claim_batch(destination_key: str, batch_size: int, now: datetime) -> list[ConversionDelivery]:
    """Lease up to `batch_size` due deliveries of one destination to this worker."""
    with transaction.atomic():
        ids = list(
            ConversionDelivery.objects.select_for_update(skip_locked=True)
            .filter(due_filter(now), destination_key=destination_key)
            .order_by("next_attempt_at", "id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return []
        ConversionDelivery.objects.filter(id__in=ids).update(
            status=DeliveryStatus.SENDING,
            lease_expires_at=now + timedelta(seconds=LEASE_SECONDS),
            attempts=F("attempts") + 1,
            last_attempt_at=now,
        )
    return list(
        ConversionDelivery.objects.filter(id__in=ids)
        .select_related(
            "client", "organizer_code", "marketplace_code", "tracking_event", "order__event"
        )
        .order_by("id")
    )


def _bucket(destination: str, provider: str) -> TokenBucket:
    rate, capacity = settings.PLATFORM_RATE_LIMITS[provider]
    return TokenBucket(f"dest:{destination}", rate_per_second=rate, capacity=capacity)


def dispatch_destination(destination_key: str, now: datetime | None = None) -> DispatchSummary:
    """Send everything due for one destination, batch after batch."""
    summary = DispatchSummary()
    for _ in range(MAX_BATCHES_PER_RUN):
        moment = now or timezone.now()
        provider = (
            ConversionDelivery.objects.filter(destination_key=destination_key)
            .values_list("provider", flat=True)
            .first()
        )
        if provider is None:
            break
        connector = get_connector(provider)
        claimed = claim_batch(destination_key, connector.max_batch_size, moment)
        if not claimed:
            break
        wait = _bucket(destination_key, provider).take()
        if wait > RATE_LIMIT_WAIT_INLINE_SECONDS:
            summary.resume_at = moment + timedelta(seconds=wait)
            _release(claimed, summary.resume_at)
            return summary
        if wait:
            time.sleep(wait)
        _send(connector, claimed, moment, summary)
    else:
        summary.resume_at = now or timezone.now()  # the cap was hit: more may be due
    return summary


def _release(claimed: Sequence[ConversionDelivery], retry_at: datetime) -> None:
    """Give leased rows back untouched (rate limited before sending): no attempt used."""
    ConversionDelivery.objects.filter(id__in=[d.id for d in claimed]).update(
        status=DeliveryStatus.RETRYING,
        next_attempt_at=retry_at,
        lease_expires_at=None,
        attempts=F("attempts") - 1,
    )


def _send(
    connector, claimed: list[ConversionDelivery], now: datetime, summary: DispatchSummary
) -> None:
    first = claimed[0]
    try:
        destination = destination_for(first)
    except DestinationUnavailable as exc:
        outcomes = [
            EventOutcome(d.event_id, OutcomeStatus.REJECTED, str(exc), "destination_unavailable")
            for d in claimed
        ]
        _record(claimed, BatchResult(outcomes), None, now, summary, duration_ms=0)
        return
    events = conversion_events(claimed, limited_data_use=first.client.meta_limited_data_use)
    started = timezone.now()
    result, error = send_isolating(connector, destination, events)
    elapsed = int((timezone.now() - started).total_seconds() * 1000)
    _record(claimed, result, error, now, summary, duration_ms=elapsed)


def send_isolating(
    connector: ConversionsConnector, destination: Destination, events: Sequence[ConversionEvent]
) -> tuple[BatchResult, PlatformError | None]:
    """Send a batch; when the platform refuses it whole for what one event holds (Meta
    and TikTok reject every event of a request with one invalid event), split it in
    halves until the bad events stand alone, so the good ones still get through."""
    try:
        return connector.send_conversions(destination, events), None
    except PlatformError as exc:
        if exc.kind != ErrorKind.PERMANENT or len(events) == 1:
            return BatchResult.for_error(events, exc), exc
        middle = len(events) // 2
        left, _ = send_isolating(connector, destination, events[:middle])
        right, _ = send_isolating(connector, destination, events[middle:])
        outcomes = left.outcomes + right.outcomes
        return BatchResult(outcomes, request=exc.request, response=exc.response), exc


def _record(
    claimed: list[ConversionDelivery],
    result: BatchResult,
    error: PlatformError | None,
    now: datetime,
    summary: DispatchSummary,
    *,
    duration_ms: int,
) -> None:
    """Store the batch log and each delivery's outcome in one transaction."""
    by_event = {outcome.event_id: outcome for outcome in result.outcomes}
    first = claimed[0]
    with transaction.atomic():
        batch = DeliveryBatch.objects.create(
            client_id=first.client_id,
            destination_key=first.destination_key,
            provider=first.provider,
            events_count=len(claimed),
            error_kind=str(error.kind) if error else "",
            error_message=error.message if error else "",
            request_summary=_request_summary(result),
            response_status=result.response.status_code if result.response else None,
            response_body=(result.response.body if result.response else "")[
                :RESPONSE_BODY_LOG_CHARS
            ],
            duration_ms=duration_ms,
        )
        counts = {"delivered": 0, "rejected": 0, "retry": 0}
        for delivery in claimed:
            outcome = by_event.get(delivery.event_id) or EventOutcome(
                delivery.event_id, OutcomeStatus.RETRY, "no outcome reported for this event"
            )
            _apply(delivery, outcome, error, now, batch, summary)
            counts[str(outcome.status)] += 1
        DeliveryBatch.objects.filter(pk=batch.pk).update(
            delivered_count=counts["delivered"],
            rejected_count=counts["rejected"],
            retry_count=counts["retry"],
        )
    summary.batches += 1
    summary.outcomes.extend(result.outcomes)
    logger.info(
        "conversions batch destination=%s provider=%s events=%d delivered=%d rejected=%d retry=%d",
        first.destination_key,
        first.provider,
        len(claimed),
        counts["delivered"],
        counts["rejected"],
        counts["retry"],
    )


def _apply(
    delivery: ConversionDelivery,
    outcome: EventOutcome,
    error: PlatformError | None,
    now: datetime,
    batch: DeliveryBatch,
    summary: DispatchSummary,
) -> None:
    changes: dict = {"last_batch": batch, "lease_expires_at": None}
    if outcome.status == OutcomeStatus.DELIVERED:
        changes.update(
            status=DeliveryStatus.DELIVERED, delivered_at=now, last_error="", last_error_code=""
        )
        summary.delivered += 1
    elif outcome.status == OutcomeStatus.REJECTED:
        changes.update(
            status=DeliveryStatus.REJECTED,
            last_error=outcome.error_message or "",
            last_error_code=outcome.error_code or "",
        )
        summary.rejected += 1
    elif delivery.attempts >= MAX_ATTEMPTS:
        changes.update(
            status=DeliveryStatus.DEAD,
            last_error=outcome.error_message or "",
            last_error_code=outcome.error_code or "",
        )
        summary.dead += 1
    else:
        delay = backoff_seconds(delivery.attempts)
        if error is not None and error.retry_after_seconds:
            delay = max(delay, error.retry_after_seconds)
        changes.update(
            status=DeliveryStatus.RETRYING,
            next_attempt_at=now + timedelta(seconds=delay),
            last_error=outcome.error_message or "",
            last_error_code=outcome.error_code or "",
        )
        summary.retrying += 1
    # Only rows this worker still holds (same lease): a row whose lease ran out and was
    # re-claimed by another worker is that worker's to record.
    ConversionDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.SENDING, lease_expires_at=delivery.lease_expires_at
    ).update(**changes)


def _request_summary(result: BatchResult) -> dict:
    if result.request is None:
        return {}
    return {
        "method": result.request.method,
        "url": result.request.url,
        "body": (result.request.body or "")[:RESPONSE_BODY_LOG_CHARS],
    }
