"""Probes for load balancers and Kubernetes, and the Prometheus scrape endpoint.

None of them needs a login: they reveal no tenant data (a dependency's name and an
error type at most). Restrict `/metrics` at the proxy if its numbers are private.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from usher.ops.checks import run_readiness_checks
from usher.ops.metrics import render_metrics


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering; touches nothing else (a liveness probe must not
    fail because the database is down, or every pod restarts at once)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Database, cache and broker reachable: 200, else 503 naming what is down."""
    results = run_readiness_checks()
    ready = all(result.ok for result in results)
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {result.name: result.detail for result in results},
        },
        status=200 if ready else 503,
    )


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
