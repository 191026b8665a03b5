"""Celery tasks of the audiences: the hourly look for marketplaces at 03:00 local time,
and one task per audience (build + sync), safe to run twice (a per-audience lock, and a
diff that is empty once sent)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from usher.audiences import services
from usher.audiences.models import RemarketingAudience
from usher.conversions.outcomes import backoff_seconds
from usher.ops.jobs import JobContext, run_job
from usher.platforms.base import PlatformError

logger = logging.getLogger("usher.audiences")

MAX_SYNC_RETRIES = 6
QUEUE_DUE_MAX_SECONDS = 10 * 60  # finding and queueing the due audiences; well under an hour


@shared_task(ignore_result=True)
def refresh_due_audiences_task() -> None:
    """Hourly: audiences of marketplaces where it is now 03:00, one task each (a run
    recorded for staff, and skipped while another holds the job)."""

    def work(context: JobContext) -> None:
        ids = services.due_audience_ids(timezone.now())
        for audience_id in ids:
            refresh_audience_task.delay(audience_id)
        context.counts["queued"] += len(ids)
        logger.info("audience refresh: %d audiences due", len(ids))

    run_job("refresh-audiences", work, max_seconds=QUEUE_DUE_MAX_SECONDS)


# One audience's build and sync; its Celery time limit frees a worker a platform holds.
REFRESH_MAX_SECONDS = 20 * 60


@shared_task(
    bind=True,
    ignore_result=True,
    max_retries=MAX_SYNC_RETRIES,
    soft_time_limit=REFRESH_MAX_SECONDS,
    time_limit=REFRESH_MAX_SECONDS + 60,
)
def refresh_audience_task(self, audience_id: int) -> None:
    """One audience, recorded as a part of the refresh job (key `audience:<id>`): a
    second run while one holds it skips; a failure is recorded before the retry."""
    client_id = (
        RemarketingAudience.objects.filter(pk=audience_id)
        .values_list("client_id", flat=True)
        .first()
    )

    def work(context: JobContext) -> None:
        services.refresh_audience(audience_id, timezone.now())
        context.counts["refreshed"] += 1

    try:
        run_job(
            "refresh-audience",
            work,
            key=f"audience:{audience_id}",
            max_seconds=REFRESH_MAX_SECONDS,
            client_id=client_id,
        )
    except PlatformError as error:  # only transient ones get here (see sync.py)
        countdown = error.retry_after_seconds or backoff_seconds(self.request.retries + 1)
        raise self.retry(exc=error, countdown=countdown) from error
