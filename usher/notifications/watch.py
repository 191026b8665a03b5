"""Watchers: periodic looks at the tables that turn a bad state into a notice.

Each is safe to run as often as beat likes: `notify` sends once per cause. The cause
keys carry the day where a problem that comes back tomorrow deserves a new notice: the
marketplace's day (its time zone), the day its people read their notices in.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, F, Max, Window
from django.db.models.functions import RowNumber

from usher.conversions.models import ConversionDelivery, DeliveryStatus
from usher.lib.timezones import local_date
from usher.marketplace.models import MarketplaceClient
from usher.notifications.models import NotificationKind
from usher.notifications.services import Notice, notify
from usher.ops.models import JobOutcome, JobRun
from usher.tracking.models import EventTrackingCode

# Deliveries refused within this window make a code "failing".
FAILING_WINDOW_HOURS = 1
# A job part failing this many times in a row alerts the marketplace's staff.
JOB_FAILURES_IN_A_ROW = 3
PANEL_TRACKING_CODES_PATH = "/panel/tracking-codes/"


def _local_day(now: datetime, client: MarketplaceClient) -> str:
    """The marketplace's date at `now`: in UTC, Bucharest's day turned at 02:00 local,
    and a code refused since the evening was told about twice in one working day."""
    return f"{local_date(now, client.timezone):%Y-%m-%d}"


def notify_failing_codes(now: datetime) -> int:
    """Tell organizers whose codes' conversions a platform refuses (permanent errors:
    a wrong pixel id, an expired token): at most one notice per code and day."""
    since = now - timedelta(hours=FAILING_WINDOW_HOURS)
    failing = (
        ConversionDelivery.objects.filter(
            status=DeliveryStatus.REJECTED,
            updated_at__gte=since,
            organizer_code__isnull=False,
        )
        .values("organizer_code")
        .annotate(refused=Count("id"), last_error=Max("last_error"))
    )
    codes = EventTrackingCode.objects.select_related("client").in_bulk(
        [row["organizer_code"] for row in failing]
    )
    sent = 0
    for row in failing:
        code = codes[row["organizer_code"]]
        notice = Notice(
            kind=NotificationKind.DELIVERIES_FAILING,
            cause_key=f"code:{code.pk}:{_local_day(now, code.client)}",
            title=f"{code.get_provider_display()} refuses your conversions",
            body=(
                f"{row['refused']} conversion(s) for {code.get_provider_display()} "
                f"{code.tag_id} were refused in the last hour: {row['last_error'] or 'no reason given'}. "
                "Check the code's settings and credentials."
            ),
            link=f"{PANEL_TRACKING_CODES_PATH}{code.pk}/",
        )
        if notify(code.client, notice, organizer=code.organizer):
            sent += 1
    return sent


def notify_failing_jobs(now: datetime) -> int:
    """Alert a marketplace's staff when a part of a job working for it (a budget's
    optimization, an audience's sync) failed its last runs in a row."""
    finished = (
        JobRun.objects.filter(client__isnull=False)
        .exclude(outcome__in=[JobOutcome.RUNNING, JobOutcome.SKIPPED])
        .annotate(
            recency=Window(
                RowNumber(),
                partition_by=[F("job"), F("key"), F("client")],
                order_by=[F("started_at").desc(), F("id").desc()],
            )
        )
        .filter(recency__lte=JOB_FAILURES_IN_A_ROW)
        .select_related("client")
        .order_by("job", "key", "client", "recency")
    )
    # Each part's last runs, newest first, in one query (the runs table grows all day).
    last_runs: dict[tuple[str, str, int], list[JobRun]] = defaultdict(list)
    for run in finished:
        last_runs[(run.job, run.key, run.client_id)].append(run)
    sent = 0
    for last in last_runs.values():
        if len(last) < JOB_FAILURES_IN_A_ROW or any(
            run.outcome == JobOutcome.SUCCEEDED for run in last
        ):
            continue
        latest = last[0]
        notice = Notice(
            kind=NotificationKind.JOB_FAILING,
            cause_key=f"job:{latest.job}:{latest.key}:{_local_day(now, latest.client)}",
            title=f"Job {latest.job} [{latest.key}] failed {JOB_FAILURES_IN_A_ROW} times in a row",
            body=f"Last error: {latest.error or 'none recorded'}",
            link="/admin/ops/jobrun/",
        )
        if notify(latest.client, notice):
            sent += 1
    return sent
