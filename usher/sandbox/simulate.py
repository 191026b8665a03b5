"""`python -m usher.sandbox.simulate --scenario FILE --equal-split [--seed N] --json OUT`.

Runs a scenario's whole flight in the market simulator alone (no Usher, no HTTP)
under the `equal_split` strategy: one campaign per segment, each with the daily budget
`min(total_budget / days, daily_budget_limit) / segments`, every creative on. Writes
the truth totals as JSON; progress goes to stderr, one line per simulated day, and a
summary ends the run. Other tools compare these numbers with their own reading of the
model, so the output shape is fixed (docs/simulator.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from usher.sandbox.market import Market, ScenarioError, load_scenario, model
from usher.sandbox.market.scenario import HOURS_PER_DAY

EXIT_BAD_SCENARIO = 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m usher.sandbox.simulate",
        description="Simulate a market scenario's flight under equal_split; write truth totals.",
    )
    parser.add_argument("--scenario", type=Path, required=True, help="scenario JSON file")
    parser.add_argument(
        "--equal-split",
        action="store_true",
        required=True,
        help="the strategy: the same daily budget for every segment (the only one here)",
    )
    parser.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    parser.add_argument("--json", type=Path, required=True, help="where to write the totals")
    return parser.parse_args(argv)


def run(scenario_path: Path, seed: int | None, progress: bool = True) -> dict:
    """Simulate the flight; the totals in the CLI's JSON shape."""
    scenario = load_scenario(scenario_path)
    if seed is not None and seed < 0:
        raise ScenarioError("$.seed", "must be a non-negative integer")
    market = Market(scenario, seed=seed)
    market.launch_equal_split()
    started = time.monotonic()
    for day in range(market.scenario.days):
        market.advance(hours=HOURS_PER_DAY)
        if progress:
            spent = sum(row.spend for row in market.truth())
            print(
                f"day {day + 1}/{market.scenario.days}: spend {spent:,.2f} "
                f"{market.scenario.currency}, purchases {len(market.purchases())}",
                file=sys.stderr,
            )
    totals = market.totals()
    if progress:
        closed = model.equal_split_closed_form(market.scenario)
        print(
            f"done in {time.monotonic() - started:.1f} s: spend {totals['spend']:,.2f} of "
            f"{market.scenario.total_budget:,.2f}, expected revenue "
            f"{totals['expected_revenue']:,.2f} (closed form without over-delivery "
            f"{closed.expected_revenue:,.2f}), realized {totals['realized_revenue']:,.2f}",
            file=sys.stderr,
        )
    return totals


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        totals = run(args.scenario, args.seed)
    except (ScenarioError, OSError) as exc:
        print(f"cannot run {args.scenario}: {exc}", file=sys.stderr)
        return EXIT_BAD_SCENARIO
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(totals, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
