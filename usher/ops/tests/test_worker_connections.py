"""Celery workers keep their database connections across tasks, and replace one the
server dropped in between (usher/celery.py)."""

from __future__ import annotations

import psycopg
import pytest
from celery.signals import task_postrun, task_prerun
from django.db import connection, transaction

from usher.conversions.tasks import dispatch_due_task

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL backends"),
]


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def run_as_worker_task(work=backend_pid):
    """What a worker does around a task: the task signals, then the task's queries."""
    task_prerun.send(sender=dispatch_due_task, task_id="t", task=dispatch_due_task)
    try:
        return work()
    finally:
        task_postrun.send(sender=dispatch_due_task, task_id="t", task=dispatch_due_task)


def test_consecutive_tasks_share_one_database_connection():
    assert run_as_worker_task() == run_as_worker_task()


def test_a_connection_the_server_dropped_between_tasks_is_replaced():
    first = run_as_worker_task()
    settings = connection.get_connection_params()
    with psycopg.connect(
        **{k: v for k, v in settings.items() if k != "cursor_factory"}, autocommit=True
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [first])
    second = run_as_worker_task()  # no error: health-checked before its first query
    assert second != first


def test_an_eager_task_leaves_its_callers_transaction_alone():
    with transaction.atomic():
        before = backend_pid()
        dispatch_due_task.apply()  # eager: runs inside this transaction
        assert connection.in_atomic_block and backend_pid() == before


def test_celerys_django_fixup_is_told_to_keep_connections():
    from celery.fixups.django import DjangoWorkerFixup

    from usher.celery import app

    # Without it the fixup closes every connection before and after each task.
    assert DjangoWorkerFixup(app).db_reuse_max >= 100
