"""Recording what a platform said: each delivery's new state and the batch's log row.

Transient failures back off exponentially with full jitter over about a day; permanent
ones stop at once. The batch log keeps the masked request and answer for the admin,
minus the visitor's IP address and user agent, which the outbox may keep only while a
delivery needs them.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from usher.conversions.models import ConversionDelivery, DeliveryBatch, DeliveryStatus
from usher.platforms.base import BatchResult, EventOutcome, OutcomeStatus, PlatformError

logger = logging.getLogger("usher.conversions")

# 22 attempts, waits from 10 seconds growing by half each time to a 6-hour cap: 12 to 24
# hours in all before a delivery is dead, so a platform outage of most of a day loses
# nothing, while one-off failures (a dropped connection, a 5xx) are retried within
# seconds: even the sixth retry in a row comes within about three minutes of the event.
MAX_ATTEMPTS = 22
BACKOFF_BASE_SECONDS = 10
BACKOFF_GROWTH = 1.5
BACKOFF_CAP_SECONDS = 6 * 3600
LOG_BODY_CHARS = 4000
# Request fields that identify a visitor's device; kept out of the long-lived batch log.
NETWORK_FIELDS = frozenset(
    {"client_ip_address", "client_user_agent", "ip", "user_agent", "ip_override", "userAgent"}
)
REDACTED = "[redacted]"


@dataclass
class DispatchSummary:
    delivered: int = 0
    rejected: int = 0
    retrying: int = 0
    dead: int = 0
    batches: int = 0
    # The run stopped at its batch cap with work left: it should be run again at once.
    capped: bool = False
    # The destination is throttled: nothing should be sent to it before then.
    resume_at: datetime | None = None


def backoff_ceiling_seconds(attempts: int) -> float:
    """The longest wait after the `attempts`-th failed attempt: growing, then capped."""
    return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * BACKOFF_GROWTH ** max(0, attempts - 1))


def backoff_seconds(attempts: int) -> float:
    """Exponential backoff with jitter over the upper half of the ceiling, so the retries
    of many workers spread out yet never come back sooner than half the step."""
    ceiling = backoff_ceiling_seconds(attempts)
    return random.uniform(ceiling / 2, ceiling)


def retry_delay_seconds(attempts: int, error: PlatformError | None) -> float:
    """How long a delivery waits after its `attempts`-th try failed: its backoff, or the
    platform's Retry-After when that asks for longer (coming back sooner would only be
    throttled again)."""
    delay = backoff_seconds(attempts)
    if error is not None and error.retry_after_seconds:
        delay = max(delay, error.retry_after_seconds)
    return delay


def record(
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
    missing = "no outcome reported for this event"
    outcomes = [
        by_event.get(d.event_id) or EventOutcome(d.event_id, OutcomeStatus.RETRY, missing)
        for d in claimed
    ]
    counts = Counter(outcome.status for outcome in outcomes)
    first = claimed[0]
    with transaction.atomic():
        batch = DeliveryBatch.objects.create(
            client_id=first.client_id,
            destination_key=first.destination_key,
            provider=first.provider,
            events_count=len(claimed),
            delivered_count=counts[OutcomeStatus.DELIVERED],
            rejected_count=counts[OutcomeStatus.REJECTED],
            retry_count=counts[OutcomeStatus.RETRY],
            error_kind=str(error.kind) if error else "",
            error_message=error.message if error else "",
            request_summary=_request_summary(result),
            response_status=result.response.status_code if result.response else None,
            response_body=(result.response.body if result.response else "")[:LOG_BODY_CHARS],
            duration_ms=duration_ms,
        )
        DeliveryBatch.deliveries.through.objects.bulk_create(
            DeliveryBatch.deliveries.through(deliverybatch=batch, conversiondelivery=delivery)
            for delivery in claimed
        )
        # Rows with the same new state (every delivered row of a call, say) and the same
        # lease are written by one UPDATE: a batch of a thousand is a statement, not a
        # thousand.
        same_changes: dict[tuple, list[int]] = defaultdict(list)
        for delivery, outcome in zip(claimed, outcomes, strict=True):
            changes = _changes(delivery, outcome, error, now, batch, summary)
            same_changes[(delivery.lease_expires_at, *sorted(changes.items()))].append(delivery.pk)
        for (lease_expires_at, *changes), ids in same_changes.items():
            # Only rows this worker still holds (same lease): a row whose lease ran out
            # and was re-claimed by another worker is that worker's to record.
            ConversionDelivery.objects.filter(
                pk__in=ids, status=DeliveryStatus.SENDING, lease_expires_at=lease_expires_at
            ).update(**dict(changes))
    summary.batches += 1
    logger.info(
        "conversions batch destination=%s provider=%s events=%d delivered=%d rejected=%d retry=%d",
        first.destination_key,
        first.provider,
        len(claimed),
        counts[OutcomeStatus.DELIVERED],
        counts[OutcomeStatus.REJECTED],
        counts[OutcomeStatus.RETRY],
    )


def _changes(
    delivery: ConversionDelivery,
    outcome: EventOutcome,
    error: PlatformError | None,
    now: datetime,
    batch: DeliveryBatch,
    summary: DispatchSummary,
) -> dict:
    """The delivery's new state after `outcome` (counted in `summary`)."""
    changes: dict = {
        "last_batch": batch,
        "lease_expires_at": None,
        "last_error": outcome.error_message or "",
        "last_error_code": outcome.error_code or "",
    }
    if outcome.status == OutcomeStatus.DELIVERED:
        changes.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
        summary.delivered += 1
    elif outcome.status == OutcomeStatus.REJECTED:
        changes.update(status=DeliveryStatus.REJECTED)
        summary.rejected += 1
    elif delivery.attempts >= MAX_ATTEMPTS:
        changes.update(status=DeliveryStatus.DEAD)
        summary.dead += 1
    else:
        delay = retry_delay_seconds(delivery.attempts, error)
        changes.update(
            status=DeliveryStatus.RETRYING, next_attempt_at=now + timedelta(seconds=delay)
        )
        summary.retrying += 1
    return changes


def _request_summary(result: BatchResult) -> dict:
    if result.request is None:
        return {}
    return {
        "method": result.request.method,
        "url": result.request.url,
        "body": _redact_network_fields(result.request.body or "")[:LOG_BODY_CHARS],
    }


def _redact_network_fields(body: str) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return json.dumps(_redact(parsed), ensure_ascii=False)


def _redact(value: object) -> object:
    if isinstance(value, dict):
        return {k: REDACTED if k in NETWORK_FIELDS else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value
