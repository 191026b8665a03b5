"""Tracking-config throughput against a trivial Django JSON view, side by side.

One gunicorn (sync workers, DEBUG off, PostgreSQL, Redis) serves both Usher's
`GET .../events/<slug>/tracking-config` and a trivial JSON view behind the same
middleware (bench/baseline_urls.py). wrk loads each in turn, in interleaved rounds
(trivial, 200, 304, trivial 304, trivial, ...), so load from other work on the machine
falls on all alike; the ratios are of the medians over the rounds. "trivial 304" is a
bare HttpResponseNotModified view: what a revalidation costs in the HTTP layer alone.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess

import httpx
from common import (
    fresh_marketplace,
    load_average,
    median_ratio,
    production_setup,
    side_by_side_arguments,
    start_gunicorn,
    stop,
)

PORT = 8767
GOALS = {"config 200": 0.7, "config 304": 0.8}


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> float:
    """Requests/s wrk reached on `url`; any non-2xx/3xx answer aborts the run."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in output:
        raise SystemExit(f"errors under load on {url}:\n{output}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    side_by_side_arguments(parser, rounds=9, seconds=2)
    parser.add_argument("--connections", type=int, default=4, help="wrk's open connections")
    args = parser.parse_args()

    env = production_setup()
    from usher.tracking import services as tracking
    from usher.tracking.models import MarketplaceTrackingCode

    client, organizer, event = fresh_marketplace("config")
    tracking.create_code(
        organizer, tracking.CodeInput(provider="meta", settings={"pixel_id": "333333333333333"})
    )
    MarketplaceTrackingCode.objects.create(
        client=client, provider="ga4", settings={"measurement_id": "G-BENCH123"}
    )
    base = f"http://127.0.0.1:{PORT}"
    config_url = (
        f"{base}/api/marketplace-client/events/{event.slug}/tracking-config"
        f"?site_key={client.site_key}"
    )
    origin = {"Origin": "https://bench.example"}
    server = start_gunicorn(env, PORT, args.workers)
    try:
        first = httpx.get(config_url, headers=origin)
        first.raise_for_status()
        assert len(first.json()["codes"]) == 2, first.text
        targets = {
            "trivial view": (f"{base}/api/bench/trivial", origin),
            "config 200": (config_url, origin),
            "config 304": (config_url, {**origin, "If-None-Match": first.headers["ETag"]}),
            "trivial 304": (f"{base}/api/bench/trivial-304", origin),
        }
        results: dict[str, list[float]] = {name: [] for name in targets}
        loads = []
        for round_number in range(1, args.rounds + 1):
            for name, (url, headers) in targets.items():
                results[name].append(wrk(url, args.seconds, args.connections, headers))
            loads.append(load_average())
            print(
                f"round {round_number}/{args.rounds}: "
                + ", ".join(f"{name} {values[-1]:,.0f} req/s" for name, values in results.items())
                + f" (load {loads[-1]})",
                flush=True,
            )
    finally:
        stop(server)
    baseline = results["trivial view"]
    print(
        f"\ntracking-config vs a trivial Django JSON view: gunicorn {args.workers} sync "
        f"workers, DEBUG off, PostgreSQL + Redis, wrk -t1 -c{args.connections}, "
        f"{args.rounds} interleaved rounds of {args.seconds:g} s; load average "
        f"{', '.join(loads)}; ratios are medians of the rounds' ratios"
    )
    print(f"  trivial view   {statistics.median(baseline):8,.0f} req/s (median)")
    for name, goal in GOALS.items():
        ratio = median_ratio(results[name], baseline)
        verdict = "meets" if ratio >= goal else "below"
        print(
            f"  {name:<14} {statistics.median(results[name]):8,.0f} req/s  ratio {ratio:.2f}  "
            f"({verdict} the goal {goal})"
        )
    print(
        f"  trivial 304    {statistics.median(results['trivial 304']):8,.0f} req/s  ratio "
        f"{median_ratio(results['trivial 304'], baseline):.2f}  (a bare HttpResponseNotModified "
        "over the same server and wrk: the HTTP layer's share of a revalidation); config 304 "
        f"vs it: {median_ratio(results['config 304'], results['trivial 304']):.2f}"
    )


if __name__ == "__main__":
    main()
