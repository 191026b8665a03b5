"""Readiness checks: can this process reach what it needs to serve and to work?

Each check answers (ok, detail) quickly and never raises: a probe that hangs or 500s
tells a load balancer less than one that says which dependency is down. Details name
the failing part and the error's type only — never a URL with its password.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection

from usher.celery import app as celery_app

BROKER_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool = True
    detail: str = "ok"


def check_database() -> CheckResult:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        return CheckResult("database", False, type(error).__name__)
    return CheckResult("database")


def check_cache() -> CheckResult:
    key = f"readyz:{uuid.uuid4().hex}"
    try:
        cache.set(key, "1", timeout=10)
        found = cache.get(key)
        cache.delete(key)
    except Exception as error:
        return CheckResult("cache", False, type(error).__name__)
    if found != "1":
        return CheckResult("cache", False, "written value not read back")
    return CheckResult("cache")


def check_broker() -> CheckResult:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS
            )
    except Exception as error:
        return CheckResult("broker", False, type(error).__name__)
    return CheckResult("broker")


READINESS_CHECKS: tuple[Callable[[], CheckResult], ...] = (
    check_database,
    check_cache,
    check_broker,
)


def run_readiness_checks() -> list[CheckResult]:
    return [check() for check in READINESS_CHECKS]
