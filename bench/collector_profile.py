"""The collector's CPU per request, in one process: `POST /api/collect` through Django's
test client (every middleware, the view, PostgreSQL and Redis; no HTTP server), timed
with `time.process_time`, so the figure is this process's CPU whatever the load of the
machine; with `--profile`, the functions that took it (cProfile on the same clock).

Environment: `BENCH_DATABASE_URL` and `BENCH_REDIS_URL`, as the other benchmarks.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time

from common import (
    PRODUCTION_ENVIRONMENT,
    collector_batch,
    configure_environment,
    fresh_marketplace,
    load_average,
    prepare_database,
    setup_django,
)

WARM_UP_REQUESTS = 5  # the site key and the page remembered, the statement prepared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--requests", type=int, default=300, help="timed requests per batch size")
    parser.add_argument("--profile", choices=["tottime", "cumulative"], help="and list by")
    args = parser.parse_args()

    configure_environment({**PRODUCTION_ENVIRONMENT, "ALLOWED_HOSTS": "testserver"})
    prepare_database()
    setup_django()
    from django.test import Client

    client, _, event = fresh_marketplace("profile")
    http = Client()
    path = f"/api/collect?site_key={client.site_key}"

    def body(batch: int) -> str:
        return json.dumps({"events": collector_batch(event.slug, batch)})

    for batch in args.batches:
        bodies = [body(batch) for _ in range(WARM_UP_REQUESTS + args.requests)]
        for warm_up in bodies[:WARM_UP_REQUESTS]:
            answer = http.post(path, warm_up, content_type="application/json")
            if answer.status_code != 202:
                raise SystemExit(f"collector answered {answer.status_code}: {answer.content!r}")
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        started = time.process_time()
        if profiler:
            profiler.enable()
        for timed in bodies[WARM_UP_REQUESTS:]:
            http.post(path, timed, content_type="application/json")
        if profiler:
            profiler.disable()
        per_request = (time.process_time() - started) / args.requests * 1000
        print(
            f"batches of {batch:>3}: {per_request:.2f} ms of CPU per request "
            f"({args.requests} requests{', under cProfile' if profiler else ''}; "
            f"load {load_average()})",
            flush=True,
        )
        if profiler:
            pstats.Stats(profiler).sort_stats(args.profile).print_stats(40)


if __name__ == "__main__":
    main()
