"""A request id for every HTTP request and Celery task, carried into every log line.

The id comes from the proxy's `X-Request-ID` when it sends a sane one (so a load
balancer's id links its log to ours), else a new one; it is echoed in the response.
Celery tasks use their task id, so a delivery's log lines can be found by task.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
# Ids from outside are logged: only short, plain ones are taken (no log injection).
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")

current_request_id: ContextVar[str] = ContextVar("usher_request_id", default="")


def _incoming_id(request: HttpRequest) -> str:
    candidate = request.headers.get(REQUEST_ID_HEADER, "")
    return candidate if _SAFE_REQUEST_ID.match(candidate) else uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_request_id.set(_incoming_id(request))
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = current_request_id.get()
            return response
        finally:
            current_request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (empty outside a request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


def connect_celery_signals() -> None:
    """Give each task's log lines its task id as request id."""
    from celery.signals import task_postrun, task_prerun

    def _start(task_id: str | None = None, **_: object) -> None:
        current_request_id.set(task_id or "")

    def _end(**_: object) -> None:
        current_request_id.set("")

    task_prerun.connect(_start, weak=False, dispatch_uid="usher-request-id-start")
    task_postrun.connect(_end, weak=False, dispatch_uid="usher-request-id-end")
