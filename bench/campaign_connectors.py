"""Campaign connectors: publishing and metrics reads against the in-process sandbox.

For each platform, publishes N campaigns of two creatives on one ad account through the
real connectors and HTTP chokepoint (the sandbox mounted as an httpx transport, so no
network and no server), then reads the account's metrics over the sync's 3-day window
at the three levels, by the day (this sandbox has no hourly breakdown yet). Prints, per platform:
campaigns published per second, HTTP calls per publish, and the calls and time of one
metrics read of the whole account, which stays the same whatever N is. Management rate
limits are lifted: the bench measures Usher, not the politeness limits. No database.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta

import httpx
from common import ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--campaigns", type=int, default=200, help="campaigns per platform")
    args = parser.parse_args()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "usher.settings",
            "LOG_LEVEL": "WARNING",
            "PLATFORM_MANAGEMENT_RATE_LIMITS": json.dumps(
                {
                    p: {k: [10**9, 10**6] for k in ("publish", "write", "read", "metrics")}
                    for p in ("meta", "google_ads", "tiktok")
                }
            ),
        }
    )
    os.environ.pop("REDIS_URL", None)  # in-process buckets: nothing shared to measure
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    from usher.lib.http import set_transport_for_tests
    from usher.platforms.campaigns_base import MetricsLevel
    from usher.platforms.registry import get_campaigns_connector, get_insights_connector
    from usher.platforms.tests.campaign_helpers import ACCOUNTS, a_spec
    from usher.sandbox.testing import MOUNTED_BASE_URLS, MountedSandbox
    from usher.sandbox.transport import sandbox_transport

    class Counting(httpx.BaseTransport):
        """Counts the calls Usher makes (the sandbox's own log keeps the last 2,000)."""

        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner
            self.calls = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            self.calls += 1
            return self.inner.handle_request(request)

    settings.PLATFORM_BASE_URLS = MOUNTED_BASE_URLS
    print(f"campaigns per platform: {args.campaigns}, two creatives each, in-process sandbox")
    for platform in ("meta", "google_ads", "tiktok"):
        box = MountedSandbox()
        # The sandbox throttles as the platforms do; the bench lifts that too.
        box.control.post("/_sandbox/rate-limits", json={"platform": platform, "limit": None})
        counter = Counting(sandbox_transport(box.app))
        set_transport_for_tests(platform, counter)
        account = ACCOUNTS[platform]
        connector = get_campaigns_connector(platform)
        started = time.perf_counter()
        for n in range(args.campaigns):
            connector.publish(account, a_spec(reference=f"usher-c-{n + 1}"))
            if (n + 1) % 50 == 0:
                print(f"  {platform}: {n + 1} published", flush=True)
        publish_seconds = time.perf_counter() - started
        publish_calls = counter.calls
        insights = get_insights_connector(platform)
        day = a_spec().start_time.date()
        before = publish_calls
        started = time.perf_counter()
        rows = 0
        for level in MetricsLevel:
            rows += len(
                insights.fetch_metrics(
                    account, level=level, since=day - timedelta(days=2), until=day, hourly=False
                )
            )
        read_seconds = time.perf_counter() - started
        read_calls = counter.calls - before
        print(
            f"{platform}: {args.campaigns / publish_seconds:.1f} campaigns/s published, "
            f"{publish_calls / args.campaigns:.1f} calls per publish; one metrics read of the "
            f"account: {read_calls} calls, {rows} rows, {read_seconds * 1000:.0f} ms"
        )
        box.close()


if __name__ == "__main__":
    main()
