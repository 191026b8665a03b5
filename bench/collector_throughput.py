"""Collector throughput: events/s through `POST /api/collect` into PostgreSQL.

Usher is served by gunicorn (sync workers) on 127.0.0.1; concurrent HTTP clients post
batches for a fixed time. Only loopback traffic, bounded in time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time

import httpx
from common import (
    ROOT,
    collector_batch,
    configure_environment,
    fresh_marketplace,
    percentile,
    prepare_database,
    setup_django,
)

PORT = 8765


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--batch", type=int, default=10, help="events per request")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    args = parser.parse_args()

    # No Celery worker runs here: fan-out tasks queue up in the bench's Redis database.
    # All load comes from one address here, so the per-IP flood limit is lifted.
    env = configure_environment(
        {
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-secret",
            "USHER_ENCRYPTION_KEYS": "Xw4sgVzE2N1kBqxUB1Qd9gK0vZ0Yl1S2lJw1dJ0n1ZY=",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
            "COLLECTOR_REQUESTS_PER_IP_PER_MINUTE": "100000000",
            "COLLECTOR_REQUESTS_PER_SITE_KEY_PER_MINUTE": "100000000",
        }
    )
    prepare_database()
    setup_django()
    from usher.events.models import TrackingEvent

    client, _, event = fresh_marketplace("collector")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "usher.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        _wait_for_server()
        latencies: list[float] = []
        sent = [0]
        lock = threading.Lock()
        deadline = time.monotonic() + args.seconds

        def run() -> None:
            with httpx.Client(base_url=f"http://127.0.0.1:{PORT}", timeout=10) as http:
                while time.monotonic() < deadline:
                    events = collector_batch(event.slug, args.batch)
                    started = time.perf_counter()
                    answer = http.post(
                        f"/api/collect?site_key={client.site_key}",
                        content=json.dumps({"events": events}),
                        headers={"Content-Type": "application/json"},
                    )
                    elapsed = time.perf_counter() - started
                    if answer.status_code != 202:
                        raise SystemExit(
                            f"collector answered {answer.status_code}: {answer.text[:200]}"
                        )
                    with lock:
                        latencies.append(elapsed)
                        sent[0] += len(events)

        started = time.monotonic()
        threads = [threading.Thread(target=run) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        duration = time.monotonic() - started
        stored = TrackingEvent.objects.filter(client=client).count()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert stored == sent[0], f"stored {stored} of {sent[0]} events"
    print(
        f"collector: {stored} events in {duration:.1f}s = {stored / duration:,.0f} events/s "
        f"({len(latencies) / duration:,.0f} requests/s of {args.batch} events; "
        f"latency p50 {percentile(latencies, 0.5) * 1000:.1f} ms, p95 {percentile(latencies, 0.95) * 1000:.1f} ms; "
        f"{args.clients} clients, {args.workers} gunicorn workers, PostgreSQL + Redis)"
    )


def _wait_for_server() -> None:
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{PORT}/api/openapi.json", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not start")


if __name__ == "__main__":
    main()
