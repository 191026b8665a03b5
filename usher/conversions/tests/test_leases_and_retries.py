"""Leases and retries: two workers never overwrite each other's rows, a crashed worker's
rows are due again within a minute, and every retry waits its own, growing backoff."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from copy import copy
from datetime import timedelta
from itertools import pairwise
from types import SimpleNamespace

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from usher.conversions import dispatch, outcomes, tasks
from usher.conversions.models import ConversionDelivery, DeliveryStatus
from usher.conversions.tests.conftest import ORGANIZER_PIXEL, ingest_order
from usher.lib.ratelimit import account_bucket
from usher.platforms.base import (
    BatchResult,
    ErrorKind,
    EventOutcome,
    OutcomeStatus,
    PlatformError,
    RequestRecord,
    ResponseRecord,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """A frozen `timezone.now()` that a test moves by hand."""

    class Clock:
        now = timezone.now()

        def advance(self, seconds: float) -> None:
            self.now += timedelta(seconds=seconds)

    frozen = Clock()
    monkeypatch.setattr(timezone, "now", lambda: frozen.now)
    return frozen


@pytest.fixture
def queued(monkeypatch) -> list[dict]:
    """The follow-up dispatch tasks queued (with their countdown) instead of running."""
    calls: list[dict] = []

    def apply_async(args, countdown=None, **options):
        calls.append({"key": args[0], "countdown": countdown})

    monkeypatch.setattr(tasks.dispatch_destination_task, "apply_async", apply_async)
    return calls


@pytest.fixture
def meta_key(ingest, wiring, django_capture_on_commit_callbacks, monkeypatch) -> str:
    """Two orders queued for the organizer's Meta pixel, no worker running yet."""
    monkeypatch.setattr(tasks, "schedule_dispatch", lambda keys: None)
    for external_id in ["ord-1", "ord-2"]:
        ingest_order(ingest, wiring, django_capture_on_commit_callbacks, external_id=external_id)
    return wiring.meta.deliveries.first().destination_key


def record_as(claimed, status, now):
    """A worker records the same outcome for every row it claimed."""
    result = BatchResult([EventOutcome(d.event_id, status) for d in claimed])
    outcomes.record(claimed, result, None, now, outcomes.DispatchSummary(), duration_ms=1)


def two_workers(key):
    """A slow worker claims the rows; its lease runs out and a fast one claims them too.
    Returns both claims and the moment of the second."""
    now = timezone.now()
    slow = dispatch.claim_batch(key, 10, now)
    after_lease = now + timedelta(seconds=dispatch.lease_seconds() + 1)
    fast = dispatch.claim_batch(key, 10, after_lease)
    assert {d.pk for d in fast} == {d.pk for d in slow}
    return slow, fast, after_lease


def rows(key):
    return {d.pk: d for d in ConversionDelivery.objects.filter(destination_key=key)}


# Backoff


def test_each_retry_waits_half_as_long_again_as_the_one_before_until_the_cap(monkeypatch):
    monkeypatch.setattr(outcomes.random, "uniform", lambda low, high: high)
    waits = [outcomes.backoff_seconds(n) for n in range(1, outcomes.MAX_ATTEMPTS)]
    assert waits[:4] == [10, 15, 22.5, 33.75]
    for before, after in pairwise(waits):
        assert after == pytest.approx(min(1.5 * before, outcomes.BACKOFF_CAP_SECONDS))
    assert waits[-1] == outcomes.BACKOFF_CAP_SECONDS


def test_jitter_never_brings_a_retry_back_sooner_than_half_its_step(monkeypatch):
    monkeypatch.setattr(outcomes.random, "uniform", lambda low, high: low)
    assert [outcomes.backoff_seconds(n) for n in (1, 2, 3)] == [5, 7.5, 11.25]


def test_the_retries_span_most_of_a_day_even_with_the_shortest_jitter(monkeypatch):
    monkeypatch.setattr(outcomes.random, "uniform", lambda low, high: low)
    shortest = sum(outcomes.backoff_seconds(n) for n in range(1, outcomes.MAX_ATTEMPTS))
    monkeypatch.setattr(outcomes.random, "uniform", lambda low, high: high)
    longest = sum(outcomes.backoff_seconds(n) for n in range(1, outcomes.MAX_ATTEMPTS))
    assert shortest >= 12 * 3600 and longest <= 30 * 3600


def test_a_platforms_retry_after_wins_over_a_shorter_backoff():
    throttled = PlatformError(ErrorKind.RATE_LIMITED, "slow down", retry_after_seconds=3600)
    assert outcomes.retry_delay_seconds(1, throttled) == 3600
    brief = PlatformError(ErrorKind.RATE_LIMITED, "slow down", retry_after_seconds=1)
    assert outcomes.retry_delay_seconds(1, brief) >= outcomes.BACKOFF_BASE_SECONDS / 2


def test_a_failing_delivery_backs_off_further_after_every_attempt(
    sandbox, wiring, meta_key, clock, monkeypatch
):
    monkeypatch.setattr(outcomes.random, "uniform", lambda low, high: high)
    sandbox.fault(platform="meta", account=ORGANIZER_PIXEL, mode="5xx", count=100)
    waits = []
    for _ in range(5):
        dispatch.dispatch_destination(meta_key)
        delivery = ConversionDelivery.objects.filter(destination_key=meta_key).first()
        waits.append((delivery.next_attempt_at - clock.now).total_seconds())
        clock.now = delivery.next_attempt_at
    assert waits == [10, 15, 22.5, 33.75, 50.625]


def test_every_delivery_of_a_throttled_batch_waits_the_platforms_retry_after(
    sandbox, wiring, meta_key, clock, monkeypatch
):
    connector = dispatch.get_connector("meta")

    def throttled(destination, events):
        raise PlatformError(ErrorKind.RATE_LIMITED, "too many calls", retry_after_seconds=7200)

    monkeypatch.setattr(connector, "send_conversions", throttled)
    monkeypatch.setattr(dispatch, "get_connector", lambda provider: connector)
    summary = dispatch.dispatch_destination(meta_key)
    assert summary.resume_at == clock.now + timedelta(seconds=7200)
    waiting = ConversionDelivery.objects.filter(destination_key=meta_key)
    assert {d.status for d in waiting} == {DeliveryStatus.RETRYING}
    assert {d.next_attempt_at for d in waiting} == {clock.now + timedelta(seconds=7200)}


# Leases: two workers


def test_two_claims_at_the_same_moment_take_different_rows(meta_key):
    now = timezone.now()
    first = dispatch.claim_batch(meta_key, 1, now)
    second = dispatch.claim_batch(meta_key, 1, now)
    assert len(first) == len(second) == 1 and first[0].pk != second[0].pk
    assert dispatch.claim_batch(meta_key, 10, now) == []


def test_a_claim_takes_the_longest_overdue_deliveries_first(meta_key):
    now = timezone.now()
    first_queued, second_queued = sorted(rows(meta_key).values(), key=lambda d: d.pk)
    # The second one is a retry that came due an hour ago, the first only a minute ago.
    ConversionDelivery.objects.filter(pk=first_queued.pk).update(
        next_attempt_at=now - timedelta(minutes=1)
    )
    ConversionDelivery.objects.filter(pk=second_queued.pk).update(
        next_attempt_at=now - timedelta(hours=1)
    )
    [claimed] = dispatch.claim_batch(meta_key, 1, now)
    assert claimed.pk == second_queued.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_a_claim_takes_other_rows_than_those_another_worker_is_claiming_without_waiting(
    meta_key,
):
    first_queued, second_queued = sorted(rows(meta_key).values(), key=lambda d: d.pk)
    locked, claimed_beside = threading.Event(), threading.Event()

    def worker_mid_claim() -> None:
        """Another worker inside its claim's transaction, holding the first row's lock."""
        try:
            with transaction.atomic():
                ConversionDelivery.objects.select_for_update().get(pk=first_queued.pk)
                locked.set()
                claimed_beside.wait(timeout=30)
        finally:
            connections.close_all()

    other = threading.Thread(target=worker_mid_claim)
    other.start()
    try:
        assert locked.wait(timeout=30)
        with transaction.atomic(), connection.cursor() as cursor:
            # Waiting for the other worker's lock fails the claim here instead of hanging.
            cursor.execute("SET LOCAL lock_timeout = '2s'")
            claimed = dispatch.claim_batch(meta_key, 10, timezone.now())
    finally:
        claimed_beside.set()
        other.join()
    assert [d.pk for d in claimed] == [second_queued.pk]


def died_on_every_attempt(key, now):
    """A worker claims the destination's rows at `now` on their last attempt (the ones
    before all crashed too); returns the claim."""
    claimed = dispatch.claim_batch(key, 10, now)
    ConversionDelivery.objects.filter(pk__in=[d.pk for d in claimed]).update(
        attempts=outcomes.MAX_ATTEMPTS
    )
    return claimed


def test_a_batch_whose_worker_died_on_its_last_attempt_is_given_up_at_the_next_claim(
    meta_key, wiring
):
    now = timezone.now()
    last, not_last = died_on_every_attempt(meta_key, now)
    ConversionDelivery.objects.filter(pk=not_last.pk).update(attempts=outcomes.MAX_ATTEMPTS - 1)
    # Another destination's worker died the same way: its rows are its own claim's to judge.
    tiktok_key = wiring.tiktok.deliveries.first().destination_key
    elsewhere = died_on_every_attempt(tiktok_key, now)

    after_lease = now + timedelta(seconds=dispatch.lease_seconds() + 1)
    retaken = dispatch.claim_batch(meta_key, 10, after_lease)

    assert [d.pk for d in retaken] == [not_last.pk]  # an attempt left: tried again
    given_up = ConversionDelivery.objects.get(pk=last.pk)
    assert (
        given_up.status,
        given_up.lease_expires_at,
        given_up.last_error,
        given_up.last_error_code,
    ) == (
        DeliveryStatus.DEAD,
        None,
        "gave up: the batch failed inside Usher on every attempt",
        "internal_error",
    )
    assert {(d.status, d.lease_expires_at) for d in rows(tiktok_key).values()} == {
        (DeliveryStatus.SENDING, elsewhere[0].lease_expires_at)
    }


def test_a_worker_on_its_last_attempt_keeps_its_rows_until_its_lease_runs_out(meta_key):
    now = timezone.now()
    sending = died_on_every_attempt(meta_key, now)
    # Another worker's claim while the lease still holds: the rows are being sent.
    assert dispatch.claim_batch(meta_key, 10, now + timedelta(seconds=1)) == []
    assert {(d.status, d.lease_expires_at) for d in rows(meta_key).values()} == {
        (DeliveryStatus.SENDING, sending[0].lease_expires_at)
    }
    record_as(sending, OutcomeStatus.DELIVERED, now + timedelta(seconds=2))
    assert {d.status for d in rows(meta_key).values()} == {DeliveryStatus.DELIVERED}


def test_a_claimed_batch_comes_with_its_browser_events_and_orders(
    meta_key,
    wiring,
    marketplace,
    client,
    django_capture_on_commit_callbacks,
    django_assert_num_queries,
):
    visit = {"event_id": "evt-view-1", "name": "view_item", "event": wiring.event.slug}
    visit |= {"visitor_id": "v-1", "consent": {"ad_storage": True, "ad_user_data": True}}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/collect?site_key={marketplace.site_key}",
            data=json.dumps({"events": [visit]}),
            content_type="application/json",
        )
    assert response.status_code == 202
    claimed = dispatch.claim_batch(meta_key, 10, timezone.now())
    assert len(claimed) == 3
    # Sending reads each delivery's browser event or order and its event page: loaded
    # with the claim, not one query each.
    with django_assert_num_queries(0):
        carried = {
            d.event_id: (
                d.tracking_event and d.tracking_event.event_id,
                d.order and d.order.event.slug,
            )
            for d in claimed
        }
    assert carried == {
        "evt-view-1": ("evt-view-1", None),
        "order-ord-1": (None, wiring.event.slug),
        "order-ord-2": (None, wiring.event.slug),
    }


def test_a_late_outcome_does_not_overwrite_the_worker_that_took_the_rows_over(meta_key):
    slow, fast, after_lease = two_workers(meta_key)

    record_as(fast, OutcomeStatus.DELIVERED, after_lease)
    # The slow worker comes back with an answer for the same rows.
    record_as(slow, OutcomeStatus.REJECTED, after_lease)
    assert {d.status for d in rows(meta_key).values()} == {DeliveryStatus.DELIVERED}


def test_a_late_outcome_leaves_rows_another_worker_is_still_sending(meta_key):
    slow, fast, after_lease = two_workers(meta_key)
    record_as(slow, OutcomeStatus.RETRY, after_lease)
    held = rows(meta_key)
    for delivery in fast:
        assert held[delivery.pk].status == DeliveryStatus.SENDING
        assert held[delivery.pk].lease_expires_at == delivery.lease_expires_at


def test_giving_back_a_throttled_batch_spares_rows_another_worker_took_over(meta_key):
    slow, fast, after_lease = two_workers(meta_key)
    dispatch._release(slow, after_lease + timedelta(minutes=5))
    held = rows(meta_key)
    for delivery in fast:
        row = held[delivery.pk]
        assert (row.status, row.lease_expires_at, row.attempts) == (
            DeliveryStatus.SENDING,
            delivery.lease_expires_at,
            2,  # both claims counted; the give-back of the slow one took none back
        )


def test_renewing_a_lease_another_worker_took_over_changes_nothing(meta_key):
    slow, fast, after_lease = two_workers(meta_key)
    lease = dispatch.Lease(slow, clock=lambda: after_lease)
    assert lease.renew([], dispatch.get_connector("meta")) == 0
    held = rows(meta_key)
    assert all(held[d.pk].lease_expires_at == d.lease_expires_at for d in fast)


def test_a_call_whose_rows_another_worker_took_over_is_not_made(meta_key, monkeypatch, caplog):
    """A stalled worker whose lease ran out renews before its next call: the rows that
    call carries are the second worker's now, so it must not send them (a resent GA4 view
    counts twice). The call raises before any HTTP, and the rows stay the other's."""
    slow, fast, after_lease = two_workers(meta_key)
    stalled = after_lease + timedelta(seconds=1)  # the slow worker wakes after the claim
    call = [SimpleNamespace(event_id=slow[0].event_id)]
    with pytest.raises(dispatch.LeaseLost):
        dispatch.Lease([copy(d) for d in slow], clock=lambda: stalled).renew(call, OneCall())
    held = rows(meta_key)
    assert all(held[d.pk].lease_expires_at == d.lease_expires_at for d in fast)

    sent: list[str] = []
    calls_on_threads(monkeypatch, sent.append)
    connector = dispatch.get_connector("meta")
    carried = [[d] for d in slow]
    events = [[SimpleNamespace(event_id=d.event_id)] for d in slow]
    lease = dispatch.Lease(slow, clock=lambda: stalled)
    dispatch._send_calls(connector, None, events, carried, lease, dispatch.DispatchSummary())
    assert sent == []
    # The log tells why: the lease lost, raised on the call's thread.
    crashes = [record for record in caplog.records if record.levelname == "ERROR"]
    assert [record.exc_info[0] for record in crashes] == [dispatch.LeaseLost]
    held = rows(meta_key)
    assert all(held[d.pk].lease_expires_at == d.lease_expires_at for d in fast)
    assert {held[d.pk].status for d in fast} == {DeliveryStatus.SENDING}


def test_a_renewed_lease_holds_the_rows_for_the_calls_ahead(meta_key, settings):
    now = timezone.now()
    claimed = dispatch.claim_batch(meta_key, 10, now)
    later = now + timedelta(seconds=15)

    class ThreeCalls:
        def http_calls_for(self, events):
            return 3

    assert dispatch.Lease(claimed, clock=lambda: later).renew([], ThreeCalls()) == 2
    expected = later + timedelta(
        seconds=3 * settings.PLATFORM_HTTP_TIMEOUT_SECONDS + dispatch.LEASE_MARGIN_SECONDS
    )
    assert {d.lease_expires_at for d in rows(meta_key).values()} == {expected}
    # ...and the outcome is still this worker's to record under the renewed lease.
    record_as(claimed, OutcomeStatus.DELIVERED, later)
    assert {d.status for d in rows(meta_key).values()} == {DeliveryStatus.DELIVERED}


def test_the_lease_of_a_lone_claimed_delivery_is_renewed(meta_key):
    now = timezone.now()
    [alone] = dispatch.claim_batch(meta_key, 1, now)
    later = now + timedelta(seconds=dispatch.LEASE_MARGIN_SECONDS)
    assert dispatch.Lease([alone], clock=lambda: later).renew([], OneCall()) == 1
    renewed = later + timedelta(seconds=dispatch.lease_seconds())
    assert ConversionDelivery.objects.get(pk=alone.pk).lease_expires_at == renewed


def test_a_crashed_workers_rows_are_due_again_within_a_minute(meta_key, settings):
    now = timezone.now()
    dispatch.claim_batch(meta_key, 10, now)  # ...and the worker dies
    lease = timedelta(
        seconds=settings.PLATFORM_HTTP_TIMEOUT_SECONDS + dispatch.LEASE_MARGIN_SECONDS
    )
    assert {d.lease_expires_at for d in rows(meta_key).values()} == {now + lease}
    # The claim counts the attempt and dates it (the organizer's status shows it).
    assert {(d.attempts, d.last_attempt_at) for d in rows(meta_key).values()} == {(1, now)}
    assert meta_key not in dispatch.due_destination_keys(now + lease - timedelta(seconds=1))
    assert meta_key in dispatch.due_destination_keys(now + timedelta(seconds=60))
    assert dispatch.next_due_at(meta_key) == now + lease


def test_a_destination_is_next_due_at_its_earliest_retry_or_lease_end(three_orders):
    """What is due next is this destination's open rows: a retry's time for the rows
    waiting, the lease's end for the rows being sent (their own retry time is past), and
    never a delivered row's or another destination's (both due long ago)."""
    now = timezone.now()
    delivered, leased, waiting = dispatch.claim_batch(three_orders, 3, now)
    record_as([delivered], OutcomeStatus.DELIVERED, now)
    dispatch._release([waiting], now + timedelta(minutes=10))
    others = ConversionDelivery.objects.exclude(destination_key=three_orders)
    assert others.filter(status=DeliveryStatus.PENDING, next_attempt_at__lt=now).exists()
    assert leased.next_attempt_at < now

    assert dispatch.next_due_at(three_orders) == leased.lease_expires_at
    soon = now + timedelta(seconds=5)
    ConversionDelivery.objects.filter(pk=waiting.pk).update(next_attempt_at=soon)
    assert dispatch.next_due_at(three_orders) == soon
    assert dispatch.next_due_at("nothing-queued-here") is None


def test_the_lease_is_renewed_before_every_call_of_an_isolated_batch(
    sandbox, wiring, meta_key, clock, monkeypatch
):
    connector = dispatch.get_connector("meta")
    renewals = []
    real_renew = dispatch.Lease.renew

    def renew(self, events, conn):
        renewals.append(len(events))
        return real_renew(self, events, conn)

    def refuses_ord_2(destination, events):
        if any(e.event_id == "order-ord-2" for e in events):
            raise PlatformError(ErrorKind.PERMANENT, "Invalid parameter", platform_code="100")
        return BatchResult([EventOutcome(e.event_id, OutcomeStatus.DELIVERED) for e in events])

    monkeypatch.setattr(dispatch.Lease, "renew", renew)
    monkeypatch.setattr(connector, "send_conversions", refuses_ord_2)
    monkeypatch.setattr(dispatch, "get_connector", lambda provider: connector)
    dispatch.dispatch_destination(meta_key)
    assert renewals == [2, 1, 1]  # the batch, then each half
    statuses = {d.event_id: d.status for d in rows(meta_key).values()}
    assert statuses == {
        "order-ord-1": DeliveryStatus.DELIVERED,
        "order-ord-2": DeliveryStatus.REJECTED,
    }


# Follow-ups: retries at their own time


def test_a_failed_batch_is_dispatched_again_at_its_backoff_time_not_at_the_sweep(
    sandbox, wiring, meta_key, clock, queued
):
    sandbox.fault(platform="meta", account=ORGANIZER_PIXEL, mode="5xx", count=1)
    tasks.dispatch_destination_task(meta_key)
    retry_at = min(d.next_attempt_at for d in rows(meta_key).values())
    assert queued == [{"key": meta_key, "countdown": (retry_at - clock.now).total_seconds()}]
    assert 0 < queued[0]["countdown"] <= outcomes.BACKOFF_BASE_SECONDS


def test_runs_asking_for_the_same_moment_queue_one_follow_up(meta_key, clock, queued):
    when = clock.now + timedelta(seconds=7)
    assert tasks.schedule_follow_up(meta_key, when)
    assert not tasks.schedule_follow_up(meta_key, when)
    assert tasks.schedule_follow_up(meta_key, when + timedelta(seconds=1))
    assert [q["countdown"] for q in queued] == [7, 8]


def test_a_retry_hours_away_is_left_to_the_periodic_dispatch(meta_key, clock, queued):
    assert not tasks.schedule_follow_up(meta_key, clock.now + timedelta(hours=2))
    assert queued == []


def test_a_throttled_destination_is_not_followed_up_before_the_platform_lets_us_in(
    sandbox, wiring, meta_key, clock, queued, monkeypatch
):
    connector = dispatch.get_connector("meta")
    calls = []

    def throttles_once(destination, events):
        calls.append(len(events))
        raise PlatformError(ErrorKind.RATE_LIMITED, "too many calls", retry_after_seconds=90)

    monkeypatch.setattr(connector, "send_conversions", throttles_once)
    monkeypatch.setattr(connector, "max_batch_size", 1)
    monkeypatch.setattr(dispatch, "get_connector", lambda provider: connector)
    tasks.dispatch_destination_task(meta_key)
    assert calls == [1]  # the second order waits, though it is due now
    assert queued == [{"key": meta_key, "countdown": 90}]


def test_the_periodic_dispatch_picks_up_a_dead_workers_rows(meta_key, clock, monkeypatch):
    scheduled = []
    monkeypatch.setattr(tasks, "schedule_dispatch", lambda keys: scheduled.append(list(keys)))
    dispatch.claim_batch(meta_key, 10, clock.now)
    tasks.dispatch_due_task()
    clock.advance(dispatch.lease_seconds() + 1)
    tasks.dispatch_due_task()
    assert meta_key not in scheduled[0] and meta_key in scheduled[1]


# One call at a time


@pytest.fixture
def three_orders(ingest, wiring, django_capture_on_commit_callbacks, monkeypatch) -> str:
    monkeypatch.setattr(tasks, "schedule_dispatch", lambda keys: None)
    for external_id in ["ord-1", "ord-2", "ord-3"]:
        ingest_order(ingest, wiring, django_capture_on_commit_callbacks, external_id=external_id)
    return wiring.meta.deliveries.first().destination_key


def test_claims_made_at_the_same_moment_are_given_back_and_renewed_apart(three_orders):
    # Three workers claim one row each at the same moment: their leases end together, so
    # only the rows' ids tell each claim's rows from the others'.
    now = timezone.now()
    first, second, third = (dispatch.claim_batch(three_orders, 1, now) for _ in range(3))
    assert first[0].lease_expires_at == second[0].lease_expires_at == third[0].lease_expires_at

    dispatch._release(first, now + timedelta(minutes=5))
    later = now + timedelta(seconds=dispatch.LEASE_MARGIN_SECONDS)
    assert dispatch.Lease(second, clock=lambda: later).renew([], OneCall()) == 1

    held = rows(three_orders)
    assert held[first[0].pk].status == DeliveryStatus.RETRYING
    assert held[second[0].pk].lease_expires_at == later + timedelta(
        seconds=dispatch.lease_seconds()
    )
    assert (held[third[0].pk].status, held[third[0].pk].lease_expires_at) == (
        DeliveryStatus.SENDING,
        third[0].lease_expires_at,
    )


def one_call_per_event(monkeypatch, answers: dict[str, PlatformError]) -> list[str]:
    """The Meta connector sending each event in its own call (as GA4 does per visitor),
    failing the calls of the events in `answers`; returns the events sent, in order.
    One call in flight at a time: what these tests follow is the order of the calls."""
    monkeypatch.setattr(dispatch, "CALLS_IN_FLIGHT", 1)
    connector = dispatch.get_connector("meta")
    sent: list[str] = []

    def send(destination, events):
        (event,) = events
        sent.append(event.event_id)
        if event.event_id in answers:
            raise answers[event.event_id]
        return BatchResult([EventOutcome(event.event_id, OutcomeStatus.DELIVERED)])

    monkeypatch.setattr(connector, "split_calls", lambda events: [[e] for e in events])
    monkeypatch.setattr(connector, "send_conversions", send)
    monkeypatch.setattr(dispatch, "get_connector", lambda provider: connector)
    return sent


def states(key):
    return {
        d.event_id: (d.status, d.attempts, d.batches.count())
        for d in ConversionDelivery.objects.filter(destination_key=key)
    }


def test_a_failed_call_puts_off_only_the_events_it_carried(three_orders, monkeypatch):
    sent = one_call_per_event(
        monkeypatch, {"order-ord-2": PlatformError(ErrorKind.TRANSIENT, "HTTP 503")}
    )
    summary = dispatch.dispatch_destination(three_orders)
    assert sent == ["order-ord-1", "order-ord-2", "order-ord-3"]
    assert (summary.batches, summary.delivered, summary.retrying) == (3, 2, 1)
    assert states(three_orders) == {
        "order-ord-1": (DeliveryStatus.DELIVERED, 1, 1),
        "order-ord-2": (DeliveryStatus.RETRYING, 1, 1),
        "order-ord-3": (DeliveryStatus.DELIVERED, 1, 1),
    }


def test_two_failed_calls_in_a_row_put_off_the_calls_not_made_without_an_attempt(
    three_orders, monkeypatch, clock
):
    monkeypatch.setattr(outcomes.random, "uniform", lambda low, high: high)
    down = PlatformError(ErrorKind.TRANSIENT, "timed out")
    sent = one_call_per_event(monkeypatch, {"order-ord-1": down, "order-ord-2": down})
    dispatch.dispatch_destination(three_orders)
    assert sent == ["order-ord-1", "order-ord-2"]
    untried = ConversionDelivery.objects.get(destination_key=three_orders, event_id="order-ord-3")
    assert (
        untried.status,
        untried.attempts,
        untried.batches.count(),
        untried.lease_expires_at,
    ) == (DeliveryStatus.RETRYING, 0, 0, None)  # no longer held: any worker may take it
    # The first step of the backoff, from the second failure.
    first_step = timedelta(seconds=outcomes.backoff_ceiling_seconds(1))
    assert untried.next_attempt_at == clock.now + first_step


def test_a_throttled_call_gives_the_calls_not_made_back_until_the_platform_lets_us_in(
    three_orders, monkeypatch, clock
):
    throttled = PlatformError(ErrorKind.RATE_LIMITED, "slow down", retry_after_seconds=120)
    sent = one_call_per_event(monkeypatch, {"order-ord-2": throttled})
    summary = dispatch.dispatch_destination(three_orders)
    assert sent == ["order-ord-1", "order-ord-2"]
    assert summary.resume_at == clock.now + timedelta(seconds=120)
    assert states(three_orders)["order-ord-3"] == (DeliveryStatus.RETRYING, 0, 0)
    assert ConversionDelivery.objects.get(
        destination_key=three_orders, event_id="order-ord-3"
    ).next_attempt_at == (summary.resume_at)


def test_refusals_in_a_row_are_no_outage_and_put_nothing_off(three_orders, monkeypatch):
    refused = PlatformError(ErrorKind.PERMANENT, "Invalid parameter", platform_code="100")
    sent = one_call_per_event(monkeypatch, {"order-ord-1": refused, "order-ord-2": refused})
    dispatch.dispatch_destination(three_orders)
    assert sent == ["order-ord-1", "order-ord-2", "order-ord-3"]
    assert states(three_orders)["order-ord-3"] == (DeliveryStatus.DELIVERED, 1, 1)


def test_a_throttle_without_retry_after_waits_the_first_backoff_step(
    three_orders, monkeypatch, clock
):
    monkeypatch.setattr(outcomes.random, "uniform", lambda low, high: high)
    throttled = PlatformError(ErrorKind.RATE_LIMITED, "slow down")
    one_call_per_event(monkeypatch, {"order-ord-2": throttled})
    summary = dispatch.dispatch_destination(three_orders)
    first_step = timedelta(seconds=outcomes.backoff_ceiling_seconds(1))
    assert summary.resume_at == clock.now + first_step


def test_a_crash_inside_usher_mid_batch_keeps_what_was_already_delivered(three_orders, monkeypatch):
    sent = one_call_per_event(monkeypatch, {})
    real_isolating = dispatch.send_isolating

    def crashes_on_the_second(connector, destination, events, before_call):
        if len(sent) == 1:
            raise RuntimeError("bug")
        return real_isolating(connector, destination, events, before_call)

    monkeypatch.setattr(dispatch, "send_isolating", crashes_on_the_second)
    dispatch.dispatch_destination(three_orders)
    result = states(three_orders)
    assert result["order-ord-1"][0] == DeliveryStatus.DELIVERED
    assert {result["order-ord-2"][0], result["order-ord-3"][0]} == {DeliveryStatus.RETRYING}
    crashed = ConversionDelivery.objects.get(destination_key=three_orders, event_id="order-ord-2")
    assert crashed.last_error_code == "internal_error"
    # The batch log says what went wrong, for the admin reading a delivery's tries.
    assert (crashed.last_batch.error_kind, crashed.last_batch.error_message) == (
        ErrorKind.TRANSIENT,
        "internal error: RuntimeError",
    )


# Several calls in flight (GA4's one call per visitor)


@pytest.fixture
def seven_orders(ingest, wiring, django_capture_on_commit_callbacks, monkeypatch) -> str:
    monkeypatch.setattr(tasks, "schedule_dispatch", lambda keys: None)
    for number in range(7):
        ingest_order(
            ingest, wiring, django_capture_on_commit_callbacks, external_id=f"ord-{number}"
        )
    return wiring.meta.deliveries.first().destination_key


def calls_on_threads(monkeypatch, send, in_flight: int = 4) -> None:
    """The Meta connector making one call per event through `send(event_id)`, which
    returns nothing (delivered) or raises; up to `in_flight` calls at once."""
    monkeypatch.setattr(dispatch, "CALLS_IN_FLIGHT", in_flight)
    connector = dispatch.get_connector("meta")

    def send_conversions(destination, events):
        (event,) = events
        send(event.event_id)
        return BatchResult([EventOutcome(event.event_id, OutcomeStatus.DELIVERED)])

    monkeypatch.setattr(connector, "split_calls", lambda events: [[e] for e in events])
    monkeypatch.setattr(connector, "send_conversions", send_conversions)
    monkeypatch.setattr(dispatch, "get_connector", lambda provider: connector)


def answered_before(monkeypatch, first: str, then: str) -> None:
    """The call of event `then` waits until the call of event `first` has reported its
    answer: two calls in flight together, answered in a known order."""
    real_call = dispatch._CallsAhead.call
    reported = threading.Event()

    def call(self, index, destination, events):
        if events[0].event_id == then:
            reported.wait(timeout=30)
        try:
            real_call(self, index, destination, events)
        finally:
            if events[0].event_id == first:
                reported.set()

    monkeypatch.setattr(dispatch._CallsAhead, "call", call)


def test_calls_go_out_several_at_once_and_only_this_thread_writes(seven_orders, monkeypatch):
    # The window doubles after each answer: one call, then two, then all four at once.
    # The last four wait for each other: they finish only if they were in flight together.
    together = threading.Barrier(4, timeout=30)
    calls_on_threads(
        monkeypatch,
        lambda event_id: together.wait() if int(event_id.rsplit("-", 1)[1]) >= 3 else None,
    )
    renewed_on = []
    real_renew = dispatch.Lease.renew

    def renew(self, events, conn):
        renewed_on.append(threading.get_ident())
        return real_renew(self, events, conn)

    monkeypatch.setattr(dispatch.Lease, "renew", renew)
    summary = dispatch.dispatch_destination(seven_orders)
    assert (summary.batches, summary.delivered) == (7, 7)  # each call recorded on its own
    assert set(states(seven_orders).values()) == {(DeliveryStatus.DELIVERED, 1, 1)}
    assert renewed_on == [threading.get_ident()] * 7  # before every call, on this thread


def test_every_call_of_a_batch_goes_to_its_destination(seven_orders, monkeypatch):
    calls_on_threads(monkeypatch, lambda event_id: None)
    connector = dispatch.get_connector("meta")
    answer = connector.send_conversions
    accounts: list[str] = []

    def send_conversions(destination, events):
        accounts.append(destination.account_id)
        return answer(destination, events)

    monkeypatch.setattr(connector, "send_conversions", send_conversions)
    dispatch.dispatch_destination(seven_orders)
    assert accounts == [ORGANIZER_PIXEL] * 7


def test_a_crash_beside_calls_in_flight_keeps_their_answers(seven_orders, monkeypatch):
    def send(event_id):
        if event_id == "order-ord-1":
            raise RuntimeError("bug")

    calls_on_threads(monkeypatch, send)
    answered_before(monkeypatch, "order-ord-1", "order-ord-2")
    dispatch.dispatch_destination(seven_orders)
    result = {
        d.event_id: (d.status, d.last_error_code)
        for d in ConversionDelivery.objects.filter(destination_key=seven_orders)
    }
    # ord-1 and ord-2 went out together; ord-2's answer is recorded, the rest is retried.
    assert result.pop("order-ord-0") == (DeliveryStatus.DELIVERED, "")
    assert result.pop("order-ord-2") == (DeliveryStatus.DELIVERED, "")
    assert set(result.values()) == {(DeliveryStatus.RETRYING, "internal_error")}


def test_a_throttled_call_lets_the_calls_in_flight_finish_and_gives_back_the_rest(
    seven_orders, monkeypatch, clock
):
    def send(event_id):
        if event_id == "order-ord-1":
            raise PlatformError(ErrorKind.RATE_LIMITED, "slow down", retry_after_seconds=120)

    calls_on_threads(monkeypatch, send)
    answered_before(monkeypatch, "order-ord-1", "order-ord-2")
    summary = dispatch.dispatch_destination(seven_orders)
    assert summary.resume_at == clock.now + timedelta(seconds=120)
    result = states(seven_orders)
    assert result.pop("order-ord-0") == (DeliveryStatus.DELIVERED, 1, 1)
    assert result.pop("order-ord-2") == (DeliveryStatus.DELIVERED, 1, 1)
    assert result.pop("order-ord-1") == (DeliveryStatus.RETRYING, 1, 1)
    assert set(result.values()) == {(DeliveryStatus.RETRYING, 0, 0)}  # never sent
    assert {
        d.next_attempt_at
        for d in ConversionDelivery.objects.filter(destination_key=seven_orders, attempts=0)
    } == {summary.resume_at}


def test_a_claim_with_more_calls_than_the_bucket_holds_sends_what_it_can_and_gives_back_the_rest(
    seven_orders, monkeypatch, clock, settings
):
    """GA4 claims 200 visitors, one call each, from an account bucket of 40: asking for
    all 200 tokens at once was never granted, and the same claim came back forever."""
    settings.PLATFORM_RATE_LIMITS = {**settings.PLATFORM_RATE_LIMITS, "meta": (0.01, 3.0)}
    sent: list[str] = []
    calls_on_threads(monkeypatch, sent.append)
    summary = dispatch.dispatch_destination(seven_orders)
    assert sorted(sent) == ["order-ord-0", "order-ord-1", "order-ord-2"]  # the oldest first
    assert summary.resume_at is not None and summary.resume_at > clock.now  # the bucket is dry
    result = states(seven_orders)
    assert [result.pop(event_id) for event_id in sent] == [(DeliveryStatus.DELIVERED, 1, 1)] * 3
    assert set(result.values()) == {(DeliveryStatus.RETRYING, 0, 0)}  # no attempt used


# What a record keeps


def test_a_delivery_delivered_after_a_failure_is_dated_and_its_error_cleared(
    sandbox, wiring, meta_key, clock
):
    sandbox.fault(platform="meta", account=ORGANIZER_PIXEL, mode="5xx", count=1)
    dispatch.dispatch_destination(meta_key)
    failed = ConversionDelivery.objects.filter(destination_key=meta_key).first()
    assert failed.last_error and failed.last_error_code
    clock.now = failed.next_attempt_at
    dispatch.dispatch_destination(meta_key)
    delivered = ConversionDelivery.objects.get(pk=failed.pk)
    assert (delivered.status, delivered.delivered_at) == (DeliveryStatus.DELIVERED, clock.now)
    assert (delivered.last_error, delivered.last_error_code) == ("", "")


def test_the_batch_log_hides_network_fields_and_keeps_the_rest_readable():
    body = (
        '{"data": [{"event_name": "Purchase", "user_data": {"client_ip_address": "203.0.113.7",'
        ' "client_user_agent": "Mozilla/5.0", "ct": ["brașov"]}}]}'
    )
    logged = outcomes._redact_network_fields(body)
    assert logged == (
        '{"data": [{"event_name": "Purchase", "user_data": {"client_ip_address": "[redacted]",'
        ' "client_user_agent": "[redacted]", "ct": ["brașov"]}}]}'
    )


def test_the_batch_log_hides_network_fields_of_a_body_cut_to_the_records_length():
    # A batch of 500 events is longer than the record keeps: its body is cut mid-JSON,
    # and cut again to the log's length, possibly inside a value.
    event = (
        '{"user_data": {"client_ip_address": "203.0.113.7", "client_user_agent": "Mozilla/5.0"}}'
    )
    body = '{"data": [' + ", ".join([event] * 2000)[:64_000]
    logged = outcomes._redact_network_fields(body)
    assert "203.0.113" not in logged and "Mozilla" not in logged
    assert '"client_ip_address": "[redacted]"' in logged
    for cut in range(len(event) + 10, 2 * len(event) + 12):  # anywhere in the second event
        assert not {"203", "Moz"} & set(outcomes._redact_network_fields(body[:cut]).split('"'))


def test_a_call_sent_without_a_body_is_logged_with_an_empty_one():
    request = RequestRecord(method="GET", url="https://graph.example/v1/me", body=None)
    logged = outcomes._request_summary(BatchResult([], request=request))
    assert logged == {"method": "GET", "url": "https://graph.example/v1/me", "body": ""}


def test_a_runs_summary_adds_up_every_outcome(three_orders):
    claimed = dispatch.claim_batch(three_orders, 10, timezone.now())
    last = claimed[-1]
    ConversionDelivery.objects.filter(pk=last.pk).update(attempts=outcomes.MAX_ATTEMPTS)
    last.attempts = outcomes.MAX_ATTEMPTS  # its last attempt: a retry makes it dead
    answers = [OutcomeStatus.REJECTED, OutcomeStatus.RETRY, OutcomeStatus.RETRY]
    result = BatchResult(
        [EventOutcome(d.event_id, s) for d, s in zip(claimed, answers, strict=True)]
    )
    summary = outcomes.DispatchSummary(delivered=1, rejected=1, dead=1, retrying=1, batches=1)
    outcomes.record(claimed, result, None, timezone.now(), summary, duration_ms=1)
    counts = (summary.delivered, summary.rejected, summary.dead, summary.retrying)
    assert (counts, summary.batches) == ((1, 2, 2, 2), 2)
    assert ConversionDelivery.objects.get(pk=last.pk).status == DeliveryStatus.DEAD


# Recording outcomes: few UPDATEs (one per call on PostgreSQL), still under the lease guard


def delivery_updates(queries) -> int:
    """UPDATEs of deliveries sent, alone or inside one statement's WITH."""
    return sum(q["sql"].count('UPDATE "conversions_conversiondelivery"') for q in queries)


@pytest.fixture(params=["one statement", "one transaction"])
def recording_path(request, monkeypatch) -> str:
    """Both ways a call is recorded: PostgreSQL's one statement, and the transaction of
    several statements other databases (SQLite of `make run`) get."""
    if request.param == "one transaction":
        monkeypatch.setattr(outcomes, "records_in_one_statement", lambda vendor: False)
    elif connection.vendor != "postgresql":
        pytest.skip("one statement needs PostgreSQL")
    return request.param


def test_a_batch_with_one_outcome_for_all_is_recorded_with_one_update(meta_key, recording_path):
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    claimed = dispatch.claim_batch(meta_key, 10, now)
    with CaptureQueriesContext(connection) as queries:
        record_as(claimed, OutcomeStatus.DELIVERED, now)
    assert len(claimed) == 2 and delivery_updates(queries) == 1
    assert {d.status for d in rows(meta_key).values()} == {DeliveryStatus.DELIVERED}
    if recording_path == "one statement":  # log, links and outcomes: one round trip
        assert len(queries) == 1


def test_a_recorded_call_is_logged_and_linked_to_the_deliveries_it_carried(
    meta_key, recording_path
):
    from usher.conversions.models import DeliveryBatch

    now = timezone.now()
    claimed = dispatch.claim_batch(meta_key, 10, now)
    record_as(claimed, OutcomeStatus.DELIVERED, now)
    batch = DeliveryBatch.objects.get(destination_key=meta_key)
    assert (batch.events_count, batch.delivered_count) == (2, 2)
    assert (batch.response_status, batch.response_body) == (None, "")  # no answer kept
    assert set(batch.deliveries.values_list("pk", flat=True)) == {d.pk for d in claimed}
    assert {d.last_batch_id for d in rows(meta_key).values()} == {batch.pk}


def test_calls_answered_together_are_recorded_each_with_its_own_log(meta_key, recording_path):
    from django.test.utils import CaptureQueriesContext

    from usher.conversions.models import DeliveryBatch

    now = timezone.now()
    first, second = dispatch.claim_batch(meta_key, 10, now)
    delivered = BatchResult([EventOutcome(first.event_id, OutcomeStatus.DELIVERED)])
    refused = BatchResult([EventOutcome(second.event_id, OutcomeStatus.REJECTED, "bad", "100")])
    summary = outcomes.DispatchSummary()
    with CaptureQueriesContext(connection) as queries:
        outcomes.record_calls(
            [
                outcomes.AnsweredCall([first], delivered, None, now, 5),
                outcomes.AnsweredCall([second], refused, None, now, 7),
            ],
            summary,
        )
    if recording_path == "one statement":
        assert len(queries) == 1
    assert (summary.batches, summary.delivered, summary.rejected) == (2, 1, 1)
    logs = {
        log.duration_ms: (log.delivered_count, log.rejected_count, list(log.deliveries.all()))
        for log in DeliveryBatch.objects.filter(destination_key=meta_key)
    }
    assert logs == {5: (1, 0, [first]), 7: (0, 1, [second])}
    stored = rows(meta_key)
    assert (stored[first.pk].status, stored[second.pk].status) == (
        DeliveryStatus.DELIVERED,
        DeliveryStatus.REJECTED,
    )
    assert stored[first.pk].last_batch_id != stored[second.pk].last_batch_id


def test_any_number_of_calls_is_recorded_with_the_same_statement_text(three_orders):
    # One text for 1 call or 3 (the rows travel as a document and arrays): psycopg
    # converts it once per process and PostgreSQL prepares it once per connection. A
    # text per number of calls, a dozen parameters each, was a third of a GA4 call's CPU.
    if connection.vendor != "postgresql":
        pytest.skip("one statement needs PostgreSQL")
    sent: list[tuple[str, int]] = []

    def capture(execute, sql, params, many, context):
        sent.append((sql, len(params)))
        return execute(sql, params, many, context)

    now = timezone.now()
    first, *others = dispatch.claim_batch(three_orders, 10, now)
    with connection.execute_wrapper(capture):
        record_as([first], OutcomeStatus.DELIVERED, now)
        outcomes.record_calls(
            [
                outcomes.AnsweredCall(
                    [delivery], BatchResult([EventOutcome(delivery.event_id, status)]), None, now, 1
                )
                for delivery, status in zip(
                    others, [OutcomeStatus.DELIVERED, OutcomeStatus.REJECTED], strict=True
                )
            ],
            outcomes.DispatchSummary(),
        )
    assert len(sent) == 2 and sent[0] == sent[1]
    stored = rows(three_orders)
    assert [stored[d.pk].status for d in [first, *others]] == [
        DeliveryStatus.DELIVERED,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.REJECTED,
    ]
    assert len({stored[d.pk].last_batch_id for d in [first, *others]}) == 3


def test_a_log_recorded_in_one_statement_reads_back_as_one_saved_by_the_orm(
    three_orders, monkeypatch
):
    # The log's row travels as JSON on PostgreSQL: text, JSON, NULL and numbers come back
    # as the ORM's save() stores them.
    if connection.vendor != "postgresql":
        pytest.skip("one statement needs PostgreSQL")
    from usher.conversions.models import DeliveryBatch

    now = timezone.now()
    one, other, _ = dispatch.claim_batch(three_orders, 10, now)
    error = PlatformError(ErrorKind.TRANSIENT, 'refusé: "quotes", \\ and 💥\n', status_code=503)

    def answer(delivery):
        request = RequestRecord("POST", "https://graph.example/v1/x?a=b", body='{"ț": [1, null]}')
        response = ResponseRecord(503, body="ăîșț \u2028 <html>")
        outcome = EventOutcome(delivery.event_id, OutcomeStatus.RETRY, error.message, "503")
        return BatchResult([outcome], request=request, response=response)

    outcomes.record([one], answer(one), error, now, outcomes.DispatchSummary(), duration_ms=7)
    monkeypatch.setattr(outcomes, "records_in_one_statement", lambda vendor: False)
    outcomes.record([other], answer(other), error, now, outcomes.DispatchSummary(), duration_ms=7)
    stored = {
        log.deliveries.get().pk: log
        for log in DeliveryBatch.objects.filter(destination_key=three_orders)
    }

    def fields(log) -> dict:
        return {
            field.attname: getattr(log, field.attname)
            for field in DeliveryBatch._meta.concrete_fields
            if field.attname not in {"id", "created_at"}
        }

    assert fields(stored[one.pk]) == fields(stored[other.pk])
    assert stored[one.pk].error_message == error.message
    assert stored[one.pk].response_status == 503
    assert abs(stored[one.pk].created_at - stored[other.pk].created_at) < timedelta(minutes=1)


def test_a_call_with_every_kind_of_outcome_is_recorded_with_one_update_on_postgresql(
    three_orders, recording_path
):
    from django.test.utils import CaptureQueriesContext

    now = timezone.now()
    delivered, retried, refused = dispatch.claim_batch(three_orders, 10, now)
    before = rows(three_orders)
    result = BatchResult(
        [
            EventOutcome(delivered.event_id, OutcomeStatus.DELIVERED),
            EventOutcome(retried.event_id, OutcomeStatus.RETRY, "timed out", "timeout"),
            EventOutcome(refused.event_id, OutcomeStatus.REJECTED, "bad value", "100"),
        ]
    )
    with CaptureQueriesContext(connection) as queries:
        outcomes.record(
            [delivered, retried, refused],
            result,
            None,
            now,
            outcomes.DispatchSummary(),
            duration_ms=1,
        )
    if recording_path == "one statement":
        assert delivery_updates(queries) == 1
    after = rows(three_orders)
    assert (after[delivered.pk].status, after[delivered.pk].delivered_at) == (
        DeliveryStatus.DELIVERED,
        now,
    )
    # A change leaves the columns it does not name as they were.
    assert after[delivered.pk].next_attempt_at == before[delivered.pk].next_attempt_at
    assert (after[retried.pk].status, after[retried.pk].delivered_at) == (
        DeliveryStatus.RETRYING,
        None,
    )
    assert after[retried.pk].next_attempt_at > now
    assert (after[retried.pk].last_error, after[retried.pk].last_error_code) == (
        "timed out",
        "timeout",
    )
    assert (after[refused.pk].status, after[refused.pk].last_error_code) == (
        DeliveryStatus.REJECTED,
        "100",
    )
    assert {d.lease_expires_at for d in after.values()} == {None}
    assert len({d.last_batch_id for d in after.values()}) == 1


def test_an_event_the_answer_leaves_out_is_retried_and_logged_as_a_retry(
    meta_key, recording_path, caplog
):
    from usher.conversions.models import DeliveryBatch

    now = timezone.now()
    answered, left_out = dispatch.claim_batch(meta_key, 10, now)
    result = BatchResult(
        [EventOutcome(answered.event_id, OutcomeStatus.DELIVERED)],
        response=ResponseRecord(200, body='{"events_received": 1}'),
    )
    with caplog.at_level(logging.INFO, logger="usher.conversions"):
        outcomes.record(
            [answered, left_out], result, None, now, outcomes.DispatchSummary(), duration_ms=1
        )
    stored = rows(meta_key)[left_out.pk]
    assert (stored.status, stored.last_error) == (
        DeliveryStatus.RETRYING,
        "no outcome reported for this event",
    )
    batch = DeliveryBatch.objects.get(destination_key=meta_key)
    assert (batch.events_count, batch.delivered_count, batch.retry_count) == (2, 1, 1)
    assert (batch.provider, batch.response_status, batch.response_body) == (
        answered.provider,
        200,
        '{"events_received": 1}',
    )
    assert (batch.error_kind, batch.error_message) == ("", "")  # the call itself succeeded
    assert caplog.messages == [
        f"conversions batch destination={meta_key} provider={answered.provider} events=2 "
        "delivered=1 rejected=0 retry=1"
    ]


def test_a_grouped_update_spares_the_row_another_worker_took_over(meta_key, recording_path):
    now = timezone.now()
    slow = dispatch.claim_batch(meta_key, 10, now)
    after_lease = now + timedelta(seconds=dispatch.lease_seconds() + 1)
    [taken] = dispatch.claim_batch(meta_key, 1, after_lease)  # only one of the two
    record_as(slow, OutcomeStatus.DELIVERED, after_lease)
    held = rows(meta_key)
    assert (held[taken.pk].status, held[taken.pk].lease_expires_at) == (
        DeliveryStatus.SENDING,
        taken.lease_expires_at,
    )
    [other] = [pk for pk in held if pk != taken.pk]
    assert held[other].status == DeliveryStatus.DELIVERED


class OneCall:
    def http_calls_for(self, events):
        return 1


def test_a_lease_that_still_covers_the_next_call_is_not_rewritten(
    meta_key, django_assert_num_queries
):
    now = timezone.now()
    claimed = dispatch.claim_batch(meta_key, 10, now)
    # Up to the moment the lease covers the call's timeout and half its margin, no write.
    last_unwritten = now + timedelta(seconds=dispatch.RENEWAL_SLACK_SECONDS)
    soon = dispatch.Lease(claimed, clock=lambda: last_unwritten)
    with django_assert_num_queries(0):
        assert soon.renew([], OneCall()) == 2
    # A moment later it is renewed, for a full timeout and margin from then.
    later = last_unwritten + timedelta(microseconds=1)
    assert dispatch.Lease(claimed, clock=lambda: later).renew([], OneCall()) == 2
    renewed = later + timedelta(seconds=dispatch.lease_seconds())
    assert {d.lease_expires_at for d in rows(meta_key).values()} == {renewed}


# A destination's backlog is shared by free workers


def test_a_run_whose_first_claim_is_full_asks_once_for_a_second_run(meta_key, sandbox, monkeypatch):
    real_get_connector = dispatch.get_connector

    def one_per_batch(name):
        connector = real_get_connector(name)
        connector.max_batch_size = 1
        return connector

    monkeypatch.setattr(dispatch, "get_connector", one_per_batch)
    asked: list[int] = []
    dispatch.dispatch_destination(meta_key, on_backlog=lambda: asked.append(1))
    assert asked == [1]
    assert {d.status for d in rows(meta_key).values()} == {DeliveryStatus.DELIVERED}


def test_a_run_that_claims_all_that_is_due_asks_for_no_help(meta_key, sandbox):
    asked: list[int] = []
    dispatch.dispatch_destination(meta_key, on_backlog=lambda: asked.append(1))
    assert asked == []
    assert {d.status for d in rows(meta_key).values()} == {DeliveryStatus.DELIVERED}


# Sending a claimed batch


def meta_sending(monkeypatch, send):
    """The Meta connector answering every call through `send(events)`; returns it."""
    connector = dispatch.get_connector("meta")
    monkeypatch.setattr(connector, "send_conversions", lambda destination, events: send(events))
    monkeypatch.setattr(dispatch, "get_connector", lambda provider: connector)
    return connector


def delivered(events) -> BatchResult:
    return BatchResult([EventOutcome(e.event_id, OutcomeStatus.DELIVERED) for e in events])


def test_an_answer_is_dated_when_it_comes_in_not_when_its_batch_was_claimed(
    meta_key, clock, monkeypatch
):
    claimed_at = clock.now

    def slow_answer(events):
        clock.advance(30)
        return delivered(events)

    meta_sending(monkeypatch, slow_answer)
    dispatch.dispatch_destination(meta_key)
    answered_at = claimed_at + timedelta(seconds=30)
    assert {(d.status, d.delivered_at) for d in rows(meta_key).values()} == {
        (DeliveryStatus.DELIVERED, answered_at)
    }


def test_a_run_for_a_given_moment_sends_what_is_due_by_then(meta_key, monkeypatch):
    in_an_hour = timezone.now() + timedelta(hours=1)
    ConversionDelivery.objects.filter(destination_key=meta_key).update(
        next_attempt_at=in_an_hour - timedelta(minutes=1)
    )
    meta_sending(monkeypatch, delivered)
    summary = dispatch.dispatch_destination(meta_key, now=in_an_hour)
    assert (summary.batches, summary.delivered) == (1, 2)


def test_the_deliveries_of_a_disabled_code_are_rejected_without_a_call(
    meta_key, wiring, monkeypatch
):
    type(wiring.meta).objects.filter(pk=wiring.meta.pk).update(enabled=False)
    meta_sending(monkeypatch, lambda events: pytest.fail("a call for a disabled code"))
    summary = dispatch.dispatch_destination(meta_key)
    assert (summary.batches, summary.rejected) == (1, 2)
    assert {
        (d.status, d.last_error, d.last_error_code, d.last_batch.duration_ms)
        for d in rows(meta_key).values()
    } == {
        (
            DeliveryStatus.REJECTED,
            "the tracking code was removed or disabled",
            "destination_unavailable",
            0,  # no call was made
        )
    }


def test_a_crash_before_any_call_is_logged_with_its_destination_and_retried(
    meta_key, monkeypatch, caplog
):
    def crashes(deliveries, limited_data_use):
        raise RuntimeError("bug")

    connector = dispatch.get_connector("meta")
    monkeypatch.setattr(connector, "max_batch_size", 1)  # a claim of one row each
    monkeypatch.setattr(dispatch, "get_connector", lambda provider: connector)
    monkeypatch.setattr(dispatch, "conversion_events", crashes)
    summary = dispatch.dispatch_destination(meta_key)
    assert (summary.batches, summary.retrying) == (2, 2)
    assert {
        (
            d.status,
            d.last_error,
            d.last_error_code,
            d.last_batch.duration_ms,
            d.last_batch.retry_count,
        )
        for d in rows(meta_key).values()
    } == {(DeliveryStatus.RETRYING, "internal error: RuntimeError", "internal_error", 0, 1)}
    crashes_logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [(r.getMessage(), r.exc_info[0]) for r in crashes_logged] == [
        (f"conversions batch failed inside Usher: {meta_key}", RuntimeError)
    ] * 2


def test_a_rate_limit_wait_up_to_the_inline_limit_is_slept_not_put_off(meta_key, monkeypatch):
    class BucketAtTheLimit:
        capacity = 100.0

        def take(self, tokens):
            return dispatch.RATE_LIMIT_WAIT_INLINE_SECONDS

    slept: list[float] = []
    monkeypatch.setattr(dispatch, "_bucket", lambda provider, account_id: BucketAtTheLimit())
    monkeypatch.setattr(
        dispatch, "time", SimpleNamespace(sleep=slept.append, monotonic=time.monotonic)
    )
    meta_sending(monkeypatch, delivered)
    summary = dispatch.dispatch_destination(meta_key)
    assert (summary.resume_at, summary.delivered) == (None, 2)
    assert slept == [dispatch.RATE_LIMIT_WAIT_INLINE_SECONDS]


def test_a_dispatch_waits_for_its_own_accounts_bucket(meta_key, settings, clock, monkeypatch):
    """The bucket is the platform account's: drained by other work to that account, it
    holds this dispatch back too."""
    settings.PLATFORM_RATE_LIMITS = {**settings.PLATFORM_RATE_LIMITS, "meta": (0.01, 2.0)}
    account_bucket("meta", ORGANIZER_PIXEL, 0.01, 2.0).take(2.0)
    meta_sending(monkeypatch, lambda events: pytest.fail("a call past the account's rate"))
    summary = dispatch.dispatch_destination(meta_key)
    assert summary.resume_at is not None and summary.resume_at > clock.now
    assert {d.status for d in rows(meta_key).values()} == {DeliveryStatus.RETRYING}


@pytest.mark.parametrize("capacity", [1.0, 7.0])
def test_a_claim_sends_as_many_calls_as_the_bucket_holds(
    seven_orders, monkeypatch, settings, capacity
):
    """At the edges: a bucket of one call sends one, and a claim of exactly as many
    calls as the bucket holds sends them all."""
    settings.PLATFORM_RATE_LIMITS = {**settings.PLATFORM_RATE_LIMITS, "meta": (0.01, capacity)}
    sent: list[str] = []
    calls_on_threads(monkeypatch, sent.append)
    dispatch.dispatch_destination(seven_orders)
    assert len(sent) == int(capacity)
    result = states(seven_orders)
    assert [result.pop(event_id) for event_id in sent] == [(DeliveryStatus.DELIVERED, 1, 1)] * len(
        sent
    )
    assert set(result.values()) <= {(DeliveryStatus.RETRYING, 0, 0)}


def test_a_run_stopped_by_its_batch_cap_says_more_may_be_due(meta_key, monkeypatch):
    connector = meta_sending(monkeypatch, delivered)
    monkeypatch.setattr(connector, "max_batch_size", 1)
    monkeypatch.setattr(dispatch, "MAX_BATCHES_PER_RUN", 1)
    runs = [dispatch.dispatch_destination(meta_key) for _ in range(3)]
    assert [(run.batches, run.capped) for run in runs] == [(1, True), (1, True), (0, False)]


def test_a_batch_sent_in_one_call_is_sent_on_the_dispatching_thread(meta_key, monkeypatch):
    sent_on: list[int] = []

    def send(events):
        sent_on.append(threading.get_ident())
        return delivered(events)

    meta_sending(monkeypatch, send)
    dispatch.dispatch_destination(meta_key)
    assert sent_on == [threading.get_ident()]


def test_a_calls_log_records_how_long_the_call_took(meta_key, monkeypatch):
    ticks = iter([100.0, 101.5])  # the call's start and its answer, in seconds
    monotonic = SimpleNamespace(sleep=time.sleep, monotonic=lambda: next(ticks))
    monkeypatch.setattr(dispatch, "time", monotonic)
    meta_sending(monkeypatch, delivered)
    dispatch.dispatch_destination(meta_key)
    assert {d.last_batch.duration_ms for d in rows(meta_key).values()} == {1500}


# The window of calls in flight


def waits_for_answers(monkeypatch) -> list[int]:
    """How many calls had been handed to threads each time the dispatching thread
    waited for answers."""
    submitted: list[int] = []
    seen: list[int] = []

    class CountingPool(dispatch.ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            submitted.append(1)
            return super().submit(fn, *args, **kwargs)

    real_next_answers = dispatch._CallsAhead.next_answers

    def next_answers(self):
        seen.append(len(submitted))
        return real_next_answers(self)

    monkeypatch.setattr(dispatch, "ThreadPoolExecutor", CountingPool)
    monkeypatch.setattr(dispatch._CallsAhead, "next_answers", next_answers)
    return seen


@pytest.mark.parametrize(
    ("first_refused", "handed_out_by_the_second_wait"), [(False, 3), (True, 2)]
)
def test_the_window_starts_at_one_call_doubles_after_an_answer_and_shrinks_after_a_failure(
    seven_orders, monkeypatch, first_refused, handed_out_by_the_second_wait
):
    """The first call goes out alone (a platform that is down is probed once); after it
    succeeds two go out together, after it fails one again."""

    def send(event_id):
        if first_refused and event_id == "order-ord-0":
            raise PlatformError(ErrorKind.PERMANENT, "Invalid parameter", platform_code="100")

    calls_on_threads(monkeypatch, send)
    seen = waits_for_answers(monkeypatch)
    dispatch.dispatch_destination(seven_orders)
    assert seen[:2] == [1, handed_out_by_the_second_wait]


def test_calls_that_crash_together_are_all_retried(seven_orders, monkeypatch):
    def send(event_id):
        if event_id in ("order-ord-1", "order-ord-2"):  # in flight together, after ord-0
            raise RuntimeError("bug")

    calls_on_threads(monkeypatch, send)
    dispatch.dispatch_destination(seven_orders)
    result = {
        d.event_id: (d.status, d.last_error_code)
        for d in ConversionDelivery.objects.filter(destination_key=seven_orders)
    }
    assert result.pop("order-ord-0") == (DeliveryStatus.DELIVERED, "")
    assert set(result.values()) == {(DeliveryStatus.RETRYING, "internal_error")}


class AnswersTogether(queue.Queue):
    """A batch's messages, handing the answers of its second and third calls (in flight
    together) to the dispatching thread at once, the second's first."""

    def __init__(self) -> None:
        super().__init__()
        self.held: dict[int, object] = {}

    def put(self, message, block=True, timeout=None):
        if not (isinstance(message, dispatch._Answer) and message.index in (1, 2)):
            return super().put(message, block, timeout)
        with self.not_empty:
            self.held[message.index] = message
            if len(self.held) == 2:
                self.queue.extend([self.held[1], self.held[2]])
                self.not_empty.notify()
        return None


@pytest.mark.parametrize(
    ("second_call", "calls_per_record"),
    [("delivered", [1, 2]), ("throttled", [1, 2]), ("crashed", [1, 1])],
)
def test_an_answer_that_comes_in_with_another_is_recorded_whatever_the_other_was(
    seven_orders, monkeypatch, second_call, calls_per_record
):
    """Answers that came in together are recorded together (one statement), and the
    third call's success is recorded after the second call's success, throttle or crash."""

    def send(event_id):
        if event_id == "order-ord-1" and second_call == "throttled":
            raise PlatformError(ErrorKind.RATE_LIMITED, "slow down", retry_after_seconds=120)
        if event_id == "order-ord-1" and second_call == "crashed":
            raise RuntimeError("bug")

    calls_on_threads(monkeypatch, send)
    real_init = dispatch._CallsAhead.__init__

    def init(self, lease, connector):
        real_init(self, lease, connector)
        self.messages = AnswersTogether()

    monkeypatch.setattr(dispatch._CallsAhead, "__init__", init)
    recorded: list[int] = []
    real_record_calls = dispatch.record_calls

    def record_calls(calls, summary):
        recorded.append(len(calls))
        return real_record_calls(calls, summary)

    monkeypatch.setattr(dispatch, "record_calls", record_calls)
    dispatch.dispatch_destination(seven_orders)
    assert states(seven_orders)["order-ord-2"] == (DeliveryStatus.DELIVERED, 1, 1)
    assert recorded[:2] == calls_per_record


def test_a_call_that_asks_for_its_renewal_after_its_batch_was_abandoned_is_not_made(
    seven_orders, monkeypatch
):
    """Recording fails with the third call still to make: the dispatching thread gives
    the batch up, and the call's renewal, asked for after that, is refused."""
    sent: list[str] = []
    calls_on_threads(monkeypatch, sent.append)
    given_up = threading.Event()
    real_close = dispatch._CallsAhead.close

    def close(self):
        real_close(self)
        given_up.set()

    real_renewed = dispatch._CallsAhead._renewed

    def renewed(self, events):
        if events[0].event_id == "order-ord-2":
            given_up.wait(timeout=30)
        return real_renewed(self, events)

    real_record_calls = dispatch.record_calls

    def record_calls(calls, summary):
        if any(d.event_id == "order-ord-1" for call in calls for d in call.claimed):
            raise RuntimeError("recording failed")
        return real_record_calls(calls, summary)

    monkeypatch.setattr(dispatch._CallsAhead, "close", close)
    monkeypatch.setattr(dispatch._CallsAhead, "_renewed", renewed)
    monkeypatch.setattr(dispatch, "record_calls", record_calls)
    with pytest.raises(RuntimeError, match="recording failed"):
        dispatch.dispatch_destination(seven_orders)
    assert sorted(sent) == ["order-ord-0", "order-ord-1"]
