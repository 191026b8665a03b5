"""Where a delivery worker's time goes: fan-out and dispatch of N events in one process.

Stores `--events` consented browser events on an event page with Meta, TikTok, Google
Ads and GA4 codes (as `delivery_throughput.py` does), then runs the fan-out and each
destination's dispatch in this process, one after another, under cProfile, against the
sandbox started as its own server. Prints each step's CPU and wall time and the
profile's top functions (`--sort tottime` or `cumulative`).

Environment: `BENCH_DATABASE_URL` and `BENCH_REDIS_URL`, as for the other benchmarks
(a database of its own: it adds a client with N events per run).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import signal
import time

from common import (
    PRODUCTION_ENVIRONMENT,
    add_server_side_codes,
    browser_events,
    configure_environment,
    fresh_marketplace,
    prepare_database,
    setup_django,
    start_sandbox,
    wait_for_sandbox,
)

SANDBOX_PORT = 8874
PROVIDERS = ["meta", "tiktok", "google_ads", "ga4"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--top", type=int, default=30, help="functions of the profile shown")
    args = parser.parse_args()

    sandbox_url = f"http://127.0.0.1:{SANDBOX_PORT}"
    configure_environment(
        {
            **PRODUCTION_ENVIRONMENT,  # DEBUG off: no query log, as in production
            "SANDBOX_URL": sandbox_url,
            "LOG_LEVEL": "ERROR",
            "PLATFORM_RATE_LIMITS": json.dumps({p: [10000, 10000] for p in PROVIDERS}),
        }
    )
    prepare_database()
    setup_django()

    from usher.conversions import dispatch, fanout
    from usher.conversions.models import ConversionDelivery
    from usher.events.models import TrackingEvent

    sandbox = start_sandbox(SANDBOX_PORT)
    profile = cProfile.Profile()

    def timed(label: str, step) -> object:
        cpu, wall = time.process_time(), time.perf_counter()
        profile.enable()
        result = step()
        profile.disable()
        print(
            f"{label}: {time.process_time() - cpu:.2f} s CPU, "
            f"{time.perf_counter() - wall:.2f} s wall",
            flush=True,
        )
        return result

    try:
        wait_for_sandbox(sandbox_url)
        client, organizer, event = fresh_marketplace("profile")
        add_server_side_codes(organizer, "444444444444444")
        TrackingEvent.objects.bulk_create(
            browser_events(client, organizer, event, range(args.events), "p"), batch_size=1000
        )

        def fan_out_all() -> set[str]:
            keys, more = set(), True
            while more:
                found, more = fanout.fan_out_pending_events(client.pk)
                keys |= found
            return keys

        keys = timed(f"fan-out of {args.events} events", fan_out_all)

        def dispatch_all(key: str) -> tuple[int, int]:
            """Runs until the destination's run is not capped: (delivered, calls recorded)."""
            delivered = batches = 0
            while True:
                summary = dispatch.dispatch_destination(key)
                delivered, batches = delivered + summary.delivered, batches + summary.batches
                if not summary.capped:
                    return delivered, batches

        for key in sorted(keys):
            provider = (
                ConversionDelivery.objects.filter(destination_key=key)
                .values_list("provider", flat=True)
                .first()
            )
            delivered, batches = timed(f"dispatch {provider}", lambda key=key: dispatch_all(key))
            print(f"  delivered {delivered}, calls recorded {batches}", flush=True)
    finally:
        os.killpg(sandbox.pid, signal.SIGTERM)
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
