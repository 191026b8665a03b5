from datetime import timedelta

import pytest
from django.utils import timezone

from usher.ops.jobs import run_job
from usher.ops.models import JobOutcome, JobRun

pytestmark = pytest.mark.django_db


def test_a_run_is_recorded_with_its_counts():
    def work(context):
        context.counts["budgets"] += 3

    run = run_job("rebalance", work, max_seconds=60)

    run.refresh_from_db()
    assert run.outcome == JobOutcome.SUCCEEDED
    assert run.counts == {"budgets": 3}
    assert run.finished_at is not None and run.finished_at >= run.started_at


def test_a_failure_is_recorded_and_raised_again():
    def work(context):
        context.counts["done"] += 1
        raise RuntimeError("platform answered garbage")

    with pytest.raises(RuntimeError):
        run_job("metrics", work, max_seconds=60)

    run = JobRun.objects.get(job="metrics")
    assert run.outcome == JobOutcome.FAILED
    assert run.error == "RuntimeError: platform answered garbage"
    assert run.counts == {"done": 1}


def test_a_second_run_while_one_holds_the_lock_is_skipped_and_does_nothing():
    calls = []

    def inner(context):
        calls.append("inner")

    def outer(context):
        calls.append("outer")
        skipped = run_job("optimize", inner, key="budget:1", max_seconds=60)
        assert skipped.outcome == JobOutcome.SKIPPED

    run_job("optimize", outer, key="budget:1", max_seconds=60)

    assert calls == ["outer"]
    outcomes = sorted(JobRun.objects.values_list("outcome", flat=True))
    assert outcomes == [JobOutcome.SKIPPED, JobOutcome.SUCCEEDED]


def test_other_parts_of_a_job_run_side_by_side():
    calls = []

    def outer(context):
        run_job("optimize", lambda c: calls.append("budget 2"), key="budget:2", max_seconds=60)

    run_job("optimize", outer, key="budget:1", max_seconds=60)

    assert calls == ["budget 2"]


def test_a_run_whose_worker_died_frees_the_lock_after_its_lease():
    long_ago = timezone.now() - timedelta(hours=2)
    dead = JobRun.objects.create(
        job="audiences",
        outcome=JobOutcome.RUNNING,
        started_at=long_ago,
        lease_expires_at=long_ago + timedelta(minutes=30),
    )
    ran = []

    run = run_job("audiences", lambda context: ran.append(True), max_seconds=60)

    assert ran == [True] and run.outcome == JobOutcome.SUCCEEDED
    dead.refresh_from_db()
    assert dead.outcome == JobOutcome.LOST


def test_a_running_lock_within_its_lease_is_respected():
    now = timezone.now()
    JobRun.objects.create(
        job="audiences",
        outcome=JobOutcome.RUNNING,
        started_at=now,
        lease_expires_at=now + timedelta(minutes=30),
    )
    ran = []

    run = run_job("audiences", lambda context: ran.append(True), max_seconds=60)

    assert ran == [] and run.outcome == JobOutcome.SKIPPED


def test_the_work_sees_its_deadline():
    seen = {}

    def work(context):
        seen["left"] = context.time_left()
        seen["out"] = context.out_of_time

    run_job("sync", work, max_seconds=120)

    assert timedelta(seconds=100) < seen["left"] <= timedelta(seconds=120)
    assert seen["out"] is False
