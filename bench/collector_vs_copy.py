"""Collector throughput against PostgreSQL COPY of the same rows, side by side.

Usher runs under gunicorn (sync workers, DEBUG off, PostgreSQL, Redis). For each batch
size, interleaved rounds alternate: (A) `--clients` HTTP clients post batches to
`POST /api/collect` for `--seconds` (every 202 means the batch is committed); (B) as
many PostgreSQL connections COPY batches of the same rows (a row the collector stored,
with fresh event and visitor ids) into the same table, one committed COPY per batch.
Both count events durably stored per second; the ratio is of the medians over rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable

import httpx
from common import (
    BENCH_DATABASE_URL,
    collector_batch,
    fresh_marketplace,
    load_average,
    median_ratio,
    percentile,
    production_setup,
    side_by_side_arguments,
    start_gunicorn,
    stop,
)

PORT = 8768
GOALS = {10: 0.25, 50: 0.4}


def run_clients(clients: int, seconds: float, send_batch: Callable[[], int]) -> float:
    """Events/s stored by `clients` threads calling `send_batch` until the deadline."""
    stored = [0] * clients
    deadline = time.monotonic() + seconds

    def run(index: int) -> None:
        while time.monotonic() < deadline:
            stored[index] += send_batch()

    started = time.monotonic()
    threads = [threading.Thread(target=run, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(stored) / (time.monotonic() - started)


def collector_sender(site_key: str, slug: str, batch: int, latencies: list[float]):
    local = threading.local()

    def send() -> int:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=f"http://127.0.0.1:{PORT}", timeout=10)
        events = collector_batch(slug, batch)
        started = time.perf_counter()
        answer = local.http.post(
            f"/api/collect?site_key={site_key}",
            content=json.dumps({"events": events}),
            headers={"Content-Type": "application/json"},
        )
        latencies.append(time.perf_counter() - started)
        if answer.status_code != 202:
            raise SystemExit(f"collector answered {answer.status_code}: {answer.text[:200]}")
        return batch

    return send


def copy_sender(table: str, columns: list[str], template: list, batch: int):
    """One connection per thread; each call COPYs and commits `batch` copies of the
    template row with fresh event and visitor ids."""
    import psycopg
    from psycopg.types.json import Jsonb

    local = threading.local()
    event_id_at, visitor_at = columns.index("event_id"), columns.index("visitor_id")
    base = [Jsonb(value) if isinstance(value, dict | list) else value for value in template]
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"

    def send() -> int:
        if not hasattr(local, "connection"):
            local.connection = psycopg.connect(BENCH_DATABASE_URL)
        with local.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for _ in range(batch):
                row = list(base)
                row[event_id_at] = f"copy-{uuid.uuid4().hex}"
                row[visitor_at] = f"v-{uuid.uuid4().hex[:16]}"
                copy.write_row(row)
        local.connection.commit()
        return batch

    return send


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, nargs="+", default=[10, 50])
    side_by_side_arguments(parser, rounds=5, seconds=3.0)
    parser.add_argument("--clients", type=int, default=4, help="HTTP clients = connections")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    args = parser.parse_args()

    env = production_setup()
    from django.db import connection

    from usher.events.models import TrackingEvent

    client, _, event = fresh_marketplace("collector")
    server = start_gunicorn(env, PORT, args.workers, args.threads)
    try:
        latencies: list[float] = []
        collector_sender(client.site_key, event.slug, 1, latencies)()  # the template row
        stored = TrackingEvent.objects.filter(client=client).get()
        table = TrackingEvent._meta.db_table
        fields = [f for f in TrackingEvent._meta.concrete_fields if not f.primary_key]
        columns = [f.column for f in fields]
        template = [getattr(stored, f.attname) for f in fields]
        connection.close()
        summary = []
        for batch in args.batches:
            results: dict[str, list[float]] = {"collector": [], "COPY": []}
            latencies.clear()
            for round_number in range(1, args.rounds + 1):
                results["collector"].append(
                    run_clients(
                        args.clients,
                        args.seconds,
                        collector_sender(client.site_key, event.slug, batch, latencies),
                    )
                )
                results["COPY"].append(
                    run_clients(
                        args.clients, args.seconds, copy_sender(table, columns, template, batch)
                    )
                )
                print(
                    f"batch {batch}, round {round_number}/{args.rounds}: collector "
                    f"{results['collector'][-1]:,.0f} events/s, COPY {results['COPY'][-1]:,.0f}"
                    f" events/s (load {load_average()})",
                    flush=True,
                )
            collector, copy = (statistics.median(results[side]) for side in ("collector", "COPY"))
            ratio = median_ratio(results["collector"], results["COPY"])
            summary.append(
                f"  batches of {batch:>3}: collector {collector:7,.0f} events/s "
                f"(p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
                f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms per request), "
                f"COPY {copy:7,.0f} events/s, ratio {ratio:.2f} "
                f"({'meets' if ratio >= GOALS.get(batch, 0) else 'below'} the goal "
                f"{GOALS.get(batch, '-')})"
            )
    finally:
        stop(server)
    print(
        f"\ncollector vs COPY: gunicorn {args.workers} sync workers, DEBUG off, PostgreSQL + "
        f"Redis, {args.clients} clients / connections, {args.rounds} interleaved rounds of "
        f"{args.seconds:g} s per side; ratios are medians of the rounds' ratios"
    )
    print("\n".join(summary))


if __name__ == "__main__":
    main()
