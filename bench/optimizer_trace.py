#!/usr/bin/env python
"""Where the optimizer's production path and its decisions alone part ways (issue 12).

    bench/optimizer_trace.py --scenario FILE [--seed N] [--days D] [--paths usher,usher_decisions]
        [--json OUT.json]

Runs one seed of a scenario on each path (`usher`: bench/usher_flight.py, the jobs,
database and connectors; `usher_decisions`: the adapter in bench/optimizer.py) with
`run_cycle` wrapped, so every hourly cycle's input and decisions are kept, and prints
per path, per segment and flight day: the market's truth (spend, sales, expected
revenue), the optimizer's view of that day at the end of the flight (spend reported,
budget in force, attributed sales and revenue), what was decided that day (budgets
asked, pauses), each creative as the day's last cycle saw it (live or paused, its
spend, clicks and attributed sales to date) and, on the production path, how many
decisions a platform refused, and what spend control wrote: each segment's budget per
day as set on its platform (a daily budget, or a lifetime budget's share per day left;
the day's mean over spend control's passes) and, per day, how far spend control's
squeeze scaled the wishes (the remainder over the exposure the wishes ask for: under 1
means every budget was cut below what the optimizer asked).
`--days` shortens the flight in memory (no scenario file is written).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import optimizer as bench

from usher.campaigns.optimizer.cycle import CycleResult
from usher.campaigns.optimizer.state import SuiteState
from usher.sandbox.market import Market, Scenario, load_scenario

HOURS_PER_DAY = 24


class CycleLog:
    """Every cycle's state and decisions, keyed by segment ("platform/type")."""

    def __init__(self) -> None:
        self.cycles: list[tuple[SuiteState, CycleResult]] = []

    def wrap(self, run_cycle):
        def traced(state: SuiteState, **kwargs: Any) -> CycleResult:
            result = run_cycle(state, **kwargs)
            self.cycles.append((state, result))
            return result

        return traced


class SpendControlLog:
    """Every spend-control pass on the production path: when, the money it could expose,
    and each campaign's need and the setting it got (`spend_safety.plan_budgets`)."""

    def __init__(self) -> None:
        self.passes: list[tuple[Any, Decimal, list[Any], list[Any]]] = []

    def wrap(self, plan_budgets):
        from django.utils import timezone

        def traced(available: Decimal, needs: list[Any]) -> list[Any]:
            settings = plan_budgets(available, needs)
            self.passes.append((timezone.now(), available, list(needs), settings))
            return settings

        return traced

    def per_day(self, scenario: Scenario) -> tuple[dict[str, dict[int, float]], dict[int, float]]:
        """(per segment and day: the mean budget per day written; per day: the smallest
        squeeze factor, 1 when the wishes fit)."""
        from usher.campaigns.models import AutomatedCampaign
        from usher.campaigns.spend_safety import BudgetMode

        names = {
            pk: f"{platform}/{ctype}"
            for pk, platform, ctype in AutomatedCampaign.objects.values_list(
                "pk", "platform", "campaign_type"
            )
        }
        written: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        squeeze: dict[int, float] = {}
        for when, available, needs, settings in self.passes:
            day = int((when - scenario.start).total_seconds() // 3600) // HOURS_PER_DAY
            wanted = sum(
                float(n.desired_daily_budget)
                * float(n.daily_multiplier if n.mode == BudgetMode.DAILY else n.days_left)
                for n in needs
                if n.desired_daily_budget > 0 and n.days_left > 0
            )
            if wanted > 0:
                squeeze[day] = min(squeeze.get(day, 1.0), float(available) / wanted, 1.0)
            for need, setting in zip(needs, settings, strict=True):
                if setting.mode == BudgetMode.DAILY:
                    per_day = float(setting.daily_budget)
                elif setting.mode == BudgetMode.LIFETIME:
                    per_day = float(setting.exposure) / max(need.days_left, 1)
                else:
                    per_day = 0.0
                written[names.get(need.key, str(need.key))][day].append(per_day)
        means = {
            segment: {day: sum(v) / len(v) for day, v in days.items()}
            for segment, days in written.items()
        }
        return means, squeeze


def segment_of(state: SuiteState) -> dict[str, str]:
    return {c.campaign_id: f"{c.platform}/{c.campaign_type}" for c in state.campaigns}


def per_day(scenario: Scenario, market: Market, log: CycleLog) -> dict[str, Any]:
    """Per segment and day: truth, the last cycle's view of the day, the day's decisions."""
    table: dict[str, dict[int, dict[str, float]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(float))
    )
    for row in market.truth():
        cell = table[f"{row.platform}/{row.campaign_type}"][row.hour // HOURS_PER_DAY]
        cell["true_spend"] += row.spend
        cell["true_sales"] += row.conversions
        cell["true_revenue"] += row.revenue
        cell["expected_revenue"] += row.expected_revenue
    if log.cycles:
        last, _ = log.cycles[-1]
        names = segment_of(last)
        for campaign in last.campaigns:
            for day in campaign.days:
                cell = table[names[campaign.campaign_id]][day.day]
                cell["seen_spend"] = day.spend
                cell["seen_budget"] = day.budget
                cell["seen_sales"] = day.attributed_conversions
                cell["seen_revenue"] = day.attributed_revenue
                cell["platform_sales"] = day.platform_conversions
    for state, result in log.cycles:
        names = segment_of(state)
        day = state.hour_of_flight // HOURS_PER_DAY
        for decision in result.decisions:
            cell = table[names[decision.campaign_id]][day]
            cell[f"n_{decision.kind}"] += 1
            if decision.daily_budget is not None:
                cell["last_asked"] = float(decision.daily_budget)
    return {seg: {d: dict(v) for d, v in days.items()} for seg, days in table.items()}


def creative_days(log: CycleLog) -> dict[str, dict[int, dict[str, dict[str, float]]]]:
    """Per segment, flight day and variant: what the day's last cycle was given about the
    creative (live or paused, its spend, clicks and attributed sales to date, hours live),
    so the creative tests' inputs can be compared between the paths."""
    table: dict[str, dict[int, dict[str, dict[str, float]]]] = defaultdict(dict)
    for state, _ in log.cycles:
        names = segment_of(state)
        day = state.hour_of_flight // HOURS_PER_DAY
        for campaign in state.campaigns:
            table[names[campaign.campaign_id]][day] = {
                creative.name: {
                    "active": float(creative.active),
                    "spend": creative.spend,
                    "clicks": creative.clicks,
                    "sales": float(creative.attributed_conversions),
                    "hours_live": creative.hours_live,
                }
                for creative in campaign.creatives
            }
    return dict(table)


def print_creatives(creatives: dict[str, dict[int, dict[str, dict[str, float]]]]) -> None:
    """One line per segment and day: each variant as on/off spend/clicks/sales (to date)."""
    print(f"{'segment':<24} {'day':>3} variants (on|off spend/clicks/sales, to date)")
    for segment in sorted(creatives):
        for day, variants in sorted(creatives[segment].items()):
            cells = "  ".join(
                f"{name}: {'on' if v['active'] else 'off'} "
                f"{v['spend']:.0f}/{v['clicks']:.0f}/{v['sales']:.0f}"
                for name, v in sorted(variants.items())
            )
            print(f"{segment:<24} {day:>3} {cells}")


def refusals() -> dict[str, Counter]:
    """The production log's refused decisions and spend control's entries per segment/day
    (advice is stored as not applied by design: it is no refusal)."""
    from usher.campaigns.models import DecisionKind, OptimizationLogEntry

    out: dict[str, Counter] = defaultdict(Counter)
    rows = (
        OptimizationLogEntry.objects.filter(campaign__isnull=False)
        .exclude(kind=DecisionKind.RECOMMENDATION)
        .values_list(
            "campaign__platform",
            "campaign__campaign_type",
            "created_at",
            "applied",
            "kind",
            "actor_label",
            "reason",
        )
    )
    for platform, ctype, _created, applied, kind, actor, reason in rows:
        key = f"{platform}/{ctype}"
        if not applied:
            out[key][f"refused {actor} {kind}: {reason[:40]}"] += 1
        elif actor != "optimizer":
            out[key][f"{actor or 'system'} {kind}"] += 1
    return out


def fly(
    path: str, scenario: Scenario, seed: int, control: SpendControlLog | None = None
) -> tuple[Market, CycleLog]:
    log = CycleLog()
    if path == "usher":
        from usher_flight import fly as fly_production

        from usher.campaigns import optimization, spend_control

        original = optimization.run_cycle
        original_plan = spend_control.plan_budgets
        optimization.run_cycle = log.wrap(original)
        if control is not None:
            spend_control.plan_budgets = control.wrap(original_plan)
        try:
            market = fly_production(scenario.raw, seed).market
        finally:
            optimization.run_cycle = original
            spend_control.plan_budgets = original_plan
        return market, log
    original = bench.run_cycle
    bench.run_cycle = log.wrap(original)
    try:
        market = Market(scenario, seed=seed)
        loop = bench.SimulatedUsherLoop(market, seed)
        for _ in range(scenario.hours):
            loop.hour()
    finally:
        bench.run_cycle = original
    return market, log


def print_path(path: str, days: dict[str, Any]) -> None:
    print(f"\n== {path}")
    print(
        f"{'segment':<24} {'day':>3} {'t.spend':>8} {'s.spend':>8} {'budget':>7} {'asked':>7} "
        f"{'written':>7} {'t.sales':>7} {'s.sales':>7} {'p.sales':>7} {'E[rev]':>8} decisions"
    )
    for segment in sorted(days):
        for day in sorted(days[segment]):
            c = days[segment][day]
            kinds = " ".join(f"{k[2:]}={int(v)}" for k, v in sorted(c.items()) if k[:2] == "n_")
            print(
                f"{segment:<24} {day:>3} {c.get('true_spend', 0):>8.0f} "
                f"{c.get('seen_spend', 0):>8.0f} {c.get('seen_budget', 0):>7.0f} "
                f"{c.get('last_asked', float('nan')):>7.0f} "
                f"{c.get('written', float('nan')):>7.0f} {c.get('true_sales', 0):>7.0f} "
                f"{c.get('seen_sales', 0):>7.0f} {c.get('platform_sales', 0):>7.1f} "
                f"{c.get('expected_revenue', 0):>8.0f} {kinds}"
            )
    print(f"{'segment':<24} {'spend':>8} {'sales':>6} {'seen sales':>10} {'E[rev]':>9}")
    for segment in sorted(days):
        cells = days[segment].values()
        print(
            f"{segment:<24} {sum(c.get('true_spend', 0) for c in cells):>8.0f} "
            f"{sum(c.get('true_sales', 0) for c in cells):>6.0f} "
            f"{sum(c.get('seen_sales', 0) for c in cells):>10.0f} "
            f"{sum(c.get('expected_revenue', 0) for c in cells):>9.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--seed", type=int, help="default: the scenario's own")
    parser.add_argument("--days", type=int, help="shorten the flight to this many days")
    parser.add_argument("--paths", default="usher,usher_decisions")
    parser.add_argument("--json", help="write the per-day tables here")
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    if args.days:
        scenario = scenario.with_changes(days=args.days)
    seed = scenario.seed if args.seed is None else args.seed
    paths = args.paths.split(",")
    if "usher" in paths:
        bench.ensure_django()
    oracle = bench.run_oracle(scenario, seed).expected_revenue
    out: dict[str, Any] = {"scenario": scenario.name, "seed": seed, "oracle": oracle}
    for path in paths:
        control = SpendControlLog()
        market, log = fly(path, scenario, seed, control)
        days = per_day(scenario, market, log)
        written, squeeze = control.per_day(scenario) if path == "usher" else ({}, {})
        for segment, by_day in written.items():
            for day, amount in by_day.items():
                days.setdefault(segment, {}).setdefault(day, {})["written"] = amount
        revenue = sum(c.get("expected_revenue", 0) for s in days.values() for c in s.values())
        print_path(path, days)
        creatives = creative_days(log)
        print_creatives(creatives)
        if squeeze:
            print("spend control's squeeze per day (remainder / exposure wished; 1: fits):")
            print("  " + " ".join(f"{day}:{factor:.2f}" for day, factor in sorted(squeeze.items())))
        print(f"{path}: expected revenue {revenue:.0f}, ratio to oracle {revenue / oracle:.3f}")
        out[path] = {
            "days": days,
            "creatives": creatives,
            "ratio": revenue / oracle,
            "squeeze": squeeze,
        }
        if path == "usher":
            out[path]["refusals"] = {k: dict(v) for k, v in refusals().items()}
            for segment, counts in sorted(out[path]["refusals"].items()):
                for what, n in sorted(counts.items(), key=lambda item: -item[1]):
                    print(f"  {segment}: {n} x {what}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
