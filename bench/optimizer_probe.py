#!/usr/bin/env python
"""What the optimizer's learning costs: its decisions with the market's truth in place of
what it learned (issue 12).

    bench/optimizer_probe.py --scenario bench/markets/example.json [--seeds 3]
        [--know nothing,demand,curves,all] [--segments 0,4]

Runs the decisions alone (`usher_decisions` of bench/optimizer.py) once per seed and per
probe, each time replacing part of the learner's model (``cycle._fit``) with the
scenario's truth: ``demand`` (weekday pattern and ramp), ``curves`` (every campaign's
curve: its true K times the mix of creatives live, its true b, after change points),
``all`` (both), or with ``--segments`` only those segments' curves. Everything else
(pacing, floors, trials, creative tests, over-delivery) is the production decision
code's. The gap between ``nothing`` and ``all`` is what learning costs; the gap between
``all`` and 1.0 is what the rest costs (over-delivery, exploration, the time creative
tests take, planning under the platforms' minimums).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from optimizer import SimulatedUsherLoop, run_oracle, score

from usher.campaigns.optimizer import cycle
from usher.campaigns.optimizer.curves import DemandPattern
from usher.campaigns.optimizer.learner import CurvePosterior
from usher.sandbox.market import Market, Scenario, load_scenario, model

PROBES = ("nothing", "demand", "curves", "all")
# A Gamma shape this large makes the level a point mass at its mean.
POINT_MASS_SHAPE = 1e7


def true_curve(scenario: Scenario, segment_index: int, day: int, live: set[str]) -> CurvePosterior:
    """A posterior that is the segment's true curve today for the creatives live."""
    segment = scenario.segments[segment_index]
    k, b = model.curve(segment, day)
    level = k * model.quality(segment, live)
    return CurvePosterior(
        np.array([b]),
        np.array([1.0]),
        np.array([POINT_MASS_SHAPE]),
        np.array([POINT_MASS_SHAPE / level]),
    )


def probed_fit(scenario: Scenario, loop: SimulatedUsherLoop, know_demand: bool, known: set[int]):
    """`cycle._fit` with the truth put in for the demand and the `known` segments (whose
    creatives live are the `loop`'s)."""
    learned_fit = cycle._fit

    def fit(state, evidence, ceilings):
        learned = learned_fit(state, evidence, ceilings)
        demand = (
            DemandPattern(
                scenario.days, scenario.start.weekday(), scenario.ramp, tuple(scenario.weekday)
            )
            if know_demand
            else learned.demand
        )
        posteriors = [
            true_curve(scenario, k, state.day, loop.live_ads[c.campaign_id])
            if k in known
            else learned.posteriors[k]
            for k, c in enumerate(state.campaigns)
        ]
        return cycle._Model(posteriors, demand, learned.ceilings)

    return fit


def run_probe(scenario: Scenario, seed: int, know_demand: bool, known: set[int]) -> float:
    market = Market(scenario, seed=seed)
    loop = SimulatedUsherLoop(market, seed)
    learned_fit = cycle._fit
    cycle._fit = probed_fit(scenario, loop, know_demand, known)
    try:
        for _ in range(scenario.hours):
            loop.hour()
    finally:
        cycle._fit = learned_fit
    return score(market).expected_revenue / run_oracle(scenario, seed).expected_revenue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--know", default=",".join(PROBES), help=f"of {', '.join(PROBES)}")
    parser.add_argument("--segments", default="", help="segment indexes whose curve is told")
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    seeds = [scenario.seed + i for i in range(args.seeds)]
    every = set(range(len(scenario.segments)))
    probes: list[tuple[str, bool, set[int]]] = []
    for name in args.know.split(","):
        if name not in PROBES:
            parser.error(f"--know: {name!r} is not one of {', '.join(PROBES)}")
        probes.append(
            (name, name in ("demand", "all"), every if name in ("curves", "all") else set())
        )
    if args.segments:
        told = {int(k) for k in args.segments.split(",")}
        if not told <= every:
            parser.error(f"--segments: the scenario has segments 0-{len(every) - 1}")
        names = ", ".join(
            f"{scenario.segments[k].platform}/{scenario.segments[k].campaign_type}"
            for k in sorted(told)
        )
        probes.append((f"curves of {names}", False, told))
    print(f"{scenario.name}: {len(seeds)} seed(s), decisions alone, ratio to the oracle")
    for name, know_demand, known in probes:
        started = time.monotonic()
        ratios = []
        for seed in seeds:
            ratios.append(run_probe(scenario, seed, know_demand, known))
            print(f"  {name}: seed {seed} {ratios[-1]:.3f}", flush=True)
        spread = statistics.stdev(ratios) if len(ratios) > 1 else 0.0
        print(
            f"{name:>40s}  {statistics.mean(ratios):.3f} ± {spread:.3f}"
            f"  ({time.monotonic() - started:.0f} s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
