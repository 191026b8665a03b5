"""Event catalog syncs at scale: the first sync, a sync with nothing to send, and one
after a share of the events changed, per platform.

Creates N sellable events for a fresh marketplace in the bench database, turns on the
catalog of one ad account per platform, and syncs it through the real service,
connectors and HTTP chokepoint against the in-process sandbox (an httpx transport: no
network, no server). Prints, per run, the time, the HTTP calls and the SQL queries.
Management rate limits are lifted: the bench measures Usher, not the politeness limits.

    nice .venv/bin/python bench/catalog_sync.py --events 5000 --changed 0.01
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta
from decimal import Decimal

import httpx
from common import configure_environment, fresh_marketplace, prepare_database, setup_django

PLATFORM_SETTINGS = {
    "meta": ("act_1234567890", {"business_id": "5550001112"}),
    "google_ads": ("1234567890", {}),
    "tiktok": ("7000000000000000001", {"bc_id": "7001234567890123456", "catalog_region": "RO"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--changed", type=float, default=0.01, help="share changed before run 3")
    args = parser.parse_args()
    configure_environment(
        {
            "PLATFORM_MANAGEMENT_RATE_LIMITS": json.dumps(
                {p: {"catalog": [10**9, 10**6]} for p in PLATFORM_SETTINGS}
            ),
            "GOOGLE_ADS_DAILY_OPERATIONS": str(10**9),
        }
    )
    prepare_database()
    setup_django()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from usher.campaigns.models import AdAccount
    from usher.catalog import services
    from usher.lib.http import set_transport_for_tests
    from usher.marketplace.models import MarketplaceEvent
    from usher.sandbox.testing import MOUNTED_BASE_URLS, MountedSandbox
    from usher.sandbox.transport import sandbox_transport

    class Counting(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner
            self.calls = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            self.calls += 1
            return self.inner.handle_request(request)

    def timed(label: str, account_pk: int, counter: Counting) -> tuple:
        """One sync of the account: its time, HTTP calls, SQL queries and items sent."""
        counter.calls = 0
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            report = services.sync_feed(account_pk, timezone.now())
            elapsed = time.perf_counter() - started
        return label, elapsed, counter.calls, len(queries), report.sent

    settings.PLATFORM_BASE_URLS = MOUNTED_BASE_URLS
    client, organizer, _ = fresh_marketplace("catalog")
    starts = timezone.now() + timedelta(days=30)
    MarketplaceEvent.objects.bulk_create(
        MarketplaceEvent(
            client=client,
            organizer=organizer,
            external_id=f"core-{n}",
            slug=f"show-{n}",
            name=f"Show {n}",
            starts_at=starts + timedelta(hours=n % 500),
            venue="Arenele Romane",
            city="Bucharest",
            country="RO",
            genre="rock",
            public_url=f"https://tix.example/e/show-{n}",
            image_url=f"https://tix.example/img/show-{n}.jpg",
            price_min=Decimal("80.00"),
            price_max=Decimal("250.00"),
            tickets_left=100,
            currency="RON",
            status="published",
        )
        for n in range(args.events)
    )
    events = MarketplaceEvent.objects.filter(client=client).exclude(external_id="ev")
    changed = max(1, int(args.events * args.changed))
    print(f"{args.events:,} events, {changed:,} changed before the third sync")
    for platform, (account_id, extra) in PLATFORM_SETTINGS.items():
        box = MountedSandbox()
        box.control.post("/_sandbox/rate-limits", json={"platform": platform, "limit": None})
        counter = Counting(sandbox_transport(box.app))
        set_transport_for_tests(platform, counter)
        account = AdAccount(
            client=client,
            platform=platform,
            account_id=account_id,
            currency="RON",
            settings={"catalog": True, **extra},
            credential_kind="refresh_token" if platform == "google_ads" else "access_token",
        )
        account.set_credential("sandbox-bench")
        account.save()

        runs = [
            timed("first sync", account.pk, counter),
            timed("nothing changed", account.pk, counter),
        ]
        ids = list(events.order_by("pk").values_list("pk", flat=True)[:changed])
        MarketplaceEvent.objects.filter(pk__in=ids).update(price_min=Decimal("75.00"))
        runs.append(timed(f"{changed} changed", account.pk, counter))
        MarketplaceEvent.objects.filter(client=client).update(price_min=Decimal("80.00"))
        for label, elapsed, calls, query_count, sent in runs:
            print(
                f"  {platform:10s} {label:16s} {elapsed * 1000:9.0f} ms  {calls:5d} HTTP calls"
                f"  {query_count:4d} queries  {sent:6d} items sent"
            )
        box.close()


if __name__ == "__main__":
    main()
