"""/metrics exposes what operators alert on, read from the tables and the processes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from usher.conversions.models import ConversionDelivery, DeliveryStatus
from usher.conversions.tests.conftest import ingest_order
from usher.ops.models import JobOutcome, JobRun

pytestmark = pytest.mark.django_db


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition text, or None when absent."""
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:{{(.*)}})? (\S+)$", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(2))
    return None


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def test_delivered_conversions_and_their_latency_are_exposed(
    client,
    sandbox,
    ingest,
    wiring,
    django_capture_on_commit_callbacks,
):
    before = sample(scrape(client), "usher_platform_api_calls_total", platform="meta", outcome="ok")
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)

    text = scrape(client)

    # The organizer's pixel and the marketplace's own: two Meta conversions delivered.
    assert sample(text, "usher_delivery_outcomes_recent", platform="meta", outcome="delivered") == 2
    assert sample(text, "usher_delivery_outcomes_recent", platform="ga4", outcome="delivered") == 1
    assert sample(text, "usher_delivery_latency_recent", platform="meta", le="+Inf") == 2
    assert sample(text, "usher_delivery_latency_recent", platform="meta", le="60") == 2
    calls = sample(text, "usher_platform_api_calls_total", platform="meta", outcome="ok")
    assert calls - (before or 0) == 2


def test_queue_depth_counts_only_what_is_due(
    client,
    sandbox,
    ingest,
    wiring,
    django_capture_on_commit_callbacks,
):
    ingest_order(ingest, wiring, django_capture_on_commit_callbacks)
    now = timezone.now()
    ConversionDelivery.objects.filter(provider="meta").update(
        status=DeliveryStatus.RETRYING, next_attempt_at=now - timedelta(seconds=5)
    )
    ConversionDelivery.objects.filter(provider="tiktok").update(
        status=DeliveryStatus.RETRYING, next_attempt_at=now + timedelta(hours=1)
    )

    text = scrape(client)

    assert sample(text, "usher_deliveries_due", platform="meta") == 2
    assert sample(text, "usher_deliveries_due", platform="tiktok") is None
    assert sample(text, "usher_deliveries_open", status="retrying") == 3


def test_collected_browser_events_are_counted(
    client, marketplace, django_capture_on_commit_callbacks
):
    before = sample(scrape(client), "usher_collector_events_total") or 0
    body = {
        "events": [
            {"event_id": f"e-{n}", "name": "page_view", "visitor_id": "v-1"} for n in range(3)
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            f"/api/collect?site_key={marketplace.site_key}", body, content_type="application/json"
        )
    assert response.status_code == 202, response.content

    assert sample(scrape(client), "usher_collector_events_total") - before == 3


def test_job_runs_and_their_last_success_are_exposed(client):
    now = timezone.now()
    for outcome in (JobOutcome.SUCCEEDED, JobOutcome.SUCCEEDED, JobOutcome.FAILED):
        JobRun.objects.create(
            job="sync-campaign-metrics",
            outcome=outcome,
            started_at=now,
            lease_expires_at=now,
            finished_at=now,
        )

    text = scrape(client)

    assert (
        sample(text, "usher_job_runs_last_24h", job="sync-campaign-metrics", outcome="succeeded")
        == 2
    )
    assert (
        sample(text, "usher_job_runs_last_24h", job="sync-campaign-metrics", outcome="failed") == 1
    )
    last = sample(text, "usher_job_last_finished_timestamp_seconds", job="sync-campaign-metrics")
    assert last == pytest.approx(now.timestamp(), abs=1)
