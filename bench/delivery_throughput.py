"""Delivery with N Celery worker processes, against the sandbox run as its own server.

The production setup (DEBUG off): the sandbox under gunicorn (threads, keep-alive) on 127.0.0.1,
`celery worker -c N` (prefork) on PostgreSQL and Redis, platform rate limits lifted.
Browser events are on an event page with Meta, TikTok, Google Ads and GA4 codes, so each
one becomes four conversions (GA4 takes one HTTP call per visitor, the others batches).

- Throughput (default): `--events` events are stored at once, as collector requests of
  `--batch` would store them, each followed by what the collector does after its commit
  (queue the client's fan-out unless one is queued); then the workers fan out and
  deliver. Prints conversions/s from the first queued task to the last delivery.
- Latency (`--rate R --seconds S`): events arrive at a steady R per second in requests
  of `--batch`, each followed by the same; prints event→delivered percentiles.

Environment: `BENCH_DATABASE_URL` and `BENCH_REDIS_URL` (it empties that Redis database
first: give it one of its own).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from common import (
    PRODUCTION_ENVIRONMENT,
    ROOT,
    add_server_side_codes,
    browser_events,
    configure_environment,
    fresh_marketplace,
    load_average,
    percentile,
    prepare_database,
    setup_django,
    start_sandbox,
    wait_for_sandbox,
)

SANDBOX_PORT = 8864
SETTLE_LIMIT_SECONDS = 10 * 60
PROVIDERS = ["meta", "tiktok", "google_ads", "ga4"]


def start_workers(processes: int, var_dir: str) -> subprocess.Popen:
    """One Celery worker with `processes` prefork children on the default queue, once it
    answers a ping."""
    from usher.celery import app

    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "usher", "worker", "-c", str(processes)),
            *("-Q", "celery", "-n", f"bench-{os.getpid()}@%h", "--loglevel", "ERROR"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ],
        cwd=ROOT,
        start_new_session=True,
        env={**os.environ, "USHER_VAR_DIR": var_dir},
    )
    for _ in range(120):
        if app.control.ping(timeout=0.5):
            return worker
        time.sleep(0.5)
    os.killpg(worker.pid, signal.SIGKILL)
    raise SystemExit("the Celery worker did not start")


def stop_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000, help="throughput: events stored")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--batch", type=int, default=10, help="events per collector request")
    parser.add_argument("--rate", type=float, default=0, help="latency: events per second")
    parser.add_argument("--seconds", type=int, default=30, help="latency: how long they arrive")
    parser.add_argument(
        "--platforms", nargs="+", choices=PROVIDERS, default=PROVIDERS, help="codes on the page"
    )
    args = parser.parse_args()

    sandbox_url = f"http://127.0.0.1:{SANDBOX_PORT}"
    var_dir = tempfile.mkdtemp(prefix="usher-bench-")
    configure_environment(
        {
            **PRODUCTION_ENVIRONMENT,  # DEBUG off: no query log, as in production
            "SANDBOX_URL": sandbox_url,
            "USHER_VAR_DIR": var_dir,
            "LOG_LEVEL": "ERROR",
            # The bench measures Usher's pipeline, not the politeness limits.
            "PLATFORM_RATE_LIMITS": json.dumps({p: [10000, 10000] for p in PROVIDERS}),
        }
    )
    prepare_database()
    subprocess.run(
        ["redis-cli", "-u", os.environ["REDIS_URL"], "FLUSHDB"], check=True, capture_output=True
    )
    setup_django()

    from django.utils import timezone

    from usher.conversions.models import OPEN_STATUSES, ConversionDelivery, DeliveryStatus
    from usher.conversions.tasks import schedule_fan_out
    from usher.events.models import TrackingEvent
    from usher.tracking.models import EventTrackingCode

    client, organizer, event = fresh_marketplace("delivery")
    add_server_side_codes(organizer, "333333333333333")
    EventTrackingCode.objects.filter(organizer=organizer).exclude(
        provider__in=args.platforms
    ).delete()

    def collector_request(visitors: range) -> None:
        """What the collector does for a request: store, then queue the fan-out."""
        TrackingEvent.objects.bulk_create(browser_events(client, organizer, event, visitors, "d"))
        schedule_fan_out(client.pk)

    sandbox = start_sandbox(SANDBOX_PORT)
    worker = None
    loads = []
    try:
        wait_for_sandbox(sandbox_url)
        worker = start_workers(args.workers, var_dir)
        steady = args.rate > 0
        total = int(args.rate * args.seconds) if steady else args.events
        if not steady:  # stored before the workers see any of it; the clock starts after
            TrackingEvent.objects.bulk_create(
                browser_events(client, organizer, event, range(total), "d"), batch_size=1000
            )
        started = timezone.now()
        for first in range(0, total, args.batch):
            if steady:
                collector_request(range(first, min(total, first + args.batch)))
                pause = started.timestamp() + (first + args.batch) / args.rate - time.time()
                time.sleep(max(0.0, pause))
            else:
                schedule_fan_out(client.pk)  # one collector request's worth of events
        deliveries = ConversionDelivery.objects.filter(client=client)
        deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
        while time.monotonic() < deadline:
            loads.append(os.getloadavg()[0])
            pending = TrackingEvent.objects.filter(client=client, fanned_out_at__isnull=True)
            if not pending.exists() and not deliveries.filter(status__in=OPEN_STATUSES).exists():
                break
            time.sleep(0.25)
    finally:
        if worker is not None:
            stop_group(worker)
        stop_group(sandbox)

    rows = list(
        deliveries.values_list("provider", "status", "delivered_at", "tracking_event__received_at")
    )
    delivered = [row for row in rows if row[1] == DeliveryStatus.DELIVERED]
    expected = total * len(args.platforms)
    assert len(delivered) == expected, f"only {len(delivered)} of {expected} delivered"
    last_at = {
        p: max((at for provider, _, at, _ in delivered if provider == p), default=started)
        for p in args.platforms
    }
    per_provider = ", ".join(
        f"{p} {sum(1 for row in delivered if row[0] == p)} (last at {(at - started).total_seconds():.1f}s)"
        for p, at in last_at.items()
    )
    setup = (
        f"{args.workers} Celery worker processes, sandbox over HTTP on loopback, PostgreSQL + "
        f"Redis; load average {sum(loads) / max(1, len(loads)):.1f} (now {load_average()}) on "
        f"{os.cpu_count()} cores"
    )
    if steady:
        latencies = [(at - received).total_seconds() for _, _, at, received in delivered]
        print(
            f"delivery latency: {total} events at {args.rate:g}/s in requests of {args.batch}, "
            f"{expected} conversions; event→delivered p50 {percentile(latencies, 0.5):.2f}s, "
            f"p95 {percentile(latencies, 0.95):.2f}s, max {max(latencies):.2f}s; {setup}"
        )
        return
    duration = (max(last_at.values()) - started).total_seconds()
    print(
        f"delivery: {expected} conversions ({total} events x {len(args.platforms)} "
        f"destinations) in {duration:.1f}s = {expected / duration:,.0f} conversions/s; "
        f"per platform: {per_provider}; {setup}"
    )


if __name__ == "__main__":
    main()
