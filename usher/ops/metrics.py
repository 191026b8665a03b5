"""Prometheus metrics at `/metrics`.

Two kinds, on purpose:
- What lives in the database is read from it at scrape time (queue depth, deliveries
  and their latency over the last minutes, job runs): every web process answers the
  same numbers whichever machine did the work, and nothing is lost when a worker dies.
- What only a process sees (its outbound platform calls, the collector's requests) is
  counted in-process with prometheus_client; with several processes per machine set
  `PROMETHEUS_MULTIPROC_DIR` so they share one directory and `/metrics` sums them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector

from usher.conversions.models import (
    OPEN_STATUSES,
    ConversionDelivery,
    DeliveryBatch,
    DeliveryStatus,
)
from usher.ops.models import JobOutcome, JobRun

# Window of the database-derived rates: recent enough to alert on, small enough to scan.
RECENT_WINDOW_MINUTES = 15
# Queued-to-delivered latency buckets, seconds (the goal is p95 under 60 s).
LATENCY_BUCKETS_SECONDS = (1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)


class DatabaseCollector(Collector):
    """Gauges computed from the tables at scrape time (a few indexed aggregates)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from _delivery_metrics()
        yield from _job_metrics()

    def describe(self) -> list:
        return []  # computed at scrape: nothing to check at registration


def _delivery_metrics() -> Iterator[GaugeMetricFamily]:
    now = timezone.now()
    due = GaugeMetricFamily(
        "usher_deliveries_due",
        "Conversion deliveries waiting to be sent now (queue depth), by platform.",
        labels=["platform"],
    )
    rows = (
        ConversionDelivery.objects.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING], next_attempt_at__lte=now
        )
        .values("provider")
        .annotate(n=Count("id"))
    )
    for row in rows:
        due.add_metric([row["provider"]], row["n"])
    yield due

    open_total = GaugeMetricFamily(
        "usher_deliveries_open",
        "Conversion deliveries not yet final, by status.",
        labels=["status"],
    )
    for row in (
        ConversionDelivery.objects.filter(status__in=OPEN_STATUSES)
        .values("status")
        .annotate(n=Count("id"))
    ):
        open_total.add_metric([row["status"]], row["n"])
    yield open_total

    since = now - timedelta(minutes=RECENT_WINDOW_MINUTES)
    outcomes = GaugeMetricFamily(
        "usher_delivery_outcomes_recent",
        f"Conversions sent in the last {RECENT_WINDOW_MINUTES} minutes, by platform and outcome.",
        labels=["platform", "outcome"],
    )
    for row in (
        DeliveryBatch.objects.filter(created_at__gte=since)
        .values("provider")
        .annotate(
            delivered=Sum("delivered_count"),
            rejected=Sum("rejected_count"),
            retry=Sum("retry_count"),
        )
    ):
        for outcome in ("delivered", "rejected", "retry"):
            outcomes.add_metric([row["provider"], outcome], row[outcome] or 0)
    yield outcomes

    latency = GaugeMetricFamily(
        "usher_delivery_latency_recent",
        f"Conversions delivered in the last {RECENT_WINDOW_MINUTES} minutes within `le` seconds "
        "of being queued (cumulative, like a histogram's buckets), by platform.",
        labels=["platform", "le"],
    )
    delivered = ConversionDelivery.objects.filter(
        status=DeliveryStatus.DELIVERED, delivered_at__gte=since
    )
    aggregates = {
        f"le_{bound}": Count(
            "id", filter=Q(delivered_at__lte=F("created_at") + timedelta(seconds=bound))
        )
        for bound in LATENCY_BUCKETS_SECONDS
    }
    for row in delivered.values("provider").annotate(total=Count("id"), **aggregates):
        for bound in LATENCY_BUCKETS_SECONDS:
            latency.add_metric([row["provider"], str(bound)], row[f"le_{bound}"])
        latency.add_metric([row["provider"], "+Inf"], row["total"])
    yield latency


def _job_metrics() -> Iterator[GaugeMetricFamily]:
    since = timezone.now() - timedelta(hours=24)
    runs = GaugeMetricFamily(
        "usher_job_runs_last_24h",
        "Scheduled job runs in the last 24 hours.",
        labels=["job", "outcome"],
    )
    for row in (
        JobRun.objects.filter(started_at__gte=since)
        .values("job", "outcome")
        .annotate(n=Count("id"))
    ):
        runs.add_metric([row["job"], row["outcome"]], row["n"])
    yield runs

    last = GaugeMetricFamily(
        "usher_job_last_finished_timestamp_seconds",
        "When each job last finished successfully (alert when it is too long ago).",
        labels=["job"],
    )
    for row in (
        JobRun.objects.filter(outcome=JobOutcome.SUCCEEDED)
        .values("job")
        .annotate(at=Max("finished_at"))
    ):
        last.add_metric([row["job"]], row["at"].timestamp())
    yield last


def render_metrics() -> bytes:
    """The exposition text: this process's (or all processes') counters, then the
    database gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
        parts = [generate_latest(registry)]
    else:
        parts = [generate_latest(REGISTRY)]
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    parts.append(generate_latest(database))
    return b"".join(parts)
