"""Delivery throughput: conversions/s from the outbox to the sandbox over real HTTP.

The sandbox runs as its own HTTP server on 127.0.0.1; N browser events on a page with
Meta, TikTok, Google Ads and GA4 codes are stored, fanned out, then every destination
is dispatched in this process through `usher.lib.http`, as a Celery worker would.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid

import httpx
from common import ROOT, configure_environment, fresh_marketplace, prepare_database, setup_django

PORT = 8766
ALL_EVENTS = ["page_view", "view_item", "add_to_cart", "begin_checkout", "purchase"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    args = parser.parse_args()

    sandbox_url = f"http://127.0.0.1:{PORT}"
    configure_environment(
        {
            "SANDBOX_URL": sandbox_url,
            # The bench measures Usher's pipeline, not the politeness limits.
            "PLATFORM_RATE_LIMITS": json.dumps(
                {p: [10000, 10000] for p in ["meta", "google_ads", "tiktok", "ga4"]}
            ),
        }
    )
    prepare_database()
    setup_django()
    from django.utils import timezone

    from usher.conversions import dispatch, fanout
    from usher.conversions.models import ConversionDelivery, DeliveryStatus
    from usher.events.models import TrackingEvent
    from usher.tracking import services as tracking

    client, organizer, event = fresh_marketplace("delivery")
    for provider, settings in {
        "meta": {"pixel_id": "333333333333333", "access_token": "sandbox-bench"},
        "tiktok": {"pixel_code": "BENCHAAAAAAAAAAAAAAA", "access_token": "sandbox-bench"},
        "google_ads": {
            "conversion_id": "AW-123456789",
            "customer_id": "1234567890",
            "conversion_actions": {"view_item": "111"},
            "refresh_token": "sandbox-bench",
        },
        "ga4": {"measurement_id": "G-BENCH123", "api_secret": "sandbox-bench"},
    }.items():
        tracking.create_code(
            organizer,
            tracking.CodeInput(
                provider=provider, settings={"conversion_events": ALL_EVENTS, **settings}
            ),
        )

    now = timezone.now()
    TrackingEvent.objects.bulk_create(
        [
            TrackingEvent(
                client=client,
                marketplace_event=event,
                organizer=organizer,
                event_id=f"bench-{uuid.uuid4().hex}",
                name="view_item",
                occurred_at=now,
                visitor_id=f"v{i}",
                page_url="https://bench.example/events/bench-event",
                ip_address="203.0.113.10",
                user_agent="Mozilla/5.0 (bench)",
                gclid=f"Cj0KCQiA{uuid.uuid4().hex}",
                consent={"ad_storage": True, "ad_user_data": True},
            )
            for i in range(args.events)
        ],
        batch_size=1000,
    )
    event_ids = list(TrackingEvent.objects.filter(client=client).values_list("event_id", flat=True))

    sandbox = subprocess.Popen(
        [sys.executable, "-m", "usher.sandbox", "--port", str(PORT)], cwd=ROOT
    )
    try:
        _wait_for(sandbox_url)
        started = time.monotonic()
        keys = set()
        for chunk in range(0, len(event_ids), 1000):
            keys |= fanout.fan_out_tracking_events(client.pk, event_ids[chunk : chunk + 1000])
        fanned = time.monotonic() - started
        for key in sorted(keys):
            while dispatch.dispatch_destination(key).batches:
                pass
        duration = time.monotonic() - started
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    deliveries = ConversionDelivery.objects.filter(client=client)
    delivered = deliveries.filter(status=DeliveryStatus.DELIVERED).count()
    per_provider = {
        p: deliveries.filter(provider=p, status=DeliveryStatus.DELIVERED).count()
        for p in ["meta", "tiktok", "google_ads", "ga4"]
    }
    assert delivered == deliveries.count(), f"only {delivered} of {deliveries.count()} delivered"
    print(
        f"delivery: {delivered} conversions ({args.events} events x 4 destinations) in {duration:.1f}s "
        f"= {delivered / duration:,.0f} conversions/s (fan-out {fanned:.1f}s); per platform {per_provider}; "
        "sandbox over HTTP on loopback, PostgreSQL + Redis"
    )


def _wait_for(url: str) -> None:
    for _ in range(100):
        try:
            httpx.get(f"{url}/_sandbox/requests", params={"limit": 1}, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("sandbox did not start")


if __name__ == "__main__":
    main()
