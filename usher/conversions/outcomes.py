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

from django.db import connections, router, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.sql import InsertQuery, UpdateQuery

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


@dataclass
class AnsweredCall:
    """One platform call as answered: the deliveries it carried and what became of them."""

    claimed: list[ConversionDelivery]
    result: BatchResult
    error: PlatformError | None
    now: datetime
    duration_ms: int


@dataclass
class _Recording:
    """A call's log row and its deliveries' new states, grouped by identical change."""

    call: AnsweredCall
    batch: DeliveryBatch
    counts: Counter
    same_changes: dict[tuple, list[int]]


def record(
    claimed: list[ConversionDelivery],
    result: BatchResult,
    error: PlatformError | None,
    now: datetime,
    summary: DispatchSummary,
    *,
    duration_ms: int,
) -> None:
    """Store the batch log and each delivery's outcome, all or nothing (one statement on
    PostgreSQL, else one transaction)."""
    record_calls([AnsweredCall(claimed, result, error, now, duration_ms)], summary)


def record_calls(calls: list[AnsweredCall], summary: DispatchSummary) -> None:
    """Store several calls' logs and outcomes, all or nothing: one statement on
    PostgreSQL (the answers that came in together during a batch of GA4's per-visitor
    calls: one round trip and one commit for them all), else one transaction."""
    connection = connections[router.db_for_write(DeliveryBatch)]
    one_statement = records_in_one_statement(connection.vendor)
    recordings = [
        _recording(call, stored_batch_id(index) if one_statement else UNSAVED_BATCH, summary)
        for index, call in enumerate(calls)
    ]
    if one_statement:
        _store_in_one_statement(connection.alias, recordings)
    else:
        with transaction.atomic(using=connection.alias):
            for recording in recordings:
                batch = recording.batch
                batch.save()
                DeliveryBatch.deliveries.through.objects.bulk_create(
                    DeliveryBatch.deliveries.through(
                        deliverybatch=batch, conversiondelivery=delivery
                    )
                    for delivery in recording.call.claimed
                )
                for (lease_expires_at, *changes), ids in recording.same_changes.items():
                    _held(ids, lease_expires_at).update(**{**dict(changes), "last_batch": batch})
    for recording in recordings:
        summary.batches += 1
        first, counts = recording.call.claimed[0], recording.counts
        logger.info(
            "conversions batch destination=%s provider=%s events=%d delivered=%d rejected=%d "
            "retry=%d",
            first.destination_key,
            first.provider,
            len(recording.call.claimed),
            counts[OutcomeStatus.DELIVERED],
            counts[OutcomeStatus.REJECTED],
            counts[OutcomeStatus.RETRY],
        )


def _recording(call: AnsweredCall, batch_ref: RawSQL | str, summary: DispatchSummary) -> _Recording:
    """The call's log row and its deliveries' new states (counted in `summary`)."""
    claimed, result, error = call.claimed, call.result, call.error
    by_event = {outcome.event_id: outcome for outcome in result.outcomes}
    missing = "no outcome reported for this event"
    outcomes = [
        by_event.get(d.event_id) or EventOutcome(d.event_id, OutcomeStatus.RETRY, missing)
        for d in claimed
    ]
    counts = Counter(outcome.status for outcome in outcomes)
    first = claimed[0]
    batch = DeliveryBatch(
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
        duration_ms=call.duration_ms,
    )
    # Rows with the same new state (every delivered row of a call, say) and the same
    # lease are written by one UPDATE: a batch of a thousand is a statement, not a
    # thousand.
    same_changes: dict[tuple, list[int]] = defaultdict(list)
    for delivery, outcome in zip(claimed, outcomes, strict=True):
        changes = _changes(delivery, outcome, error, call.now, batch_ref, summary)
        same_changes[(delivery.lease_expires_at, *sorted(changes.items()))].append(delivery.pk)
    return _Recording(call, batch, counts, same_changes)


def stored_batch_id(index: int) -> RawSQL:
    """In the one statement of `_store_in_one_statement`: the id of the `index`-th batch
    log it inserts."""
    return RawSQL(f'(SELECT "id" FROM stored_batch_{index})', ())


# Elsewhere the batch log is saved just before the UPDATEs; until then its place in the
# grouping key is this marker (an unsaved model instance cannot be hashed).
UNSAVED_BATCH = "unsaved batch log"


def records_in_one_statement(vendor: str) -> bool:
    """PostgreSQL takes the log, its links and the UPDATEs in one data-modifying WITH;
    other databases (SQLite of `make run`) get one transaction of several statements."""
    return vendor == "postgresql"


def _held(ids: list[int], lease_expires_at: datetime | None) -> QuerySet[ConversionDelivery]:
    """The rows among `ids` this worker still holds (same lease): a row whose lease ran
    out and was re-claimed by another worker is that worker's to record."""
    return ConversionDelivery.objects.filter(
        pk__in=ids, status=DeliveryStatus.SENDING, lease_expires_at=lease_expires_at
    )


def _store_in_one_statement(alias: str, recordings: list[_Recording]) -> None:
    """Each call's batch log, its links to the deliveries and their UPDATEs as one
    PostgreSQL statement (a data-modifying WITH), committed on return: one round trip
    for what was BEGIN, three or more statements per call and COMMIT. The calls carry
    different deliveries, so no row is updated twice in the statement."""
    through = DeliveryBatch.deliveries.through._meta
    quote = connections[alias].ops.quote_name
    batch_fields = [f for f in DeliveryBatch._meta.concrete_fields if not f.primary_key]
    parts: list[tuple[str, str, list]] = []
    for number, recording in enumerate(recordings):
        insert = InsertQuery(DeliveryBatch)
        insert.insert_values(batch_fields, [recording.batch])
        compiler = insert.get_compiler(using=alias)
        compiler.returning_fields = [DeliveryBatch._meta.pk]
        [(batch_sql, batch_params)] = compiler.as_sql()
        stored = f"stored_batch_{number}"
        links_sql = (
            f"INSERT INTO {quote(through.db_table)} "
            f"({quote(through.get_field('deliverybatch').column)}, "
            f"{quote(through.get_field('conversiondelivery').column)}) "
            f"SELECT {stored}.id, delivery FROM {stored}, UNNEST(%s::bigint[]) AS delivery"
        )
        parts.append((stored, batch_sql, list(batch_params)))
        parts.append(
            (
                f"stored_links_{number}",
                links_sql,
                [[delivery.pk for delivery in recording.call.claimed]],
            )
        )
        for index, ((lease_expires_at, *changes), ids) in enumerate(recording.same_changes.items()):
            update = _held(ids, lease_expires_at).query.chain(UpdateQuery)
            update.add_update_values(dict(changes))
            update_sql, update_params = update.get_compiler(using=alias).as_sql()
            parts.append((f"stored_update_{number}_{index}", update_sql, list(update_params)))
    statement = "WITH " + ", ".join(f"{name} AS ({sql})" for name, sql, _ in parts)
    with connections[alias].cursor() as cursor:
        cursor.execute(
            f"{statement} SELECT 1", [param for _, _, params in parts for param in params]
        )


def _changes(
    delivery: ConversionDelivery,
    outcome: EventOutcome,
    error: PlatformError | None,
    now: datetime,
    batch: RawSQL | str,
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
