#!/usr/bin/env python
"""Time one hourly optimization cycle over 1,000 campaigns (decisions only, metrics in memory).

    bench/optimizer_cycle.py [--campaigns 1000] [--per-budget 5] [--days 14] [--repeat 3]

Builds budgets of ``--per-budget`` campaigns with ``--days`` days of history drawn from
the market model, at the daily rebalance hour (the heaviest cycle: curves, demand and
allocation for every budget), and times ``run_cycle`` over all of them, without and with
the organizer's advice (computed once a day). Also times the worst single budget: all
campaigns in one suite.
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from usher.campaigns.optimizer.cycle import run_cycle
from usher.campaigns.optimizer.state import (
    CampaignState,
    CreativeState,
    DayMetrics,
    SuiteState,
)

FLIGHT_DAYS = 30


def suite(rng: np.random.Generator, budget_id: int, campaigns: int, days: int) -> SuiteState:
    per_day = 100.0 * campaigns
    states = []
    for c in range(campaigns):
        a, b, value = rng.uniform(1, 12), rng.uniform(50, 600), rng.uniform(100, 250)
        history = []
        for d in range(days):
            spend = per_day / campaigns * rng.uniform(0.6, 1.4)
            sales = int(rng.poisson(a * -np.expm1(-spend / b)))
            history.append(
                DayMetrics(d, spend, spend, sales, sales * value, sales * 2.0, sales * 1.2, sales * value * 1.2,
                           active_creatives=(f"{budget_id}-{c}-0", f"{budget_id}-{c}-1"))
            )  # fmt: skip
        creatives = tuple(
            CreativeState(f"{budget_id}-{c}-{k}", f"creative {k}", True, spend * days / 2,
                          int(rng.poisson(3 * days)), 3.0 * days, 24.0 * days)
            for k in range(2)
        )  # fmt: skip
        states.append(
            CampaignState(
                campaign_id=f"{budget_id}-{c}",
                platform=("meta", "google_ads", "tiktok")[c % 3],
                campaign_type="prospecting",
                active=True,
                daily_budget=Decimal("100.00"),
                days=tuple(history),
                creatives=creatives,
                budget_set_day=days - 1,
                weekly_cap_days=7.0 if c % 3 != 1 else None,
            )
        )
    return SuiteState(
        budget_id=str(budget_id),
        total_budget=Decimal(str(per_day * FLIGHT_DAYS)),
        spent=Decimal(str(round(per_day * days, 2))),
        daily_limit=Decimal(str(per_day * 2)),
        target_cpa=Decimal("60"),
        target_roas=Decimal("3"),
        flight_days=FLIGHT_DAYS,
        first_weekday=0,
        hour_of_flight=days * 24 + 3,
        reported_hours=days * 24,
        campaigns=tuple(states),
    )


def timed(suites: list[SuiteState], repeat: int, recommend: bool) -> tuple[float, float, int]:
    """(best wall seconds, its CPU seconds, decisions) over ``repeat`` runs.

    CPU time is printed beside wall time: the machine is shared, and a busy neighbour
    stretches wall time without the cycle doing more work.
    """
    best = (float("inf"), 0.0)
    decisions = 0
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        decisions = sum(len(run_cycle(s, seed=1, recommend=recommend).decisions) for s in suites)
        best = min(best, (time.perf_counter() - started, time.process_time() - cpu))
    return best[0], best[1], decisions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=1000)
    parser.add_argument("--per-budget", type=int, default=5)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    budgets = args.campaigns // args.per_budget
    print(
        f"building {budgets} budgets x {args.per_budget} campaigns, {args.days} days of history ...",
        flush=True,
    )
    suites = [suite(rng, b, args.per_budget, args.days) for b in range(budgets)]
    one = [suite(rng, 0, args.campaigns, args.days)]
    for label, batch in (
        (f"{budgets * args.per_budget} campaigns in {budgets} budgets", suites),
        (f"{args.campaigns} campaigns in one budget", one),
    ):
        for recommend in (False, True):
            wall, cpu, decisions = timed(batch, args.repeat, recommend)
            what = "decisions and advice" if recommend else "decisions only"
            print(
                f"{label}, {what}: {wall:.2f} s per cycle ({cpu:.2f} s CPU; best of "
                f"{args.repeat}), {decisions} decisions",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
