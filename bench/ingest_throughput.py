"""Ingest throughput: batches of 500 orders (and events) through the ingest API.

Each round posts new batches (every item created), resends them unchanged (nothing may
be written) and sends them again with every order refunded (every item changed), through
the real view path (authentication, validation, upsert, commit) in this process.
Reports ms per batch, ms per item and SQL queries per batch for each kind of call.
Fan-out tasks are queued to the bench's Redis database; no worker runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from common import configure_environment, fresh_marketplace, prepare_database, setup_django


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=5, help="batches of each kind")
    parser.add_argument("--size", type=int, default=500, help="items per batch (max 500)")
    args = parser.parse_args()

    configure_environment({"ALLOWED_HOSTS": "testserver"})
    prepare_database()
    setup_django()
    from django.db import connection
    from django.test import Client

    client, organizer, event = fresh_marketplace("ingest")
    api_key = client.rotate_api_key()
    http = Client(headers={"Authorization": f"Bearer {api_key}"})

    def post(path: str, items: list[dict]) -> tuple[float, int]:
        queries = 0

        def count(execute, sql, params, many, context):
            nonlocal queries
            queries += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            started = time.perf_counter()
            response = http.post(path, json.dumps({"items": items}), "application/json")
            elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code} {response.content[:300]!r}")
        return elapsed, queries

    placed = datetime.now(UTC) - timedelta(hours=1)

    def order(external_id: str, status: str = "paid") -> dict:
        return {
            "external_id": external_id,
            "event_external_id": event.external_id,
            "value": "120.00",
            "currency": "RON",
            "status": status,
            "placed_at": placed.isoformat(),
            "customer": {"email": f"{external_id}@example.com", "phone": "+40722123456"},
            "attribution": {"visitor_id": f"v-{external_id}", "gclid": "EAIaIQobChMIbench01"},
            "lines": [
                {"ticket_type_id": "vip", "name": "VIP", "quantity": 1, "unit_price": "80.00"},
                {"ticket_type_id": "ga", "name": "General", "quantity": 1, "unit_price": "40.00"},
            ],
        }

    def events_batch(ids: list[str], name: str) -> list[dict]:
        starts = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        return [
            {
                "external_id": external_id,
                "organizer_external_id": organizer.external_id,
                "slug": external_id,
                "name": name,
                "starts_at": starts,
                "status": "published",
            }
            for external_id in ids
        ]

    results: dict[str, list[tuple[float, int]]] = {}

    def run(kind: str, path: str, make: Callable[[list[str]], list[dict]], ids: list[str]):
        results.setdefault(kind, []).append(post(path, make(ids)))

    for round_number in range(args.batches):
        tag = uuid.uuid4().hex[:8]
        order_ids = [f"o-{tag}-{i}" for i in range(args.size)]
        event_ids = [f"e-{tag}-{i}" for i in range(args.size)]
        path = "/api/ingest/orders/batch"
        run("orders: new", path, lambda ids: [order(i) for i in ids], order_ids)
        run("orders: resent unchanged", path, lambda ids: [order(i) for i in ids], order_ids)
        run(
            "orders: all refunded", path, lambda ids: [order(i, "refunded") for i in ids], order_ids
        )
        path = "/api/ingest/events/batch"
        run("events: new", path, lambda ids: events_batch(ids, "Show"), event_ids)
        run("events: resent unchanged", path, lambda ids: events_batch(ids, "Show"), event_ids)
        run("events: all renamed", path, lambda ids: events_batch(ids, "Renamed"), event_ids)
        print(f"round {round_number + 1}/{args.batches} done", flush=True)

    print(f"\n{args.batches} batches of {args.size} items per kind")
    print(f"{'kind':<26} {'ms/batch (median)':>18} {'ms/item':>8} {'queries/batch':>14}")
    for kind, runs in results.items():
        median = statistics.median(elapsed for elapsed, _ in runs) * 1000
        queries = max(count for _, count in runs)
        print(f"{kind:<26} {median:>18.0f} {median / args.size:>8.2f} {queries:>14}")


if __name__ == "__main__":
    main()
