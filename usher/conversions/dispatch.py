"""Dispatch: claim due deliveries of one destination, send them in batches, record outcomes.

Claiming sets a lease (`status=sending`, `lease_expires_at`) inside a row-locking
transaction (SKIP LOCKED on PostgreSQL), so concurrent workers never take the same rows.
A lease lasts a little longer than the HTTP call it covers and is renewed before a
further call it no longer covers (batch isolation, GA4's one call per visitor), so a
worker killed mid-batch leaves its rows leased for well under a minute; then they are
due again and resent — the shared event id lets the platform count them once. Each
destination is dispatched on its own, so a failing one never blocks the others; calls
are paced by a token bucket per platform account shared by all workers.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from usher.conversions.events import DestinationUnavailable, conversion_events, destination_for
from usher.conversions.models import OPEN_STATUSES, ConversionDelivery, DeliveryStatus
from usher.conversions.outcomes import (
    MAX_ATTEMPTS,
    AnsweredCall,
    DispatchSummary,
    backoff_seconds,
    record,
    record_calls,
)
from usher.lib.ratelimit import TokenBucket, account_bucket
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

logger = logging.getLogger("usher.conversions")

# What a lease covers beyond its HTTP calls: building the request, the inline rate-limit
# wait and recording the outcome. Small, so a crashed worker's rows are soon due again.
LEASE_MARGIN_SECONDS = 20
# A lease that still covers the next calls' timeouts plus this much is not renewed (no
# write): GA4's one call per visitor renews every ten seconds or so, not every call.
RENEWAL_SLACK_SECONDS = LEASE_MARGIN_SECONDS / 2
# Consecutive calls of one batch that may fail transiently (a timeout, a 5xx) before the
# calls left are put off: one failure is noise, two in a row look like an outage.
TRANSIENT_FAILURES_PER_BATCH = 2
MAX_BATCHES_PER_RUN = 20  # then the task yields the worker to other destinations
RATE_LIMIT_WAIT_INLINE_SECONDS = 2.0  # shorter waits are slept; longer ones reschedule


def lease_seconds(calls: int = 1) -> float:
    """How long rows stay leased for `calls` HTTP calls: each may take the whole timeout."""
    return settings.PLATFORM_HTTP_TIMEOUT_SECONDS * calls + LEASE_MARGIN_SECONDS


def due_filter(now: datetime) -> Q:
    return Q(
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now
    ) | Q(status=DeliveryStatus.SENDING, lease_expires_at__lt=now)


def due_destination_keys(now: datetime | None = None) -> list[str]:
    now = now or timezone.now()
    keys = (
        ConversionDelivery.objects.filter(due_filter(now))
        .order_by("destination_key")
        .values_list("destination_key", flat=True)
        .distinct()
    )
    return list(keys)


def next_due_at(destination_key: str) -> datetime | None:
    """When something of this destination is next due: its earliest retry, or the end of
    the earliest lease (a worker that died holding it); None when nothing is open."""
    open_rows = ConversionDelivery.objects.filter(
        destination_key=destination_key, status__in=OPEN_STATUSES
    )
    moments = open_rows.aggregate(
        retry=Min("next_attempt_at", filter=~Q(status=DeliveryStatus.SENDING)),
        lease=Min("lease_expires_at", filter=Q(status=DeliveryStatus.SENDING)),
    )
    return min((m for m in moments.values() if m is not None), default=None)


def claim_batch(destination_key: str, batch_size: int, now: datetime) -> list[ConversionDelivery]:
    """Lease up to `batch_size` due deliveries of one destination to this worker."""
    with transaction.atomic():
        # A batch whose worker died on every attempt (a crash, not a platform answer)
        # is given up here, or it would be leased again forever.
        ConversionDelivery.objects.filter(
            destination_key=destination_key,
            status=DeliveryStatus.SENDING,
            lease_expires_at__lt=now,
            attempts__gte=MAX_ATTEMPTS,
        ).update(
            status=DeliveryStatus.DEAD,
            lease_expires_at=None,
            last_error="gave up: the batch failed inside Usher on every attempt",
            last_error_code="internal_error",
        )
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
            lease_expires_at=now + timedelta(seconds=lease_seconds()),
            attempts=F("attempts") + 1,
            last_attempt_at=now,
        )
    return list(
        ConversionDelivery.objects.filter(id__in=ids)
        # Not the client nor the code: a claim shares them, and the first row loads them.
        .select_related("tracking_event", "order__event")
        .order_by("id")
    )


def dispatch_destination(
    destination_key: str,
    now: datetime | None = None,
    on_backlog: Callable[[], object] | None = None,
) -> DispatchSummary:
    """Send everything due for one destination, batch after batch. `on_backlog` is
    called once if the first claim comes back full (more is due than one batch): the
    task queues another run then, so that free workers share a long backlog (claims
    never overlap) instead of leaving it to one worker, call after call."""
    summary = DispatchSummary()
    provider = (
        ConversionDelivery.objects.filter(destination_key=destination_key)
        .order_by()
        .values_list("provider", flat=True)
        .first()
    )
    if provider is None:
        return summary
    connector = get_connector(provider)
    for _ in range(MAX_BATCHES_PER_RUN):
        moment = now or timezone.now()
        claimed = claim_batch(destination_key, connector.max_batch_size, moment)
        if not claimed:
            return summary
        if on_backlog is not None and len(claimed) == connector.max_batch_size:
            on_backlog()
            on_backlog = None
        summary.resume_at = _send(connector, claimed, moment, summary)
        if summary.resume_at is not None:
            return summary  # throttled: leave the rest until the platform lets us in
    summary.capped = True  # more may be due
    return summary


def _bucket(provider: str, account_id: str) -> TokenBucket:
    """One bucket per platform account, whichever codes (and workers) send to it."""
    rate, capacity = settings.PLATFORM_RATE_LIMITS[provider]
    return account_bucket(provider, account_id, rate, capacity)


class LeaseLost(Exception):
    """The rows a call would carry are no longer this worker's: the call is not made."""


class Lease:
    """The rows one claim holds. Renewing moves their expiry only where this worker still
    holds them (same status and expiry), and the rows remember the new expiry, which is
    what `record` and `_release` check before writing."""

    def __init__(self, claimed: Sequence[ConversionDelivery], clock: Callable[[], datetime]):
        self.claimed = claimed
        self.clock = clock

    def renew(self, events: Sequence[ConversionEvent], connector: ConversionsConnector) -> int:
        """Hold the rows for the calls sending `events` costs; returns the rows still held
        (all of them, unchecked, when the lease still covered the calls and nothing was
        written). Raises `LeaseLost` when it had to write and the rows carrying `events`
        are no longer all this worker's."""
        calls = connector.http_calls_for(events)
        now = self.clock()
        held_until = self.claimed[0].lease_expires_at
        covered = now + timedelta(seconds=lease_seconds(calls) - RENEWAL_SLACK_SECONDS)
        if held_until is not None and held_until >= covered:
            return len(self.claimed)
        until = now + timedelta(seconds=lease_seconds(calls))
        held = ConversionDelivery.objects.filter(
            pk__in=[delivery.pk for delivery in self.claimed],
            status=DeliveryStatus.SENDING,
            lease_expires_at=self.claimed[0].lease_expires_at,
        ).update(lease_expires_at=until)
        for delivery in self.claimed:
            delivery.lease_expires_at = until
        sending = {event.event_id for event in events}
        carrying = [d.pk for d in self.claimed if d.event_id in sending]
        if ConversionDelivery.objects.filter(
            pk__in=carrying, status=DeliveryStatus.SENDING, lease_expires_at=until
        ).count() < len(carrying):
            # The lease lapsed (a stalled worker) and another worker claimed these rows:
            # the call would send them twice (GA4 counts a resent view twice).
            raise LeaseLost(f"{len(carrying)} deliveries of this call are another worker's")
        return held


def _release(claimed: Sequence[ConversionDelivery], retry_at: datetime) -> None:
    """Give leased rows back unsent (throttled, or calls not made after failures in a
    row): no attempt used.

    One claim leases its rows with one expiry, which still marks them as this worker's.
    """
    ConversionDelivery.objects.filter(
        pk__in=[delivery.pk for delivery in claimed],
        status=DeliveryStatus.SENDING,
        lease_expires_at=claimed[0].lease_expires_at,
    ).update(
        status=DeliveryStatus.RETRYING,
        next_attempt_at=retry_at,
        lease_expires_at=None,
        attempts=F("attempts") - 1,
    )


def _send(
    connector: ConversionsConnector,
    claimed: list[ConversionDelivery],
    now: datetime,
    summary: DispatchSummary,
) -> datetime | None:
    """Send one claimed batch; returns when to resume if the destination is throttled."""
    first = claimed[0]
    try:
        destination = destination_for(first)
    except DestinationUnavailable as exc:
        outcomes = [
            EventOutcome(d.event_id, OutcomeStatus.REJECTED, str(exc), "destination_unavailable")
            for d in claimed
        ]
        record(claimed, BatchResult(outcomes), None, now, summary, duration_ms=0)
        return None
    started = timezone.now()

    def clock() -> datetime:  # the dispatch's own timeline (tests move `now`)
        return now + (timezone.now() - started)

    try:
        events = conversion_events(claimed, limited_data_use=first.client.meta_limited_data_use)
        calls = connector.split_calls(events)  # one list of events per HTTP call
        bucket = _bucket(first.provider, destination.account_id)
        calls, claimed = _within_capacity(calls, claimed, bucket, now)
        wait = bucket.take(len(calls))
        if wait > RATE_LIMIT_WAIT_INLINE_SECONDS:
            resume_at = now + timedelta(seconds=wait)
            _release(claimed, resume_at)
            return resume_at
        time.sleep(wait)
    except Exception as exc:  # a bug or a crash inside Usher: record it, retry later
        _record_internal_error(claimed, exc, clock(), summary)
        return None
    by_event = {delivery.event_id: delivery for delivery in claimed}
    carried = [[by_event[event.event_id] for event in call] for call in calls]
    return _send_calls(connector, destination, calls, carried, Lease(claimed, clock), summary)


def _within_capacity(
    calls: list[list[ConversionEvent]],
    claimed: list[ConversionDelivery],
    bucket: TokenBucket,
    now: datetime,
) -> tuple[list[list[ConversionEvent]], list[ConversionDelivery]]:
    """The calls one take of the bucket can ever grant, and the rows they carry; the
    rest given back due at once, no attempt used. A claim of GA4's 200 visitors (one call
    each) asked an account bucket of 40 for 200 tokens: never granted, released for the
    wait, claimed again whole, so any GA4 backlog over 40 stopped its delivery for good."""
    room = max(1, int(bucket.capacity))
    if len(calls) <= room:
        return calls, claimed
    sent = {event.event_id for call in calls[:room] for event in call}
    _release([d for d in claimed if d.event_id not in sent], now)
    return calls[:room], [d for d in claimed if d.event_id in sent]


def _send_calls(
    connector: ConversionsConnector,
    destination: Destination,
    calls: Sequence[Sequence[ConversionEvent]],
    carried: Sequence[list[ConversionDelivery]],
    lease: Lease,
    summary: DispatchSummary,
) -> datetime | None:
    """Make a claimed batch's calls, up to `CALLS_IN_FLIGHT` at once, and record each one
    as soon as it is answered: a crash loses only the calls in flight, and a failure puts
    off only the events that call carried. Returns when to resume if throttled.

    The calls run on threads that only speak HTTP; this thread alone touches the database
    (Django's connections are per thread): it renews the lease before every call, a
    thread asking it to through `calls_ahead`, and records every answer. The window
    starts at one call and doubles after each success, back to one after a failure, so a
    platform that is down is probed one call at a time and calls not made are given back
    unused, as when calls were made one after another."""
    calls_ahead = _CallsAhead(lease, connector)
    waiting = deque(range(len(calls)))
    in_flight = 0
    window = 1
    transient_failures = 0
    release_at: datetime | None = None  # the calls not made wait until then
    resume_at: datetime | None = None  # throttled: the destination waits until then
    crashed: list[ConversionDelivery] = []  # a bug inside Usher: recorded as one
    crash: Exception | None = None
    with ThreadPoolExecutor(
        max_workers=max(1, min(CALLS_IN_FLIGHT, len(calls))), thread_name_prefix="conversions-call"
    ) as pool:
        try:
            while in_flight or (waiting and release_at is None and crash is None):
                while waiting and in_flight < window and release_at is None and crash is None:
                    index = waiting.popleft()
                    if len(calls) == 1:  # the batch platforms: no thread to start
                        calls_ahead.call(index, destination, calls[index])
                    else:
                        pool.submit(calls_ahead.call, index, destination, calls[index])
                    in_flight += 1
                answers = calls_ahead.next_answers()
                in_flight -= len(answers)
                # Answers that came in together are recorded together: one statement
                # and one commit (a WAL flush, most of a record's time), not one each.
                answered: list[AnsweredCall] = []
                for answer in answers:
                    if isinstance(answer.result, Exception):
                        crash = crash or answer.result
                        crashed += carried[answer.index]
                        continue
                    finished = lease.clock()
                    result, error = answer.result
                    answered.append(
                        AnsweredCall(
                            carried[answer.index], result, error, finished, answer.elapsed_ms
                        )
                    )
                    if error is None:
                        transient_failures = 0
                        window = min(CALLS_IN_FLIGHT, window * 2)
                        continue
                    window = 1
                    if error.kind == ErrorKind.RATE_LIMITED:
                        resume_at = max(
                            resume_at or finished,
                            finished
                            + timedelta(seconds=error.retry_after_seconds or backoff_seconds(1)),
                        )
                        release_at = resume_at
                        continue
                    transient_failures += error.kind == ErrorKind.TRANSIENT
                    if transient_failures >= TRANSIENT_FAILURES_PER_BATCH and release_at is None:
                        # The platform looks down: the calls not made wait, without using
                        # an attempt.
                        release_at = finished + timedelta(seconds=backoff_seconds(1))
                if answered:
                    record_calls(answered, summary)
        finally:
            calls_ahead.close()  # a thread still asking for a renewal sends nothing
    rest = [delivery for index in waiting for delivery in carried[index]]
    if crash is not None:
        _record_internal_error(crashed + rest, crash, lease.clock(), summary)
        return resume_at
    if rest and release_at is not None:
        _release(rest, release_at)
    return resume_at


# GA4 takes one visitor per call, so a batch of 500 visitors is 500 calls of 25-40 ms.
# Up to this many are in flight at once; each is recorded as soon as it is answered, so
# a crash resends at most this many calls (Meta, TikTok and Google Ads count a resent
# event once by its id, GA4 a resent purchase by its transaction_id; a resent GA4 view
# counts twice, as a resent single call always could).
CALLS_IN_FLIGHT = 8
# How often a call's thread, waiting for its lease renewal, checks whether the batch
# was abandoned (the dispatching thread failed) and it should send nothing.
RENEWAL_POLL_SECONDS = 0.5


@dataclass
class _Answer:
    """What one call's thread reports: the call's result and error, or what it raised."""

    index: int
    result: tuple[BatchResult, PlatformError | None] | Exception
    elapsed_ms: int


@dataclass
class _Renewal:
    """A call's thread asking the dispatching thread to renew the lease for `events`."""

    events: Sequence[ConversionEvent]
    done: threading.Event = field(default_factory=threading.Event)
    granted: bool = False
    error: Exception | None = None  # what renewing raised, raised again on the call's thread


class _LeaseNotRenewed(Exception):
    """The batch was abandoned before this call's lease could be renewed: not sent."""


class _CallsAhead:
    """The calls of one batch on their threads, and the dispatching thread's side of
    them: their answers and their lease renewals, in the order they come."""

    def __init__(self, lease: Lease, connector: ConversionsConnector) -> None:
        self.lease = lease
        self.connector = connector
        self.messages: queue.SimpleQueue[_Answer | _Renewal] = queue.SimpleQueue()
        self.closed = threading.Event()
        self.dispatching_thread = threading.get_ident()

    def call(self, index: int, destination: Destination, events: Sequence[ConversionEvent]):
        """On a call's thread: send `events` (isolating a refused event), report it."""
        started = time.monotonic()
        try:
            result: tuple[BatchResult, PlatformError | None] | Exception = send_isolating(
                self.connector, destination, events, before_call=self._renewed
            )
        except Exception as exc:  # reported, and recorded by the dispatching thread
            result = exc
        elapsed_ms = int((time.monotonic() - started) * 1000)
        self.messages.put(_Answer(index, result, elapsed_ms))

    def _renewed(self, events: Sequence[ConversionEvent]) -> None:
        """Before each HTTP call: renew the lease, or on a call's thread wait for the
        dispatching thread to renew it."""
        if threading.get_ident() == self.dispatching_thread:
            self.lease.renew(events, self.connector)
            return
        request = _Renewal(events)
        self.messages.put(request)
        while not request.done.wait(RENEWAL_POLL_SECONDS):
            if self.closed.is_set():
                break
        if request.error is not None:
            raise request.error
        if not request.granted:
            raise _LeaseNotRenewed("the batch was abandoned before this call")

    def next_answers(self) -> list[_Answer]:
        """On the dispatching thread: renew the lease for the calls about to be made
        until a call is answered; that answer and any other already in."""
        answers: list[_Answer] = []
        while True:
            try:
                message = self.messages.get(block=not answers)
            except queue.Empty:
                return answers
            if isinstance(message, _Answer):
                answers.append(message)
                continue
            try:
                self.lease.renew(message.events, self.connector)
                message.granted = True
            except Exception as exc:  # the call's thread raises it: recorded as a crash
                message.error = exc
            message.done.set()

    def close(self) -> None:
        """Refuse every renewal from now on: the calls that wait for one are not made."""
        self.closed.set()
        while not self.messages.empty():
            message = self.messages.get()
            if isinstance(message, _Renewal):
                message.done.set()


def _record_internal_error(
    claimed: list[ConversionDelivery], exc: Exception, now: datetime, summary: DispatchSummary
) -> None:
    """A bug or a crash inside Usher: recorded like a transient failure, retried later.
    Logged with `exc` itself: a call's thread's crash is recorded outside any `except`,
    where `logger.exception` found no exception and logged "NoneType: None"."""
    logger.error(
        "conversions batch failed inside Usher: %s", claimed[0].destination_key, exc_info=exc
    )
    error = PlatformError(ErrorKind.TRANSIENT, f"internal error: {type(exc).__name__}")
    outcomes = [
        EventOutcome(d.event_id, OutcomeStatus.RETRY, error.message, "internal_error")
        for d in claimed
    ]
    record(claimed, BatchResult(outcomes), error, now, summary, duration_ms=0)


BeforeCall = Callable[[Sequence[ConversionEvent]], object]


def _no_renewal(events: Sequence[ConversionEvent]) -> None:
    """Sending outside a lease (tests, tools): nothing to keep alive."""


def send_isolating(
    connector: ConversionsConnector,
    destination: Destination,
    events: Sequence[ConversionEvent],
    before_call: BeforeCall = _no_renewal,
) -> tuple[BatchResult, PlatformError | None]:
    """Send a batch; if the platform refuses it whole, find out whether one event is to
    blame (Meta and TikTok reject every event of a request for one invalid event).
    `before_call` runs before every call with the events it sends (the lease renewal)."""
    try:
        before_call(events)
        return connector.send_conversions(destination, events), None
    except PlatformError as exc:
        return _isolate(connector, destination, events, exc, before_call), exc


def _isolate(
    connector: ConversionsConnector,
    destination: Destination,
    events: Sequence[ConversionEvent],
    error: PlatformError,
    before_call: BeforeCall,
) -> BatchResult:
    """Split a refused batch in halves and follow the failing half, so the good events
    still get through. When both halves fail the fault is not in one event (a bad pixel,
    a revoked permission): the batch takes the error after two more calls, rather than
    one call per event."""
    if error.kind != ErrorKind.PERMANENT or len(events) == 1:
        return BatchResult.for_error(events, error)
    middle = len(events) // 2
    halves = [events[:middle], events[middle:]]
    attempts = [_try(connector, destination, half, before_call) for half in halves]
    if all(isinstance(attempt, PlatformError) for attempt in attempts):
        return BatchResult.for_error(events, error)
    outcomes: list[EventOutcome] = []
    for half, attempt in zip(halves, attempts, strict=True):
        if isinstance(attempt, PlatformError):
            attempt = _isolate(connector, destination, half, attempt, before_call)
        outcomes.extend(attempt.outcomes)
    return BatchResult(outcomes, request=error.request, response=error.response)


def _try(
    connector: ConversionsConnector,
    destination: Destination,
    events: Sequence[ConversionEvent],
    before_call: BeforeCall,
) -> BatchResult | PlatformError:
    try:
        before_call(events)
        return connector.send_conversions(destination, events)
    except PlatformError as exc:
        return exc
