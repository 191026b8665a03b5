"""Collector throughput against PostgreSQL COPY of the same rows, side by side.

Usher runs under gunicorn (sync workers, DEBUG off, PostgreSQL, Redis). For each batch
size, interleaved rounds alternate: (A) `--clients` HTTP connections post batches of
fresh events to `POST /api/collect` for `--seconds` (every 202 means the batch is
committed); (B) as many PostgreSQL connections COPY batches of the same rows (a row the
collector stored, with fresh event and visitor ids) into the same table, one committed
COPY per batch. Both count events durably stored per second; the ratio is the median of
the rounds' ratios.

The HTTP load comes from wrk (`--load-generator wrk`, the default, as for
tracking_config.py: `bench/collector_batches.lua` builds each batch), whose C client
costs the shared cores a few microseconds a request; `--load-generator python` posts
from Python threads (httpx), which cost about as much CPU per request as the worker
serving it (1.3-1.6 ms measured) and so measure the load generator as much as the
collector. Under wrk the stored rows are counted after each round: every 202 wrk
counted must be in the table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

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
WRK_SCRIPT = Path(__file__).with_name("collector_batches.lua")


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


def wrk_collector(
    site_key: str, slug: str, batch: int, clients: int, seconds: float
) -> tuple[float, float, float]:
    """Events/s wrk's `clients` connections had stored (every answer a 202, every event
    it counted found in the table), the round's p50 and p95 request latency (s), and the
    number of batches stored (including any whose answer came after wrk stopped)."""
    from usher.events.models import TrackingEvent

    nonce = uuid.uuid4().hex[:12]
    output = subprocess.run(
        [
            *("wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "-s", str(WRK_SCRIPT)),
            f"http://127.0.0.1:{PORT}/api/collect?site_key={site_key}",
            *("--", str(batch), slug, nonce),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        raise SystemExit(f"collector errors under load:\n{output}")
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    per_second = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    stored = TrackingEvent.objects.filter(event_id__startswith=f"wrk-{nonce}-").count()
    if stored < requests * batch:
        raise SystemExit(f"wrk counted {requests} batches of {batch}, {stored} events stored")
    p50, p95 = (float(v) for v in re.search(r"latency p50 ([\d.]+) p95 ([\d.]+)", output).groups())
    return per_second * batch, p50, p95, stored / batch


def python_collector(
    site_key: str, slug: str, batch: int, clients: int, seconds: float
) -> tuple[float, float, float]:
    """Events/s `clients` Python threads stored, the round's p50 and p95 (s), and its
    number of requests."""
    latencies: list[float] = []
    stored = run_clients(clients, seconds, collector_sender(site_key, slug, batch, latencies))
    return stored, percentile(latencies, 0.5), percentile(latencies, 0.95), len(latencies)


LOAD_GENERATORS = {"wrk": wrk_collector, "python": python_collector}


def workers_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time (user + system) the server's worker processes used so far: per request,
    a figure the machine's load barely moves, unlike a rate."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    ticks = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


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
    parser.add_argument("--load-generator", choices=sorted(LOAD_GENERATORS), default="wrk")
    args = parser.parse_args()

    env = production_setup()
    from django.db import connection

    from usher.events.models import TrackingEvent

    client, _, event = fresh_marketplace("collector")
    post_batches = LOAD_GENERATORS[args.load_generator]
    server = start_gunicorn(env, PORT, args.workers, args.threads)
    try:
        collector_sender(client.site_key, event.slug, 1, [])()  # the template row
        stored = TrackingEvent.objects.filter(client=client).get()
        table = TrackingEvent._meta.db_table
        fields = [f for f in TrackingEvent._meta.concrete_fields if not f.primary_key]
        columns = [f.column for f in fields]
        template = [getattr(stored, f.attname) for f in fields]
        connection.close()
        summary = []
        for batch in args.batches:
            results: dict[str, list[float]] = {"collector": [], "COPY": []}
            p50s, p95s, cpu_per_request = [], [], []
            for round_number in range(1, args.rounds + 1):
                cpu_before = workers_cpu_seconds(server)
                per_second, p50, p95, requests = post_batches(
                    client.site_key, event.slug, batch, args.clients, args.seconds
                )
                cpu_per_request.append((workers_cpu_seconds(server) - cpu_before) / requests)
                connection.close()
                results["collector"].append(per_second)
                p50s.append(p50)
                p95s.append(p95)
                results["COPY"].append(
                    run_clients(
                        args.clients, args.seconds, copy_sender(table, columns, template, batch)
                    )
                )
                print(
                    f"batch {batch}, round {round_number}/{args.rounds}: collector "
                    f"{results['collector'][-1]:,.0f} events/s, COPY {results['COPY'][-1]:,.0f}"
                    f" events/s; workers' CPU {cpu_per_request[-1] * 1000:.2f} ms a request"
                    f" (load {load_average()})",
                    flush=True,
                )
            collector, copy = (statistics.median(results[side]) for side in ("collector", "COPY"))
            ratio = median_ratio(results["collector"], results["COPY"])
            summary.append(
                f"  batches of {batch:>3}: collector {collector:7,.0f} events/s "
                f"(p50 {statistics.median(p50s) * 1000:.0f} ms, "
                f"p95 {statistics.median(p95s) * 1000:.0f} ms per request; workers' CPU "
                f"{statistics.median(cpu_per_request) * 1000:.2f} ms a request), "
                f"COPY {copy:7,.0f} events/s, ratio {ratio:.2f} "
                f"({'meets' if ratio >= GOALS.get(batch, 0) else 'below'} the goal "
                f"{GOALS.get(batch, '-')})"
            )
    finally:
        stop(server)
    print(
        f"\ncollector vs COPY: gunicorn {args.workers} sync workers, DEBUG off, PostgreSQL + "
        f"Redis, {args.clients} HTTP ({args.load_generator}) / PostgreSQL connections, "
        f"{args.rounds} interleaved rounds of "
        f"{args.seconds:g} s per side; ratios are medians of the rounds' ratios"
    )
    print("\n".join(summary))


if __name__ == "__main__":
    main()
