"""Counters only one process sees: its outbound platform calls, the collector's events.

Kept apart from `metrics.py` (which reads the database) so the HTTP chokepoint and the
collector can import them at any time without loading models. With several processes
per machine (gunicorn workers, Celery prefork), set `PROMETHEUS_MULTIPROC_DIR` to a
directory they share; `/metrics` then adds them up.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PLATFORM_API_CALLS = Counter(
    "usher_platform_api_calls_total",
    "Outbound calls to ad platforms by outcome (ok, auth, rate_limited, transient, permanent).",
    ["platform", "outcome"],
)
PLATFORM_API_SECONDS = Histogram(
    "usher_platform_api_call_seconds",
    "Duration of outbound calls to ad platforms.",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
COLLECTOR_EVENTS = Counter(
    "usher_collector_events_total",
    "Browser events accepted by the collector (before deduplication of resent ids).",
)


def record_platform_call(platform: str, outcome: str, elapsed_ms: float) -> None:
    PLATFORM_API_CALLS.labels(platform, outcome).inc()
    PLATFORM_API_SECONDS.labels(platform).observe(elapsed_ms / 1000.0)
