"""The staff dashboards at scale: how long each page takes and how many queries it runs
with many campaigns, on PostgreSQL.

Loads, into a database of its own (`usher_bench_staff`), one marketplace with
`--organizers` organizers, `--campaigns` live campaigns spread over them and the three
platforms, `--days` days of hourly campaign metrics each, an attributed order per
campaign and day, and three deliveries per order; then renders each staff page as a
staff user of that marketplace `--repeat` times (the first run is discarded) and prints
the median time and the number of queries. The load ends with ANALYZE, as autovacuum
would after it: without statistics PostgreSQL plans nested loops over the whole load.

    nice .venv/bin/python bench/staff_dashboards.py --campaigns 500 --days 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta
from decimal import Decimal

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/usher_bench_staff")
from common import configure_environment, fresh_marketplace, prepare_database, setup_django

PLATFORMS = ("meta", "google_ads", "tiktok")
KINDS = ("prospecting", "retargeting", "lookalike", "dynamic_remarketing")
PAGES = (
    "/admin/staff/",
    "/admin/staff/approvals/",
    "/admin/staff/log/",
    "/admin/staff/deliveries/",
)
BATCH_ROWS = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--organizers", type=int, default=50)
    parser.add_argument("--campaigns", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    configure_environment()
    prepare_database()
    setup_django()
    started = time.perf_counter()
    client, rows = load(args.organizers, args.campaigns, args.days)
    print(f"loaded {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    print("| page | median | queries |")
    print("| --- | ---: | ---: |")
    for path, median, queries in time_pages(client, args.repeat):
        print(f"| {path} | {median * 1000:.0f} ms | {queries} |", flush=True)


def load(organizers: int, campaigns: int, days: int):
    """The marketplace's rows, written with bulk inserts; returns the client and the
    number of metrics, attribution and delivery rows."""
    from django.db import connection
    from django.utils import timezone

    from usher.campaigns.models import (
        AdAccount,
        AdCampaignBudget,
        AutomatedCampaign,
        CampaignAttribution,
        CampaignMetrics,
    )
    from usher.conversions.models import ConversionDelivery
    from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer, Order

    client, _, _ = fresh_marketplace("staff")
    now = timezone.now()
    accounts = [
        AdAccount.objects.create(
            client=client, platform=p, account_id=f"{p}-1", currency="RON", timezone="UTC"
        )
        for p in PLATFORMS
    ]
    owners = MarketplaceOrganizer.objects.bulk_create(
        MarketplaceOrganizer(client=client, external_id=f"o{n}", name=f"Organizer {n}")
        for n in range(organizers)
    )
    events = MarketplaceEvent.objects.bulk_create(
        MarketplaceEvent(
            client=client,
            organizer=o,
            external_id=f"e{n}",
            slug=f"e{n}",
            name=f"Event {n}",
            starts_at=now + timedelta(days=30),
            currency="RON",
        )
        for n, o in enumerate(owners)
    )
    budgets = AdCampaignBudget.objects.bulk_create(
        AdCampaignBudget(
            client=client,
            organizer=o,
            event=events[n],
            requested_amount=Decimal(10_000),
            total_budget=Decimal(10_000),
            spent_budget=Decimal(2_000),
            currency="RON",
            status="active",
        )
        for n, o in enumerate(owners)
    )
    live = AutomatedCampaign.objects.bulk_create(
        AutomatedCampaign(
            budget=budgets[n % organizers],
            client=client,
            organizer=owners[n % organizers],
            event=events[n % organizers],
            ad_account=accounts[n % 3],
            platform=PLATFORMS[n % 3],
            campaign_type=KINDS[n // (3 * organizers) % 4],
            name=f"Campaign {n}",
            status="active" if n % 10 else "pending_review",
        )
        for n in range(campaigns)
    )
    today = now.date()
    metrics = (
        CampaignMetrics(
            campaign=c,
            level="campaign",
            object_id=str(c.pk),
            date=today - timedelta(days=d),
            hour=h,
            impressions=100,
            clicks=4,
            spend=Decimal("1.25"),
            conversions=Decimal("0.1"),
            conversion_value=Decimal("15"),
        )
        for c in live
        for d in range(days)
        for h in range(24)
    )
    rows = len(CampaignMetrics.objects.bulk_create(metrics, batch_size=BATCH_ROWS))
    orders = Order.objects.bulk_create(
        (
            Order(
                client=client,
                organizer_id=c.organizer_id,
                event_id=c.event_id,
                external_id=f"{c.pk}-{d}",
                value=Decimal(150),
                currency="RON",
                tickets_count=2,
                placed_at=now - timedelta(days=d),
            )
            for c in live
            for d in range(days)
        ),
        batch_size=BATCH_ROWS,
    )
    by_order = {f"{c.pk}-{d}": c for c in live for d in range(days)}
    rows += len(
        CampaignAttribution.objects.bulk_create(
            (
                CampaignAttribution(
                    order=o,
                    campaign=by_order[o.external_id],
                    matched_by="fbc",
                    value=o.value,
                    currency="RON",
                )
                for o in orders
            ),
            batch_size=BATCH_ROWS,
        )
    )
    rows += len(
        ConversionDelivery.objects.bulk_create(
            (
                ConversionDelivery(
                    client=client,
                    organizer_id=o.organizer_id,
                    destination_key=f"{p}-{o.organizer_id}",
                    provider=p,
                    event_id=f"purchase-{o.pk}",
                    event_name="purchase",
                    order=o,
                    status=("delivered", "rejected", "retrying")[o.pk % 3],
                    next_attempt_at=now,
                )
                for o in orders
                for p in PLATFORMS
            ),
            batch_size=BATCH_ROWS,
        )
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would after such a load: real plans
    return client, rows


def time_pages(client, repeat: int):
    """(path, median seconds, queries) per page, rendered by Django's test client."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from usher.marketplace.models import User

    user = User.objects.create_user(f"bench-{client.slug}", client=client, is_staff=True)
    browser = Client()
    browser.force_login(user)
    for path in PAGES:
        times = []
        for _ in range(repeat + 1):
            with CaptureQueriesContext(connection) as queries:
                begun = time.perf_counter()
                response = browser.get(path)
                times.append(time.perf_counter() - begun)
            assert response.status_code == 200, (path, response.status_code)
        yield path, statistics.median(times[1:]), len(queries)


if __name__ == "__main__":
    main()
