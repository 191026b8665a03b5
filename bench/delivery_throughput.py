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

from common import (
    ROOT,
    add_server_side_codes,
    browser_events,
    configure_environment,
    fresh_marketplace,
    prepare_database,
    setup_django,
    wait_for_sandbox,
)

PORT = 8766


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

    from usher.conversions import dispatch, fanout
    from usher.conversions.models import ConversionDelivery, DeliveryStatus
    from usher.events.models import TrackingEvent

    client, organizer, event = fresh_marketplace("delivery")
    add_server_side_codes(organizer, "333333333333333")

    TrackingEvent.objects.bulk_create(
        browser_events(client, organizer, event, range(args.events), "bench"), batch_size=1000
    )
    event_ids = list(TrackingEvent.objects.filter(client=client).values_list("event_id", flat=True))

    sandbox = subprocess.Popen(
        [sys.executable, "-m", "usher.sandbox", "--port", str(PORT)], cwd=ROOT
    )
    try:
        wait_for_sandbox(sandbox_url)
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


if __name__ == "__main__":
    main()
