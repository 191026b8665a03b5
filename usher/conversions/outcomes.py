"""Recording what a platform said: each delivery's new state and the batch's log row.

Transient failures back off exponentially with full jitter over about a day; permanent
ones stop at once. The batch log keeps the masked request and answer for the admin,
minus the visitor's IP address and user agent, which the outbox may keep only while a
delivery needs them.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.db import connections, router, transaction
from django.db.models import QuerySet

from usher.conversions.models import ConversionDelivery, DeliveryBatch, DeliveryStatus
from usher.lib.inserts import json_rows, recordset_columns, server_bound_cursor
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
# A JSON key of those fields and its value: a string (to its closing quote, or to the
# end of a cut text), or a bare number, literal or null. A string's escaped quotes never
# end it; inside a string, a quoted key is always escaped, so only real keys match.
NETWORK_VALUE = re.compile(
    r'"(' + "|".join(sorted(NETWORK_FIELDS)) + r')"(\s*:\s*)'
    r'(?:"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[^\s,}\]]+)'
)


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
    """A call's log row (a `DeliveryBatch`'s attribute names to values) and its
    deliveries' new states, grouped by identical change."""

    call: AnsweredCall
    batch: dict
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
    recordings = [_recording(call, summary) for call in calls]
    if records_in_one_statement(connection.vendor):
        _store_in_one_statement(connection.alias, recordings)
    else:
        with transaction.atomic(using=connection.alias):
            for recording in recordings:
                batch = DeliveryBatch(**recording.batch)
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


def _recording(call: AnsweredCall, summary: DispatchSummary) -> _Recording:
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
    batch = {
        "client_id": first.client_id,
        "destination_key": first.destination_key,
        "provider": first.provider,
        "events_count": len(claimed),
        "delivered_count": counts[OutcomeStatus.DELIVERED],
        "rejected_count": counts[OutcomeStatus.REJECTED],
        "retry_count": counts[OutcomeStatus.RETRY],
        "error_kind": str(error.kind) if error else "",
        "error_message": error.message if error else "",
        "request_summary": _request_summary(result),
        "response_status": result.response.status_code if result.response else None,
        "response_body": (result.response.body if result.response else "")[:LOG_BODY_CHARS],
        "duration_ms": call.duration_ms,
    }
    # Rows with the same new state (every delivered row of a call, say) and the same
    # lease are grouped: elsewhere one UPDATE per group, so a batch of a thousand is a
    # statement, not a thousand; on PostgreSQL the groups' rows become the arrays of
    # one UPDATE per call.
    same_changes: dict[tuple, list[int]] = defaultdict(list)
    for delivery, outcome in zip(claimed, outcomes, strict=True):
        changes = _changes(delivery, outcome, error, call.now, summary)
        same_changes[(delivery.lease_expires_at, *sorted(changes.items()))].append(delivery.pk)
    return _Recording(call, batch, counts, same_changes)


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
    """Each call's batch log, its links to the deliveries and their new states as one
    PostgreSQL statement (a data-modifying WITH), committed on return: one round trip
    for what was BEGIN, three or more statements per call and COMMIT. The calls carry
    different deliveries, so no row is updated twice in the statement.

    The statement's text is the same however many calls it records (`_calls_sql`): the
    logs travel as one JSON document, the links and the new states as one array per
    column with each row's call number, all bound server-side. So psycopg converts the
    text once per process and PostgreSQL prepares it once per connection; a text per
    number of calls, with a dozen parameters per call, was longer than psycopg's cache
    takes, and converting and dumping it a third of a record's CPU (bench/README.md,
    "Ninth round")."""
    connection = connections[alias]
    logs = json_rows(DeliveryBatch, [recording.batch for recording in recordings], connection)
    link_ids: list[int] = []
    link_calls: list[int] = []
    changes: list[list] = [[] for _ in range(len(CHANGED_COLUMNS) + 3)]
    for number, recording in enumerate(recordings, start=1):
        carried = [delivery.pk for delivery in recording.call.claimed]
        link_ids += carried
        link_calls += [number] * len(carried)
        for column, values in zip(
            changes, _changed_columns(recording.same_changes, number), strict=True
        ):
            column += values
    with server_bound_cursor(connection) as cursor:
        cursor.execute(_calls_sql(alias), [logs, link_ids, link_calls, *changes])


# A delivery's new state, column by column, as `_changes` sets it. A column a change does
# not name (a retry's `delivered_at`, a delivery's `next_attempt_at`) travels as NULL and
# keeps its value: neither is ever set back to NULL.
CHANGED_COLUMNS = (
    ("status", "varchar", False),
    ("last_error", "text", False),
    ("last_error_code", "varchar", False),
    ("delivered_at", "timestamptz", True),
    ("next_attempt_at", "timestamptz", True),
)


def _changed_columns(same_changes: dict[tuple, list[int]], number: int) -> list[list]:
    """The arrays of `_calls_sql`'s UPDATE for the call numbered `number`: each row's
    id, the lease it was claimed under, its new value of every column of
    `CHANGED_COLUMNS`, then the call's number."""
    ids: list[int] = []
    leases: list[datetime | None] = []
    values: list[list] = [[] for _ in CHANGED_COLUMNS]
    for (lease_expires_at, *changes), group in same_changes.items():
        changed = dict(changes)
        ids += group
        leases += [lease_expires_at] * len(group)
        for column, (name, _, _) in zip(values, CHANGED_COLUMNS, strict=True):
            column += [changed.get(name)] * len(group)
    return [ids, leases, *values, [number] * len(ids)]


@cache
def _calls_sql(alias: str) -> str:
    """`_store_in_one_statement`'s WITH, the same for any number of calls: the logs from
    the JSON document, each given its id from the log's sequence and numbered by its
    place (a call's number, from 1); the links and the UPDATE join their rows to their
    call's log by that number. The UPDATE changes a row only where this worker still
    holds the lease (same status and expiry; a row re-claimed by another worker is that
    worker's to record)."""
    quote = connections[alias].ops.quote_name
    log = DeliveryBatch._meta
    through = DeliveryBatch.deliveries.through._meta
    deliveries = quote(ConversionDelivery._meta.db_table)
    columns, declared = recordset_columns(DeliveryBatch, alias)
    changed = [(quote(name), kind, keeps) for name, kind, keeps in CHANGED_COLUMNS]
    assignments = ", ".join(
        f"{name} = COALESCE(change.{name}, held.{name})" if keeps else f"{name} = change.{name}"
        for name, _, keeps in changed
    )
    arrays = ", ".join(
        ["%s::bigint[]", "%s::timestamptz[]"]
        + [f"%s::{kind}[]" for _, kind, _ in changed]
        + ["%s::bigint[]"]
    )
    sequence = f"pg_get_serial_sequence('{quote(log.db_table)}', '{log.pk.column}')"
    return (
        f"WITH given AS MATERIALIZED (SELECT nextval({sequence}) AS id, logged.* "
        f"FROM ROWS FROM (json_to_recordset(%s::json) AS ({declared})) "
        f"WITH ORDINALITY AS logged({columns}, call_number)), "
        f"stored_batches AS (INSERT INTO {quote(log.db_table)} ({quote(log.pk.column)}, "
        f"{columns}) SELECT id, {columns} FROM given), "
        f"stored_links AS (INSERT INTO {quote(through.db_table)} "
        f"({quote(through.get_field('deliverybatch').column)}, "
        f"{quote(through.get_field('conversiondelivery').column)}) "
        f"SELECT given.id, link.delivery "
        f"FROM UNNEST(%s::bigint[], %s::bigint[]) AS link(delivery, call_number) "
        f"JOIN given USING (call_number)) "
        f"UPDATE {deliveries} AS held SET {assignments}, "
        f"{quote('lease_expires_at')} = NULL, "
        f"{quote(ConversionDelivery._meta.get_field('last_batch').column)} = given.id "
        f"FROM UNNEST({arrays}) "
        f"AS change(id, lease, {', '.join(name for name, _, _ in changed)}, call_number) "
        f"JOIN given USING (call_number) "
        f"WHERE held.{quote('id')} = change.id "
        f"AND held.{quote('status')} = '{DeliveryStatus.SENDING.value}' "
        f"AND held.{quote('lease_expires_at')} IS NOT DISTINCT FROM change.lease"
    )


def _changes(
    delivery: ConversionDelivery,
    outcome: EventOutcome,
    error: PlatformError | None,
    now: datetime,
    summary: DispatchSummary,
) -> dict:
    """The delivery's new state after `outcome` (counted in `summary`)."""
    changes: dict = {
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
        # Cut first (the rest is never stored), then redacted: a value cut short too.
        "body": _redact_network_fields((result.request.body or "")[:LOG_BODY_CHARS])[
            :LOG_BODY_CHARS
        ],
    }


def _redact_network_fields(body: str) -> str:
    """The body with the values of `NETWORK_FIELDS` replaced by `REDACTED`, read from
    the JSON text rather than parsed: a long batch's record is cut mid-JSON (and may be
    cut inside a value), where parsing failed and the addresses were logged as sent."""
    return NETWORK_VALUE.sub(lambda found: f'"{found[1]}"{found[2]}"{REDACTED}"', body)
