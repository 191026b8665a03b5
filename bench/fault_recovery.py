"""Delivery under faults: event→delivered latency with 30% of platform calls failing and
one Celery worker killed mid-run.

The production setup of the delivery benchmarks (DEBUG off; the sandbox under gunicorn
with threads and keep-alive, `common.start_sandbox`); a fault proxy in this process
sits between Usher and it, keeping Usher's connections alive as the platforms do, and,
for a share of the calls (`--fault-rate`), arms one of the sandbox's own faults just
before forwarding the call: a 5xx, the platform's throttling answer, a call slower than
Usher's HTTP timeout, or a connection dropped without an answer — so every fault has
the platform's real shape. Two Celery workers and beat run as in production
(PostgreSQL, Redis broker). Browser events are stored and fanned out at a
steady rate; half-way through, one worker is killed with SIGKILL (its leased rows and
queued messages die with it). The run waits until every delivery is settled and
reports the latency from the event's arrival to its delivery, and what was lost.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from common import (
    PRODUCTION_ENVIRONMENT,
    ROOT,
    add_server_side_codes,
    browser_events,
    configure_environment,
    fresh_marketplace,
    percentile,
    prepare_database,
    start_sandbox,
    wait_for_sandbox,
)

SANDBOX_PORT = 8767
# Slow faults hold a sandbox thread past Usher's timeout; enough threads that the calls
# queued behind them are not the bottleneck.
SANDBOX_THREADS = 64
PROXY_PORT = 8768
FAULT_MODES = ["5xx", "429", "slow", "drop"]
PLATFORM_PREFIXES = {"meta": "meta", "google-ads": "google_ads", "tiktok": "tiktok", "ga4": "ga4"}
SETTLE_LIMIT_SECONDS = 15 * 60  # give up waiting for stragglers after this


class FaultProxy(BaseHTTPRequestHandler):
    """Forwards to the sandbox; arms a sandbox fault for a share of the platform calls.
    HTTP/1.1: a connection stays open across calls (HTTP/1.0, the default, closes each
    one, a TCP connect per platform call that production never pays)."""

    protocol_version = "HTTP/1.1"
    sandbox = f"http://127.0.0.1:{SANDBOX_PORT}"
    fault_rate = 0.3
    slow_seconds = 12.0
    injected: Counter = Counter()
    calls = 0
    lock = threading.Lock()
    client = httpx.Client(timeout=120)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        platform = PLATFORM_PREFIXES.get(self.path.lstrip("/").split("/", 1)[0])
        if platform is not None and not self.path.startswith("/google-oauth"):
            with FaultProxy.lock:
                FaultProxy.calls += 1
            if random.random() < self.fault_rate:
                mode = random.choice(FAULT_MODES)
                with FaultProxy.lock:
                    FaultProxy.injected[mode] += 1
                self.client.post(
                    f"{self.sandbox}/_sandbox/faults",
                    json={
                        "platform": platform,
                        "mode": mode,
                        "count": 1,
                        "delay_seconds": self.slow_seconds if mode == "slow" else 0,
                    },
                ).raise_for_status()
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}
        }
        try:
            answer = self.client.request(
                self.command, f"{self.sandbox}{self.path}", content=body, headers=headers
            )
        except httpx.TransportError:  # the sandbox dropped the call: drop ours too
            self.close_connection = True
            return
        try:
            self.send_response(answer.status_code)
            for key, value in answer.headers.items():
                if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)
        except OSError:  # Usher gave up first (its timeout): nobody is listening
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60, help="how long events arrive")
    parser.add_argument("--rate", type=float, default=10, help="browser events per second")
    parser.add_argument("--batch", type=int, default=5, help="events per collector request")
    parser.add_argument("--fault-rate", type=float, default=0.3)
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (one is killed)")
    parser.add_argument("--concurrency", type=int, default=12, help="processes per worker")
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="usher-bench-")
    configure_environment(
        {
            **PRODUCTION_ENVIRONMENT,  # DEBUG off: no query log, as in production
            "SANDBOX_URL": f"http://127.0.0.1:{PROXY_PORT}",
            "USHER_VAR_DIR": var_dir,
            "LOG_LEVEL": "ERROR",
        }
    )
    prepare_database()
    import django

    django.setup()
    from django.db.models import Count

    from usher.conversions.models import OPEN_STATUSES, ConversionDelivery, DeliveryStatus
    from usher.conversions.tasks import schedule_fan_out
    from usher.events.models import TrackingEvent

    subprocess.run(
        ["redis-cli", "-u", os.environ["REDIS_URL"], "FLUSHDB"], check=True, capture_output=True
    )
    from usher.marketplace.models import MarketplaceClient

    # Earlier runs' rows would be retried by this run's workers: start from none.
    MarketplaceClient.objects.filter(slug__startswith="faults-").delete()
    client, organizer, event = fresh_marketplace("faults")
    add_server_side_codes(organizer, "444444444444444")

    FaultProxy.fault_rate = args.fault_rate
    proxy = ThreadingHTTPServer(("127.0.0.1", PROXY_PORT), FaultProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    processes: list[subprocess.Popen] = []

    def spawn(command: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(command, cwd=ROOT, start_new_session=True)
        processes.append(process)
        return process

    processes.append(start_sandbox(SANDBOX_PORT, threads=SANDBOX_THREADS))
    celery = [sys.executable, "-m", "celery", "-A", "usher"]
    workers = [
        spawn(
            [
                *celery,
                "worker",
                "-n",
                f"w{n}@%h",
                "-c",
                str(args.concurrency),
                "--loglevel",
                "ERROR",
            ]
        )
        for n in range(args.workers)
    ]
    spawn([*celery, "beat", "--loglevel", "ERROR", "-s", os.path.join(var_dir, "beat")])
    try:
        wait_for_sandbox(f"http://127.0.0.1:{SANDBOX_PORT}")
        time.sleep(5)  # workers up
        total = int(args.seconds * args.rate)
        print(
            f"faults: {total} browser events over {args.seconds}s, {args.fault_rate:.0%} of "
            f"platform calls faulted, {args.workers} workers (one killed half-way)",
            flush=True,
        )
        started = time.monotonic()
        killed_leases: int | None = None
        for first in range(0, total, args.batch):
            if killed_leases is None and first >= total // 2:
                killed_leases = ConversionDelivery.objects.filter(
                    client=client, status=DeliveryStatus.SENDING
                ).count()
                os.killpg(workers[0].pid, signal.SIGKILL)
                print(f"  killed worker 0 at {time.monotonic() - started:.0f}s", flush=True)
            visitors = range(first, min(total, first + args.batch))
            TrackingEvent.objects.bulk_create(
                browser_events(client, organizer, event, visitors, "faults")
            )
            # As the collector does: a fan-out of the pending events, unless one is queued.
            schedule_fan_out(client.pk)
            time.sleep(max(0.0, started + (first + args.batch) / args.rate - time.monotonic()))
        deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
        loads: list[float] = []
        deliveries = ConversionDelivery.objects.filter(client=client)
        while time.monotonic() < deadline:
            open_count = deliveries.filter(status__in=OPEN_STATUSES).count()
            unfanned = TrackingEvent.objects.filter(client=client, fanned_out_at__isnull=True)
            loads.append(os.getloadavg()[0])
            print(
                f"  {time.monotonic() - started:4.0f}s open deliveries {open_count}, "
                f"events not fanned out {unfanned.count()}, load average {loads[-1]:.1f}",
                flush=True,
            )
            if open_count == 0 and not unfanned.exists():
                break
            time.sleep(5)
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        proxy.shutdown()

    rows = list(
        deliveries.values_list("status", "delivered_at", "tracking_event__received_at", "attempts")
    )
    statuses = Counter(status for status, *_ in rows)
    latencies = [
        (delivered - received).total_seconds()
        for status, delivered, received, _ in rows
        if status == DeliveryStatus.DELIVERED
    ]
    # What the queue alone costs: deliveries whose first call succeeded, and fan-out.
    first_try = [
        (delivered - received).total_seconds()
        for status, delivered, received, attempts in rows
        if status == DeliveryStatus.DELIVERED and attempts == 1
    ]
    fan_out_lag = [
        (fanned - received).total_seconds()
        for fanned, received in TrackingEvent.objects.filter(client=client).values_list(
            "fanned_out_at", "received_at"
        )
    ]
    events_stored = TrackingEvent.objects.filter(client=client).count()
    per_event = (
        deliveries.values("tracking_event").annotate(n=Count("id")).values_list("n", flat=True)
    )
    expected = events_stored * 4  # every event wants Meta, TikTok, Google Ads and GA4
    lost = expected - statuses[DeliveryStatus.DELIVERED]
    print(
        json.dumps(
            {
                "events": events_stored,
                "deliveries": len(rows),
                "statuses": dict(statuses),
                "platform_calls": FaultProxy.calls,
                "faults_injected": dict(FaultProxy.injected),
                "fault_share": round(
                    sum(FaultProxy.injected.values()) / max(1, FaultProxy.calls), 3
                ),
                "leased_when_killed": killed_leases,
                "deliveries_per_event": sorted(set(per_event)),
            }
        )
    )
    print(
        f"fault recovery: {statuses[DeliveryStatus.DELIVERED]} of {expected} conversions delivered, "
        f"{lost} lost; event→delivered p50 {percentile(latencies, 0.5):.1f}s, "
        f"p95 {percentile(latencies, 0.95):.1f}s, max {max(latencies, default=0):.1f}s; "
        f"delivered at the first try p50 {percentile(first_try, 0.5):.1f}s; "
        f"event→fanned out p50 {percentile(fan_out_lag, 0.5):.1f}s, "
        f"p95 {percentile(fan_out_lag, 0.95):.1f}s; "
        f"machine load average {sum(loads) / max(1, len(loads)):.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
