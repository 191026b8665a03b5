"""Where the production path's flight spends its queries: SQL queries and CPU per beat
job (and the orders through the ingest API) in one `usher` flight (bench/usher_flight.py).

    BENCH_DATABASE_URL=postgres://... .venv/bin/python bench/flight_queries.py \\
        --scenario usher/campaigns/optimizer/tests/scenarios/ci-small.json [--seed N] \\
        [--sql JOB]

`--sql JOB` also prints that job's statements, literals blanked, by how often they ran:
which of a job's queries to remove first.

CPU is this process's (`time.process_time`); PostgreSQL's share is not in it. Like
bench/optimizer.py it empties the bench database first.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from optimizer import ensure_django

SETUP = "setup"  # what runs outside any job: the suite's publication
# Literals blanked so that one statement's runs with other values count as one shape.
LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")
SHAPE_CHARS = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, required=True)
    parser.add_argument("--seed", type=int, help="default: the scenario's own")
    parser.add_argument("--sql", metavar="JOB", help="print this job's statements by count")
    args = parser.parse_args()
    ensure_django()
    from django.db import connection
    from usher_flight import fly

    from usher.marketplace import simulation

    data = json.loads(args.scenario.read_text())
    queries: Counter[str] = Counter()
    cpu: Counter[str] = Counter()
    runs: Counter[str] = Counter()
    shapes: Counter[str] = Counter()
    current = [SETUP]

    @contextmanager
    def counting(name: str) -> Iterator[None]:
        outer, started = current[0], time.process_time()
        current[0] = name
        try:
            yield
        finally:
            cpu[name] += time.process_time() - started
            runs[name] += 1
            current[0] = outer

    def wrap(method: Callable[..., Any], name: Callable[[tuple], str]) -> Callable[..., Any]:
        def counted(*call: Any) -> Any:
            with counting(name(call)):
                return method(*call)

        return counted

    simulation.BeatJobs.run = wrap(simulation.BeatJobs.run, lambda call: call[1])
    simulation.Marketplace.place_orders = wrap(
        simulation.Marketplace.place_orders, lambda call: "orders"
    )

    def count(execute: Callable[..., Any], *query: Any) -> Any:
        queries[current[0]] += 1
        if current[0] == args.sql:
            shapes[LITERALS.sub("?", query[0])[:SHAPE_CHARS]] += 1
        return execute(*query)

    started = time.process_time()
    with connection.execute_wrapper(count):
        fly(data, data["seed"] if args.seed is None else args.seed)
    print(f"flight: {time.process_time() - started:.1f} s CPU, {sum(queries.values())} queries")
    for name, n in queries.most_common():
        print(f"{name:30s} {runs[name]:6d} runs {n:7d} queries {cpu[name]:7.1f} s CPU")
    if args.sql:
        print(f"\n{args.sql}: statements per run ({runs[args.sql]} runs)")
        for shape, n in shapes.most_common():
            print(f"{n / max(runs[args.sql], 1):7.2f}  {shape}")


if __name__ == "__main__":
    main()
