"""The daily refresh: 03:00 in each marketplace's time zone, each audience once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from usher.audiences.models import AudienceStatus, AudienceType, RemarketingAudience
from usher.audiences.services import due_audience_ids, ensure_standard_audience, refresh_audience
from usher.audiences.sync import audience_lock
from usher.audiences.tasks import refresh_audience_task, refresh_due_audiences_task
from usher.audiences.tests.helpers import buy
from usher.ops.models import JobOutcome, JobRun

pytestmark = pytest.mark.django_db

# 01:00 UTC on a winter day is 03:00 in Bucharest (UTC+2).
BUCHAREST_THREE_AM = datetime(2027, 1, 15, 1, 0, tzinfo=UTC)


def zone_at_three(now: datetime) -> str:
    """An Etc/GMT zone whose local hour is 3 at `now` (Etc/GMT-2 is UTC+2)."""
    offset = (3 - now.hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


def audience(event, **fields):
    found = ensure_standard_audience(event.organizer, "meta", AudienceType.TICKET_BUYERS)
    RemarketingAudience.objects.filter(pk=found.pk).update(**fields)
    return found


def test_audiences_are_due_at_three_in_the_marketplaces_time_zone(event):
    event.client.timezone = "Europe/Bucharest"
    event.client.save()
    found = audience(event)
    assert due_audience_ids(BUCHAREST_THREE_AM) == [found.pk]
    assert due_audience_ids(BUCHAREST_THREE_AM + timedelta(hours=2)) == []


@pytest.mark.parametrize(
    ("frequency", "built_hours_ago", "due"),
    [("daily", 2, False), ("daily", 23, True), ("weekly", 48, False), ("weekly", 7 * 24, True)],
)
def test_an_audience_built_recently_is_not_due_again(event, frequency, built_hours_ago, due):
    event.client.timezone = "Europe/Bucharest"
    event.client.save()
    found = audience(
        event,
        refresh_frequency=frequency,
        last_built_at=BUCHAREST_THREE_AM - timedelta(hours=built_hours_ago),
    )
    assert due_audience_ids(BUCHAREST_THREE_AM) == ([found.pk] if due else [])


@pytest.mark.parametrize("fields", [{"auto_refresh": False}, {"status": AudienceStatus.EXPIRED}])
def test_manual_and_expired_audiences_are_never_due(event, fields):
    event.client.timezone = "Europe/Bucharest"
    event.client.save()
    audience(event, **fields)
    assert due_audience_ids(BUCHAREST_THREE_AM) == []


def test_the_job_run_twice_sends_the_members_once(sandbox, codes, event, small_minimums):
    event.client.timezone = zone_at_three(timezone.now())
    event.client.save()
    for i in range(3):
        buy(event, f"b{i}@example.com")
    found = audience(event)

    refresh_due_audiences_task()
    refresh_due_audiences_task()

    found.refresh_from_db()
    assert found.status == AudienceStatus.ACTIVE
    posts = [r for r in sandbox.requests(platform="meta", path="/users") if r["method"] == "POST"]
    assert len(posts) == 1
    assert found.sync_logs.count() == 1
    runs = JobRun.objects.filter(job="refresh-audiences")
    assert [run.counts for run in runs.order_by("id")] == [{"queued": 1}, {"queued": 0}]


def test_a_refresh_while_another_worker_holds_the_audience_does_nothing(event):
    found = audience(event)
    with audience_lock(found.pk):
        refresh_audience(found.pk, timezone.now())
    found.refresh_from_db()
    assert found.last_built_at is None and not found.sync_logs.exists()
    refresh_audience(found.pk, timezone.now())
    found.refresh_from_db()
    assert found.last_built_at is not None


def test_an_audience_part_skips_while_another_run_holds_it_and_is_recorded(event):
    found = audience(event)
    now = timezone.now()
    JobRun.objects.create(
        job="refresh-audience",
        key=f"audience:{found.pk}",
        outcome=JobOutcome.RUNNING,
        started_at=now,
        lease_expires_at=now + timedelta(minutes=5),
    )
    refresh_audience_task(found.pk)
    found.refresh_from_db()
    assert found.last_built_at is None
    JobRun.objects.filter(outcome=JobOutcome.RUNNING).update(lease_expires_at=now)
    refresh_audience_task(found.pk)
    found.refresh_from_db()
    assert found.last_built_at is not None
    outcomes = JobRun.objects.filter(job="refresh-audience").order_by("pk")
    assert [run.outcome for run in outcomes] == [
        JobOutcome.LOST,
        JobOutcome.SKIPPED,
        JobOutcome.SUCCEEDED,
    ]
    assert outcomes.last().client_id == event.client_id
