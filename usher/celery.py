"""The Celery app. Tasks live in each app's tasks.py; the beat schedule lives in settings.

Database connections: Celery's Django fixup closes every connection before and after
each task, so a worker paid a new PostgreSQL connection (a backend process, TLS and
authentication in production) for every task, the cost of the task itself for the
short ones. `CELERY_DB_REUSE_MAX` (settings) lets it keep them; each task then treats
them as Django treats them for a request: closed if broken or past `CONN_MAX_AGE`, and
health-checked before their first query (`CONN_HEALTH_CHECKS`), so a connection the
server dropped between tasks is replaced, not used.
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "usher.settings")

app = Celery("usher")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect(weak=False, dispatch_uid="usher-task-database-connections-before")
@task_postrun.connect(weak=False, dispatch_uid="usher-task-database-connections-after")
def recycle_database_connections(task: object = None, **_: object) -> None:
    """Around each task, what Django does around each request (`close_old_connections`);
    not for eager tasks, which run inside their caller's transaction."""
    if getattr(getattr(task, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
