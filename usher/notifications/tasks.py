from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from usher.notifications import services, watch
from usher.ops.jobs import JobContext, run_job

EMAIL_RETRY_SECONDS = 300


@shared_task(
    autoretry_for=(OSError,),
    retry_backoff=EMAIL_RETRY_SECONDS,
    max_retries=12,
    acks_late=True,
)
def email_notification_task(notification_id: int) -> None:
    """SMTP trouble (OSError and its subclasses) retries with backoff for about a day."""
    services.send_email(notification_id)


# Watchers look at most this long; the next run picks up the rest.
WATCH_MAX_SECONDS = 240


@shared_task(acks_late=True)
def watch_task() -> None:
    """Turn failing deliveries and failing jobs into notices (each once per cause)."""

    def work(context: JobContext) -> None:
        now = timezone.now()
        context.counts["failing_codes"] = watch.notify_failing_codes(now)
        context.counts["failing_jobs"] = watch.notify_failing_jobs(now)

    run_job("notification-watchers", work, max_seconds=WATCH_MAX_SECONDS)
