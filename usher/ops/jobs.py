"""Run a scheduled job (or one part of it) under a lock, and record the run.

Every periodic job goes through `run_job`: a second run of the same (job, key) while
one is going on is skipped with a log line and a `skipped` row, so beat firing twice,
a slow run overlapping the next tick, or two beat processes by mistake cannot do the
work twice; the lock is a row in the database, so it holds across machines. A run
that dies with its worker keeps the lock only until its lease (the job's time bound)
passes. Outcomes, counts and errors land in `JobRun` for staff to see.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from usher.lib.timezones import zone_named
from usher.marketplace.models import MarketplaceClient
from usher.ops.models import JobOutcome, JobRun

logger = logging.getLogger(__name__)

# A failed run keeps this much of its error for the admin (tracebacks stay in the logs).
MAX_ERROR_CHARS = 2000


@dataclass
class JobContext:
    """What the work sees: counters to fill, and the time it must be done by."""

    deadline: datetime
    counts: Counter[str] = field(default_factory=Counter)

    def time_left(self) -> timedelta:
        return self.deadline - timezone.now()

    @property
    def out_of_time(self) -> bool:
        """True once the job's time bound has passed: stop and leave the rest for the
        next run rather than overlap it."""
        return self.time_left() <= timedelta(0)


def run_job(
    job: str,
    work: Callable[[JobContext], None],
    *,
    key: str = "",
    max_seconds: float,
    client_id: int | None = None,
) -> JobRun:
    """Run `work` unless another run of (job, key) holds the lock; return the run's row.

    An exception in `work` is recorded (outcome `failed`, the message kept) and raised
    again, so Celery logs and counts it like any failed task.
    """
    run = _acquire(job, key, max_seconds, client_id)
    if run.outcome == JobOutcome.SKIPPED:
        logger.info("job %s%s skipped: another run holds the lock", job, _part(key))
        return run
    context = JobContext(deadline=run.lease_expires_at)
    try:
        work(context)
    except Exception as error:
        _finish(run, JobOutcome.FAILED, context, f"{type(error).__name__}: {error}")
        raise
    _finish(run, JobOutcome.SUCCEEDED, context)
    return run


def _acquire(job: str, key: str, max_seconds: float, client_id: int | None) -> JobRun:
    now = timezone.now()
    run = _try_lock(job, key, max_seconds, client_id, now)
    if run is None:
        # The lock is held. A running row past its lease belongs to a worker that died:
        # release its lock and try once more (only then: most runs find the lock free,
        # so they skip this write).
        lost = JobRun.objects.filter(
            job=job, key=key, outcome=JobOutcome.RUNNING, lease_expires_at__lt=now
        ).update(outcome=JobOutcome.LOST, finished_at=now)
        if lost:
            run = _try_lock(job, key, max_seconds, client_id, now)
    if run is not None:
        return run
    return JobRun.objects.create(
        job=job,
        key=key,
        client_id=client_id,
        outcome=JobOutcome.SKIPPED,
        started_at=now,
        lease_expires_at=now,
        finished_at=now,
    )


def _try_lock(
    job: str, key: str, max_seconds: float, client_id: int | None, now: datetime
) -> JobRun | None:
    """The running row that is the (job, key) lock, or None if another run holds it."""
    try:
        with transaction.atomic():
            return JobRun.objects.create(
                job=job,
                key=key,
                client_id=client_id,
                outcome=JobOutcome.RUNNING,
                started_at=now,
                lease_expires_at=now + timedelta(seconds=max_seconds),
            )
    except IntegrityError:
        return None


def _finish(run: JobRun, outcome: str, context: JobContext, error: str = "") -> None:
    run.outcome = outcome
    run.finished_at = timezone.now()
    run.counts = dict(context.counts)
    run.error = error[:MAX_ERROR_CHARS]
    run.save(update_fields=["outcome", "finished_at", "counts", "error"])
    logger.info(
        "job %s%s %s in %.1f s %s",
        run.job,
        _part(run.key),
        outcome,
        run.duration_seconds or 0.0,
        dict(context.counts),
    )


def _part(key: str) -> str:
    return f" [{key}]" if key else ""


def succeeded_since(job: str, key: str, since: datetime) -> bool:
    """Whether a run of (job, key) succeeded since `since`: a daily or hourly part done
    already this period is not done again when beat fires twice or a message is
    redelivered. (The key stays the same across periods, so a part that keeps failing
    shows as failures in a row to the watchers.)"""
    return JobRun.objects.filter(
        job=job, key=key, outcome=JobOutcome.SUCCEEDED, started_at__gte=since
    ).exists()


def client_zone(client: MarketplaceClient) -> ZoneInfo:
    """The marketplace's time zone (UTC if its name is unknown to this machine)."""
    return zone_named(client.timezone)


def clients_at_local_hour(now: datetime, hour: int) -> list[MarketplaceClient]:
    """Active marketplaces where it is now `hour` o'clock: an hourly beat entry runs a
    daily job at each marketplace's own time of day."""
    return [
        client
        for client in MarketplaceClient.objects.filter(is_active=True).order_by("pk")
        if now.astimezone(client_zone(client)).hour == hour
    ]
