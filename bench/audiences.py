"""Audience builders at scale: the ORM's set-based query against hand-written SQL.

Generates N browser events (and one paid order per 50 events) for one marketplace with
COPY into a database of its own (`usher_bench_audiences`), then times, on the same
data, each builder's query and a hand-written SQL query for the same set, checks both
return the same members, and prints the ratio (builder time / hand-written time).

    nice .venv/bin/python bench/audiences.py --events 1000000
    nice .venv/bin/python bench/audiences.py --events 10000000 --reuse   # keep the data

Times are the median of `--repeat` warm runs (the first run is discarded).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

os.environ.setdefault(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/usher_bench_audiences"
)
from common import configure_environment, fresh_marketplace, prepare_database, setup_django

NAMES = (
    ("page_view", 40),
    ("view_item", 30),
    ("add_to_cart", 15),
    ("begin_checkout", 10),
    ("purchase", 5),
)
EVENTS_PER_ORDER = 50
DAYS_OF_HISTORY = 120
EVENT_PAGES = 200
ORGANIZERS = 20
COPY_CHUNK_ROWS = 200_000
BIG_EVENT_SHARE = 0.05  # the timed event: a large one, 5 % of all traffic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="time the data already loaded")
    args = parser.parse_args()

    configure_environment()
    prepare_database()
    setup_django()
    from django.db import connection

    if args.reuse and _loaded(connection):
        event, organizer = _reuse()
    else:
        event, organizer = _generate(args.events)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_trackingevent")
        total = cursor.fetchone()[0]
    print(f"event store: {total:,} events; timing {args.repeat} warm runs each", flush=True)
    results = [
        _compare("retargeting (event viewers minus buyers, 30 d)", *_retargeting(event), args),
        _compare("cart abandoners (event, 30 d, min 2 actions)", *_cart_abandoners(event), args),
        _compare("ticket buyers (organizer, Meta form, 540 d)", *_buyers(organizer), args),
        _compare("website visitors (organizer, 30 d)", *_website_visitors(organizer), args),
    ]
    print("\nsummary")
    for label, builder_ms, hand_ms, size in results:
        print(
            f"  {label:50s} {size:>9,} members  builder {builder_ms:9.1f} ms  "
            f"hand-written {hand_ms:9.1f} ms  ratio {builder_ms / hand_ms:5.2f}"
        )


# --- the three builders and their hand-written twins ---


def _audience(organizer, event, audience_type: str, criteria: dict):
    from usher.audiences.models import RemarketingAudience

    return RemarketingAudience(
        client_id=organizer.client_id,
        organizer=organizer,
        event=event,
        platform="meta",
        audience_type=audience_type,
        name="bench",
        criteria=criteria,
    )


def _retargeting(event):
    from usher.audiences.criteria import Criteria

    criteria = Criteria(source_events=("page_view", "view_item"), exclude_purchasers=True)
    return _event_visitors(event, "event_viewers", criteria)


def _cart_abandoners(event):
    from usher.audiences.criteria import Criteria

    criteria = Criteria(
        source_events=("add_to_cart", "begin_checkout"), exclude_purchasers=True, min_actions=2
    )
    return _event_visitors(event, "cart_abandoners", criteria)


def _event_visitors(event, audience_type: str, criteria):
    """An event's visitors minus its buyers: the builder, and the same set written by hand."""
    from usher.audiences.builders import visitor_query

    audience = _audience(event.organizer, event, audience_type, criteria.to_json())
    now = datetime.now(UTC)

    def builder() -> set:
        return set(visitor_query(audience, criteria, now))

    sql = """
        SELECT e.visitor_id FROM events_trackingevent e
        WHERE e.client_id = %(client)s AND e.marketplace_event_id = %(event)s
          AND e.name = ANY(%(names)s) AND e.occurred_at >= %(since)s
          AND e.consent @> '{"ad_personalization": true}' AND e.visitor_id <> ''
          AND NOT EXISTS (SELECT 1 FROM events_trackingevent p
                          WHERE p.client_id = %(client)s AND p.marketplace_event_id = %(event)s
                            AND p.name = 'purchase' AND p.visitor_id = e.visitor_id)
          AND NOT EXISTS (SELECT 1 FROM marketplace_order o
                          WHERE o.client_id = %(client)s AND o.organizer_id = %(organizer)s
                            AND o.event_id = %(event)s AND o.status = 'paid'
                            AND o.visitor_id = e.visitor_id)
        GROUP BY e.visitor_id HAVING count(*) >= %(min_actions)s
    """
    params = {
        "client": event.client_id,
        "event": event.pk,
        "organizer": event.organizer_id,
        "names": list(criteria.source_events),
        "since": now - timedelta(days=criteria.time_window_days),
        "min_actions": criteria.min_actions,
    }
    return builder, lambda: _raw_set(sql, params)


def _website_visitors(organizer):
    from usher.audiences.builders import visitor_query
    from usher.audiences.criteria import Criteria

    criteria = Criteria(source_events=("page_view", "view_item"))
    audience = _audience(organizer, None, "website_visitors", criteria.to_json())
    now = datetime.now(UTC)

    def builder() -> set:
        return set(visitor_query(audience, criteria, now))

    sql = """
        SELECT e.visitor_id FROM events_trackingevent e
        WHERE e.client_id = %(client)s AND e.organizer_id = %(organizer)s
          AND e.name IN ('page_view', 'view_item') AND e.occurred_at >= %(since)s
          AND e.consent @> '{"ad_personalization": true}' AND e.visitor_id <> ''
        GROUP BY e.visitor_id
    """
    params = {
        "client": organizer.client_id,
        "organizer": organizer.pk,
        "since": now - timedelta(days=30),
    }
    return builder, lambda: _raw_set(sql, params)


def _buyers(organizer):
    from usher.audiences.builders import buyer_query
    from usher.audiences.criteria import Criteria

    criteria = Criteria(source_events=("purchase",), time_window_days=540)
    audience = _audience(organizer, None, "ticket_buyers", criteria.to_json())
    now = datetime.now(UTC)

    def builder() -> dict:
        return dict(buyer_query(audience, criteria, now))  # what build_audience does

    sql = """
        SELECT DISTINCT ON (k) k, hashed_user_data #> '{audiences,meta}'
        FROM (
          SELECT o.id, o.hashed_user_data,
                 COALESCE(NULLIF(o.hashed_user_data #>> '{audiences,meta,email}', ''),
                          NULLIF(o.hashed_user_data #>> '{audiences,meta,phone}', '')) AS k
          FROM marketplace_order o
          WHERE o.client_id = %(client)s AND o.organizer_id = %(organizer)s
            AND o.status = 'paid' AND o.placed_at >= %(since)s
            AND o.consent @> '{"ad_personalization": true}'
        ) keyed
        WHERE k IS NOT NULL
        ORDER BY k, id DESC
    """
    params = {
        "client": organizer.client_id,
        "organizer": organizer.pk,
        "since": now - timedelta(days=540),
    }
    return builder, lambda: _raw_dict(sql, params)


def _raw_set(sql: str, params: dict) -> set:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _raw_dict(sql: str, params: dict) -> dict:
    """Member key -> identifiers (decoded JSON), as the builder returns them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {
            key: json.loads(ids) if isinstance(ids, str) else ids for key, ids in cursor.fetchall()
        }


def _compare(label: str, builder, hand, args) -> tuple[str, float, float, int]:
    built, written = builder(), hand()  # warm-up, and the two must agree
    if built != written:
        sys.exit(
            f"{label}: the builder found {len(built)} members, hand-written SQL {len(written)}"
        )
    builder_ms = _median_ms(builder, args.repeat)
    hand_ms = _median_ms(hand, args.repeat)
    print(
        f"{label}: {len(built):,} members, builder {builder_ms:.1f} ms, "
        f"hand-written {hand_ms:.1f} ms, ratio {builder_ms / hand_ms:.2f}",
        flush=True,
    )
    return label, builder_ms, hand_ms, len(built)


def _median_ms(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


# --- data ---


def _loaded(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_trackingevent")
        return cursor.fetchone()[0] > 0


def _reuse():
    from usher.marketplace.models import MarketplaceEvent

    event = (
        MarketplaceEvent.objects.filter(slug="bench-event").select_related("organizer").latest("id")
    )
    return event, event.organizer


def _generate(total: int):
    """One marketplace, ORGANIZERS organizers with EVENT_PAGES pages; `total` events."""
    from django.db import connection
    from django.utils import timezone

    from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE events_trackingevent, marketplace_order CASCADE")
    client, organizer, event = fresh_marketplace("audiences")
    organizers = [organizer] + [
        MarketplaceOrganizer.objects.create(client=client, external_id=f"org-{i}", name=f"O{i}")
        for i in range(1, ORGANIZERS)
    ]
    pages = [event] + [
        MarketplaceEvent.objects.create(
            client=client,
            organizer=organizers[i % ORGANIZERS],
            external_id=f"ev-{i}",
            slug=f"page-{i}",
            name=f"Page {i}",
            starts_at=timezone.now() + timedelta(days=30),
            currency="RON",
            status="published",
        )
        for i in range(1, EVENT_PAGES)
    ]
    rng = random.Random(7)
    names = [name for name, weight in NAMES for _ in range(weight)]
    visitors = max(1000, total // 8)
    now = datetime.now(UTC)
    started = time.perf_counter()
    columns = (
        "client_id, marketplace_event_id, organizer_id, event_id, name, occurred_at, "
        "received_at, visitor_id, consent, content_ids, currency, order_external_id, fbp, "
        "ttp, ga_client_id, page_url, user_agent, fbc, gclid, gbraid, wbraid, ttclid, "
        "utm_source, utm_medium, utm_campaign, utm_content, utm_term"
    )
    granted, refused = '{"ad_personalization": true}', '{"ad_personalization": false}'
    with connection.cursor() as cursor:
        # Bulk load: secondary indexes are dropped and built once at the end (minutes
        # instead of maintaining five B-trees row by row).
        indexes = _secondary_indexes(cursor, "events_trackingevent")
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        for start in range(0, total, COPY_CHUNK_ROWS):
            buffer = io.StringIO()
            for n in range(start, min(total, start + COPY_CHUNK_ROWS)):
                page = pages[0] if rng.random() < BIG_EVENT_SHARE else rng.choice(pages)
                when = now - timedelta(seconds=rng.randrange(DAYS_OF_HISTORY * 86400))
                consent = granted if rng.random() < 0.8 else refused
                buffer.write(
                    f"{client.pk}\t{page.pk}\t{page.organizer_id}\tbench-{n}\t{rng.choice(names)}\t"
                    f"{when.isoformat()}\t{when.isoformat()}\tv{rng.randrange(visitors)}\t"
                    f"{consent}\t[]\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n"
                )
            buffer.seek(0)
            with cursor.cursor.copy(f"COPY events_trackingevent ({columns}) FROM STDIN") as copy:
                copy.write(buffer.read())
            done = min(total, start + COPY_CHUNK_ROWS)
            print(
                f"  events {done:,}/{total:,} ({time.perf_counter() - started:.0f} s)", flush=True
            )
        for name, definition in indexes:
            print(f"  index {name}", flush=True)
            cursor.execute(definition)
        _copy_orders(cursor, client, pages, total // EVENTS_PER_ORDER, visitors, rng, now)
        print("  analyze", flush=True)
        cursor.execute("ANALYZE events_trackingevent; ANALYZE marketplace_order")
    return event, organizer


def _secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's indexes that back no constraint."""
    cursor.execute(
        """
        SELECT i.indexname, i.indexdef FROM pg_indexes i
        WHERE i.tablename = %s
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
        """,
        [table],
    )
    return list(cursor.fetchall())


def _copy_orders(cursor, client, pages, count, visitors, rng, now) -> None:
    columns = (
        "client_id, organizer_id, event_id, external_id, value, currency, tickets_count, status, "
        "placed_at, hashed_user_data, customer_country, visitor_id, fbp, ttp, user_agent, consent, "
        "created_at, updated_at, fbc, gclid, gbraid, wbraid, ttclid, utm_source, utm_medium, "
        "utm_campaign, utm_content, utm_term"
    )
    buffer = io.StringIO()
    for n in range(count):
        page = pages[0] if rng.random() < BIG_EVENT_SHARE else rng.choice(pages)
        when = now - timedelta(seconds=rng.randrange(DAYS_OF_HISTORY * 86400))
        buyer = rng.randrange(max(1, count // 2))  # about two orders per buyer
        email = hashlib.sha256(f"buyer{buyer}@example.com".encode()).hexdigest()
        hashed = json.dumps({"audiences": {"meta": {"email": email}}})
        consent = json.dumps({"ad_personalization": rng.random() < 0.8})
        buffer.write(
            f"{client.pk}\t{page.organizer_id}\t{page.pk}\tbench-order-{n}\t120.00\tRON\t2\tpaid\t"
            f"{when.isoformat()}\t{hashed}\tRO\tv{rng.randrange(visitors)}\t\t\t\t{consent}\t"
            f"{now.isoformat()}\t{now.isoformat()}\t\t\t\t\t\t\t\t\t\t\n"
        )
    buffer.seek(0)
    with cursor.cursor.copy(f"COPY marketplace_order ({columns}) FROM STDIN") as copy:
        copy.write(buffer.read())
    print(f"  orders {count:,}", flush=True)


if __name__ == "__main__":
    main()
