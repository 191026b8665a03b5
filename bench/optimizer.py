#!/usr/bin/env python
"""The optimizer's benchmark: one scenario's flight under four strategies, against an oracle.

    bench/optimizer.py --scenario bench/markets/example.json [--seeds 5] [--json OUT] [--plot OUT.png]

Strategies (see docs/optimizer.md): ``equal_split`` (every segment the same daily
budget, every creative on), ``seed_rules`` (the plan's fixed rules on platform numbers,
from equal split), ``usher`` (Usher's optimizer, hour by hour, fed the platform-shaped
reports with their delay, over-counting and outages, and the closed loop's purchases as
its attributed orders) and ``oracle`` (the allocator on the scenario's true curves,
planned before the flight, best creative only, no over-delivery). The score is the
expected revenue of the spend each strategy actually had (the model's E[C] times the
order value), so one draw's luck does not decide the ranking; realized revenue is shown
beside it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import queue
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/: common, usher_flight
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from usher.campaigns.optimizer.allocation import allocate_arrays
from usher.campaigns.optimizer.cycle import run_cycle
from usher.campaigns.optimizer.decisions import Decision, DecisionKind, DecisionRule
from usher.campaigns.optimizer.state import (
    CampaignState,
    CreativeState,
    DayMetrics,
    SuiteState,
)
from usher.platforms.registry import get_campaigns_connector
from usher.sandbox.market import Market, Scenario, load_scenario, model
from usher.sandbox.market import campaigns as sim
from usher.sandbox.market.objects import LEVELS

HOURS_PER_DAY = 24
STRATEGIES = ("equal_split", "seed_rules", "usher", "oracle")
# Opt-in: the optimizer's decisions alone, beside the production path (see the README).
EXTRA_STRATEGIES = ("usher_decisions",)
OVERSPEND_TOLERANCE = 0.01  # overspent: more than one cent over the total budget
SEED_RULES_MIN_HOURS = 48
SEED_RULES_BOOST = 1.2
# What Usher's connectors declare: Meta caps a calendar week at 7 daily budgets (and the
# simulator holds TikTok to the same rule); Google caps a day at 2 instead.
WEEKLY_CAP_DAYS = {"meta": 7.0, "tiktok": 7.0}


@dataclass
class Run:
    """One strategy's flight: totals from the simulator's truth, and hourly cumulative curves."""

    expected_revenue: float
    realized_revenue: float
    spend: float
    tickets: int
    overspent: bool
    cumulative_revenue: list[float]
    cumulative_spend: list[float]


def score(market: Market) -> Run:
    hours = market.scenario.hours
    revenue = np.zeros(hours)
    spend = np.zeros(hours)
    realized = 0.0
    tickets = 0
    for row in market.truth():
        revenue[row.hour] += row.expected_revenue
        spend[row.hour] += row.spend
        realized += row.revenue
        tickets += row.tickets
    total_spend = float(spend.sum())
    return Run(
        expected_revenue=float(revenue.sum()),
        realized_revenue=realized,
        spend=total_spend,
        tickets=tickets,
        overspent=total_spend > market.scenario.total_budget + OVERSPEND_TOLERANCE,
        cumulative_revenue=np.cumsum(revenue).tolist(),
        cumulative_spend=np.cumsum(spend).tolist(),
    )


# --- equal_split and oracle ------------------------------------------------------------


def platform_minimums(scenario: Scenario) -> np.ndarray:
    """Each segment's minimum daily budget, as its platform's connector declares it."""
    return np.array(
        [
            float(get_campaigns_connector(s.platform).minimum_daily_budget(scenario.currency))
            for s in scenario.segments
        ]
    )


def equal_split_budgets(scenario: Scenario) -> list[float]:
    """The equal split a platform would take: the day's money in equal shares over the
    most segments whose minimum daily budget that share meets; the others get nothing.

    Dropping the segment with the highest minimum (the later one of a tie) until the
    share meets every minimum left keeps as many segments running as the money allows
    (thin-data's 13 a segment is under TikTok's 100 and Meta's 25).
    """
    per_day = model.equal_split_daily_budget(scenario) * len(scenario.segments)
    minimums = platform_minimums(scenario)
    funded = sorted(range(len(minimums)), key=lambda k: (minimums[k], k))
    while funded and per_day / len(funded) < minimums[funded[-1]]:
        funded.pop()
    share = per_day / len(funded) if funded else 0.0
    return [share if k in funded else 0.0 for k in range(len(minimums))]


def launch_equal_split(market: Market) -> list[sim.CampaignRef]:
    """One campaign per segment at its platform-accepted equal share, paused where none."""
    refs = []
    for segment, budget in zip(
        market.scenario.segments, equal_split_budgets(market.scenario), strict=True
    ):
        ref = market.create_campaign(segment.platform, segment.campaign_type, max(budget, 0.01))
        sim.set_campaign_active(market.state, ref, budget > 0)
        refs.append(ref)
    return refs


def run_equal_split(scenario: Scenario, seed: int) -> Run:
    market = Market(scenario, seed=seed)
    launch_equal_split(market)
    market.run_to_end()
    return score(market)


def oracle_plan(scenario: Scenario) -> np.ndarray:
    """Daily spend per segment maximizing expected revenue on the true curves (best
    creative), each segment's day off or at least its platform's minimum daily budget."""
    days = range(scenario.days)
    value = np.array(
        [
            [
                s.average_order_value
                * model.curve(s, d)[0]
                * model.demand(scenario, d)
                * max(c.performance for c in s.creatives)
                for d in days
            ]
            for s in scenario.segments
        ]
    )
    b = np.array([[model.curve(s, d)[1] for d in days] for s in scenario.segments])
    ceiling = np.array(
        [np.inf if s.max_daily_spend is None else s.max_daily_spend for s in scenario.segments]
    )
    return allocate_arrays(
        value,
        b,
        ceiling,
        scenario.total_budget,
        scenario.daily_budget_limit,
        platform_minimums(scenario),
    )


def run_oracle(scenario: Scenario, seed: int) -> Run:
    """The plan, spent as planned: each hour's budget is the day's planned spend, raised
    where a weekly cap (7 daily budgets a calendar week) would otherwise stop a day that
    the plan lowered after heavier ones, to just what lets the hour spend its share."""
    market = Market(scenario.with_changes(overdelivery=0.0), seed=seed)
    plan = oracle_plan(market.scenario)
    minimums = platform_minimums(market.scenario)
    refs = []
    for segment in market.scenario.segments:
        best = max(segment.creatives, key=lambda c: c.performance).name
        refs.append(market.create_campaign(segment.platform, segment.campaign_type, 1.0, [best]))
    week_spent: dict[tuple[str, tuple[int, int]], float] = defaultdict(float)
    for hour in range(market.scenario.hours):
        day = hour // HOURS_PER_DAY
        began = market.scenario.start + timedelta(hours=hour)
        week = tuple(began.isocalendar())[:2]
        share = market.scenario.hourly[began.hour]
        for ref, daily, minimum in zip(refs, plan[:, day], minimums, strict=True):
            wanted = float(daily)
            cap_days = WEEKLY_CAP_DAYS.get(ref.platform)
            # A day the plan leaves off stays off: the cap's raise (from the week's spend)
            # would otherwise turn it on, and at the platform's minimum it would spend.
            if cap_days is not None and wanted > 0:
                key = (ref.campaign_id, week)
                wanted = max(wanted, (week_spent[key] + share * daily) / cap_days)
                week_spent[key] += share * daily
            budget = Decimal(str(wanted)).quantize(Decimal("0.01"), rounding="ROUND_DOWN")
            if budget > 0:
                # A day planned at an audience ceiling under the minimum runs on the
                # minimum (spending the ceiling); rounding must not dip under it either.
                budget = max(budget, Decimal(str(minimum)))
            sim.set_campaign_active(market.state, ref, budget > 0)
            if budget > 0:
                sim.set_daily_budget(market.state, ref, budget)
        market.advance(hours=1)
    return score(market)


# --- seed_rules: the plan's fixed rules on platform numbers ---------------------------------


def reported(market: Market, ref: sim.CampaignRef, level: int, object_id: str, days: int):
    """Cumulative platform-reported (spend, conversions, value) of one object."""
    spend = conversions = value = 0.0
    for day in range(days):
        metrics = market.metrics_for(
            ref.platform,
            ref.account,
            LEVELS[ref.platform][level],
            object_id,
            (market.scenario.start + timedelta(days=day)).date(),
        )
        spend += float(metrics.spend)
        conversions += metrics.conversions
        value += float(metrics.conversion_value)
    return spend, conversions, value


def run_seed_rules(scenario: Scenario, seed: int) -> Run:
    """Equal split, then each morning: pause at CPA > 2x target, +20% at ROAS > 2x target,
    after 48 h keep the creative with the best reported conversions per spend, move the
    paused campaigns' money to the others, and pace the rest over the days left."""
    market = Market(scenario, seed=seed)
    refs = launch_equal_split(market)
    minimum = dict(zip((ref.campaign_id for ref in refs), platform_minimums(scenario), strict=True))
    budgets = dict(
        zip((ref.campaign_id for ref in refs), equal_split_budgets(scenario), strict=True)
    )
    active = {cid: budget > 0 for cid, budget in budgets.items()}
    rotated: set[str] = set()
    for day in range(scenario.days):
        if day * HOURS_PER_DAY >= SEED_RULES_MIN_HOURS:
            freed = 0.0
            for ref in refs:
                if not active[ref.campaign_id] or market.outage(ref.platform):
                    continue
                spend, conversions, value = reported(market, ref, 2, ref.campaign_id, day + 1)
                if scenario.target_cpa and spend > 0:
                    cpa = spend / conversions if conversions else float("inf")
                    if cpa > 2 * scenario.target_cpa:
                        sim.set_campaign_active(market.state, ref, False)
                        active[ref.campaign_id] = False
                        freed += budgets[ref.campaign_id]
                        continue
                if scenario.target_roas and spend > 0 and value / spend > 2 * scenario.target_roas:
                    budgets[ref.campaign_id] *= SEED_RULES_BOOST
                if len(ref.ads) > 1 and ref.campaign_id not in rotated:
                    rates = {}
                    for name, ad_id in ref.ads.items():
                        ad_spend, ad_conv, _ = reported(market, ref, 0, ad_id, day + 1)
                        rates[name] = ad_conv / ad_spend if ad_spend else 0.0
                    winner = max(rates, key=rates.get)
                    for name in ref.ads:
                        sim.set_ad_active(market.state, ref, name, name == winner)
                    rotated.add(ref.campaign_id)
            live = [ref for ref in refs if active[ref.campaign_id]]
            for ref in live:
                budgets[ref.campaign_id] += freed / len(live)
            spent = sum(reported(market, ref, 2, ref.campaign_id, day + 1)[0] for ref in refs)
            per_day = (scenario.total_budget - spent) / (scenario.days - day)
            if scenario.daily_budget_limit is not None:
                per_day = min(per_day, scenario.daily_budget_limit)
            total = sum(budgets[ref.campaign_id] for ref in live)
            factor = min(1.0, max(per_day, 0.0) / total) if total else 0.0
            for ref in live:
                if market.outage(ref.platform):
                    continue
                amount = budgets[ref.campaign_id] * factor
                # A platform refuses a budget under its minimum: the day runs without it.
                runs = amount >= max(minimum[ref.campaign_id], 0.01)
                if runs:
                    sim.set_daily_budget(market.state, ref, amount)
                sim.set_campaign_active(market.state, ref, runs)
        market.advance(hours=HOURS_PER_DAY)
    return score(market)


# --- usher: the optimizer behind one adapter -------------------------------------------------


class SimulatedUsherLoop:
    """What Usher's hourly job does, against the simulator in-process.

    It reads what a platform shows (campaign and ad reports through the simulator's
    reporting seam, with their delay and over-counting; nothing during an outage), takes
    the closed loop's purchases as Usher's attributed orders (click id -> campaign and ad,
    as the ingest would attribute them), builds the optimizer's SuiteState, runs one cycle
    and applies the decisions (skipping a platform in outage: the next hour retries).
    The production job (metrics sync, optimize, connectors, ingest) replaces this class.
    """

    def __init__(self, market: Market, seed: int) -> None:
        self.market = market
        self.seed = seed
        scenario = market.scenario
        # Production publishes the same split: spend control leaves a campaign whose
        # share is under its platform's minimum waiting (here: paused) until funded.
        self.refs = launch_equal_split(market)
        self.by_id = {ref.campaign_id: ref for ref in self.refs}
        self.segment = {
            ref.campaign_id: segment
            for ref, segment in zip(self.refs, scenario.segments, strict=True)
        }
        start = equal_split_budgets(scenario)
        self.budget = {
            ref.campaign_id: Decimal(str(max(budget, 0.01))).quantize(
                Decimal("0.01"), rounding="ROUND_DOWN"
            )
            for ref, budget in zip(self.refs, start, strict=True)
        }
        self.active = {
            ref.campaign_id: budget > 0 for ref, budget in zip(self.refs, start, strict=True)
        }
        self.paused_by_rule: set[str] = set()
        self.live_ads = {ref.campaign_id: set(ref.ads) for ref in self.refs}
        self.ad_hours: dict[str, float] = defaultdict(float)
        self.budget_set_day: dict[str, int] = {}
        # Per campaign and day: hours seen and the budget-hours in force (for the ratio).
        self.budget_hours: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        self.creatives_by_day: dict[str, dict[int, tuple[str, ...]]] = defaultdict(dict)
        self.reports: dict[tuple[str, int], tuple[float, float, float]] = {}
        self.ad_reports: dict[tuple[str, int], tuple[float, float, float]] = {}
        self.reported_through: dict[str, int] = {ref.platform: 0 for ref in self.refs}
        self.delay = HOURS_PER_DAY  # hours; learned from the reports (see _read_reports)
        self.hourly_spend: dict[tuple[str, int], dict[int, float]] = {}
        self.orders: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0, 0])
        self.ad_orders: dict[str, int] = defaultdict(int)
        self.seen_purchases = 0
        self.first_weekday = scenario.start.weekday()
        self.decisions_applied = 0

    def hour(self) -> None:
        """One hourly cycle at the current hour boundary, then an hour of delivery."""
        hour = self.market.hour
        state = self.observe(hour)
        result = run_cycle(state, seed=self.seed, recommend=False)
        self.apply(result.decisions)
        day = hour // HOURS_PER_DAY
        for ref in self.refs:
            cid = ref.campaign_id
            in_force = float(self.budget[cid]) if self.active[cid] else 0.0
            self.budget_hours[cid][day] += in_force
            self.creatives_by_day[cid][day] = tuple(ref.ads[n] for n in sorted(self.live_ads[cid]))
            if self.active[cid]:
                for name in self.live_ads[cid]:
                    self.ad_hours[ref.ads[name]] += 1
        self.market.advance(hours=1)

    # reading

    def _read_reports(self, hour: int) -> None:
        """Read the platforms' reports for the days not yet final (skipping those in outage).

        A platform's numbers are final up to its reporting delay; the delay is learned as
        the smallest lag ever seen between now and the newest reported hour, so a
        platform whose campaigns barely deliver (no rows) is not mistaken for a stale one.
        """
        today = hour // HOURS_PER_DAY
        scenario = self.market.scenario
        for platform in sorted({ref.platform for ref in self.refs}):
            if self.market.outage(platform):
                continue
            first_open = min(
                (
                    d
                    for d in range(today + 1)
                    if (d + 1) * HOURS_PER_DAY > self.reported_through[platform]
                ),
                default=today,
            )
            newest = None
            level = LEVELS[platform]
            for ref in (r for r in self.refs if r.platform == platform):
                for day in range(first_open, min(today, scenario.days - 1) + 1):
                    date = (scenario.start + timedelta(days=day)).date()
                    hourly = self.market.hourly_for(
                        platform, ref.account, level[2], ref.campaign_id, date
                    )
                    if hourly:
                        last = day * HOURS_PER_DAY + hourly[-1][0] + 1
                        newest = last if newest is None else max(newest, last)
                        self.hourly_spend[(ref.campaign_id, day)] = {
                            h: float(m.spend) for h, m in hourly
                        }
                    metrics = self.market.metrics_for(
                        platform, ref.account, level[2], ref.campaign_id, date
                    )
                    self.reports[(ref.campaign_id, day)] = (
                        float(metrics.spend),
                        metrics.conversions,
                        float(metrics.conversion_value),
                    )
                    for ad_id in ref.ads.values():
                        ad = self.market.metrics_for(platform, ref.account, level[0], ad_id, date)
                        self.ad_reports[(ad_id, day)] = (
                            float(ad.spend),
                            ad.conversions,
                            float(ad.clicks),
                        )
            if newest is not None:
                self.delay = min(self.delay, hour - newest)
            final = (
                hour - self.delay if self.delay < HOURS_PER_DAY else self.reported_through[platform]
            )
            self.reported_through[platform] = max(self.reported_through[platform], final)

    def _read_orders(self) -> None:
        for purchase in self.market.purchases(after_seq=self.seen_purchases):
            self.seen_purchases = purchase.seq
            if purchase.campaign_id not in self.by_id:
                continue
            day = (
                int((purchase.time - self.market.scenario.start).total_seconds() // 3600)
                // HOURS_PER_DAY
            )
            row = self.orders[(purchase.campaign_id, day)]
            row[0] += 1
            row[1] += purchase.value
            row[2] += purchase.tickets
            self.ad_orders[purchase.ad_id] += 1

    def observe(self, hour: int) -> SuiteState:
        self._read_reports(hour)
        self._read_orders()
        scenario = self.market.scenario
        today = hour // HOURS_PER_DAY
        campaigns = []
        for ref in self.refs:
            cid = ref.campaign_id
            through = self.reported_through[ref.platform]
            days = []
            for day in range(min(today, scenario.days - 1) + 1):
                spend, conversions, value = self.reports.get((cid, day), (0.0, 0.0, 0.0))
                sales, revenue, tickets = self.orders.get((cid, day), (0, 0.0, 0))
                hours_in_force = (
                    HOURS_PER_DAY if day < today else max(hour - day * HOURS_PER_DAY, 1)
                )
                days.append(
                    DayMetrics(
                        day=day,
                        spend=spend,
                        budget=self.budget_hours[cid][day] / hours_in_force,
                        attributed_conversions=int(sales),
                        attributed_revenue=revenue,
                        attributed_tickets=float(tickets),
                        platform_conversions=conversions,
                        platform_revenue=value,
                        complete=through >= (day + 1) * HOURS_PER_DAY,
                        active_creatives=self.creatives_by_day[cid].get(day, ()),
                    )
                )
            creatives = []
            for name, ad_id in ref.ads.items():
                spend = sum(v[0] for (a, _), v in self.ad_reports.items() if a == ad_id)
                platform_conv = sum(v[1] for (a, _), v in self.ad_reports.items() if a == ad_id)
                clicks = sum(v[2] for (a, _), v in self.ad_reports.items() if a == ad_id)
                creatives.append(
                    CreativeState(
                        creative_id=ad_id,
                        name=name,
                        active=name in self.live_ads[cid],
                        spend=spend,
                        attributed_conversions=self.ad_orders.get(ad_id, 0),
                        platform_conversions=platform_conv,
                        hours_live=self.ad_hours.get(ad_id, 0.0),
                        clicks=clicks,
                        # A scenario's creative is known by its name in every segment.
                        content=name,
                    )
                )
            campaigns.append(
                CampaignState(
                    campaign_id=cid,
                    platform=ref.platform,
                    campaign_type=self.segment[cid].campaign_type,
                    active=self.active[cid],
                    daily_budget=self.budget[cid],
                    days=tuple(days),
                    creatives=tuple(creatives),
                    budget_set_day=self.budget_set_day.get(cid),
                    paused_by_rule=cid in self.paused_by_rule,
                    weekly_cap_days=WEEKLY_CAP_DAYS.get(ref.platform),
                    # The platform refuses a daily budget under its minimum, as in production.
                    min_daily_budget=get_campaigns_connector(ref.platform).minimum_daily_budget(
                        scenario.currency
                    ),
                )
            )
        spent = sum(v[0] for v in self.reports.values())
        return SuiteState(
            hourly_profile=self._hourly_profile(today),
            budget_id=scenario.name,
            total_budget=Decimal(str(scenario.total_budget)),
            spent=Decimal(f"{spent:.2f}"),
            daily_limit=None
            if scenario.daily_budget_limit is None
            else Decimal(str(scenario.daily_budget_limit)),
            target_cpa=None if scenario.target_cpa is None else Decimal(str(scenario.target_cpa)),
            target_roas=None
            if scenario.target_roas is None
            else Decimal(str(scenario.target_roas)),
            flight_days=scenario.days,
            first_weekday=self.first_weekday,
            hour_of_flight=hour,
            reported_hours=min(self.reported_through.values()),
            campaigns=tuple(campaigns),
        )

    def _hourly_profile(self, today: int) -> tuple[float, ...] | None:
        """Each UTC hour's share of a day's spend, from the finished days' hourly reports."""
        by_hour = np.zeros(HOURS_PER_DAY)
        for (_, day), hours in self.hourly_spend.items():
            if day < today - 1:
                for hour, amount in hours.items():
                    by_hour[hour] += amount
        total = by_hour.sum()
        return tuple(float(v) for v in by_hour / total) if total > 0 else None

    # acting

    def apply(self, decisions: tuple[Decision, ...]) -> None:
        state = self.market.state
        for decision in decisions:
            ref = self.by_id[decision.campaign_id]
            cid = ref.campaign_id
            if self.market.outage(ref.platform):
                continue  # the platform is down: nothing applied, the next cycle retries
            if decision.kind == DecisionKind.SET_BUDGET and decision.daily_budget is not None:
                sim.set_daily_budget(state, ref, decision.daily_budget)
                self.budget[cid] = decision.daily_budget
            elif decision.kind == DecisionKind.PAUSE_CAMPAIGN:
                sim.set_campaign_active(state, ref, False)
                self.active[cid] = False
                if decision.rule == DecisionRule.CPA_GUARD:
                    self.paused_by_rule.add(cid)
            elif decision.kind == DecisionKind.RESUME_CAMPAIGN:
                sim.set_campaign_active(state, ref, True)
                self.active[cid] = True
            elif decision.kind == DecisionKind.PAUSE_CREATIVE and decision.creative_id:
                name = next(n for n, a in ref.ads.items() if a == decision.creative_id)
                sim.set_ad_active(state, ref, name, False)
                self.live_ads[cid].discard(name)
            if decision.plan_day is not None:
                self.budget_set_day[cid] = decision.plan_day
            self.decisions_applied += 1


def run_usher_decisions(scenario: Scenario, seed: int) -> Run:
    market = Market(scenario, seed=seed)
    loop = SimulatedUsherLoop(market, seed)
    for _ in range(scenario.hours):
        loop.hour()
    return score(market)


def run_usher(scenario: Scenario, seed: int) -> Run:
    """Usher's production path (bench/usher_flight.py): jobs, connectors, sandbox, ingest."""
    from usher_flight import fly

    flight = fly(scenario.raw, seed)
    for segment, reason in flight.not_run.items():
        print(f"seed {seed} usher: no campaign for {segment}: {reason}", flush=True)
    return score(flight.market)


RUNNERS: dict[str, Callable[[Scenario, int], Run]] = {
    "equal_split": run_equal_split,
    "seed_rules": run_seed_rules,
    "usher": run_usher,
    "usher_decisions": run_usher_decisions,
    "oracle": run_oracle,
}


# --- the report ----------------------------------------------------------------------------------


def summarize(runs: dict[str, list[Run]]) -> dict[str, dict[str, float | bool]]:
    oracle = [r.expected_revenue for r in runs["oracle"]]
    out = {}
    for name, rows in runs.items():
        ratios = [r.expected_revenue / o if o else 0.0 for r, o in zip(rows, oracle, strict=True)]

        def stats(values):
            return float(statistics.fmean(values)), float(statistics.pstdev(values))

        exp_mean, exp_sd = stats([r.expected_revenue for r in rows])
        real_mean, real_sd = stats([r.realized_revenue for r in rows])
        spend_mean, spend_sd = stats([r.spend for r in rows])
        ratio_mean, ratio_sd = stats(ratios)
        out[name] = {
            "expected_revenue": round(exp_mean, 2),
            "expected_revenue_sd": round(exp_sd, 2),
            "realized_revenue": round(real_mean, 2),
            "realized_revenue_sd": round(real_sd, 2),
            "spend": round(spend_mean, 2),
            "spend_sd": round(spend_sd, 2),
            "max_spend": round(max(r.spend for r in rows), 2),
            "roas": round(real_mean / spend_mean, 3) if spend_mean else 0.0,
            "tickets": round(statistics.fmean([r.tickets for r in rows]), 1),
            "overspent": any(r.overspent for r in rows),
            "ratio_to_oracle": round(ratio_mean, 4),
            "ratio_to_oracle_sd": round(ratio_sd, 4),
            "min_ratio_to_oracle": round(min(ratios), 4),
        }
    return out


def print_table(name: str, summary: dict, seeds: int, seconds: float) -> None:
    print(f"\n{name} — {seeds} seed(s), {seconds:.0f} s")
    header = f"{'strategy':<12} {'expected revenue':>20} {'realized revenue':>20} {'spend':>16} {'ROAS':>6} {'tickets':>8} {'overspend':>9} {'ratio to oracle':>17}"
    print(header)
    print("-" * len(header))
    for strategy, s in summary.items():
        print(
            f"{strategy:<12} {s['expected_revenue']:>11.0f} ± {s['expected_revenue_sd']:<6.0f} "
            f"{s['realized_revenue']:>11.0f} ± {s['realized_revenue_sd']:<6.0f} "
            f"{s['spend']:>8.0f} ± {s['spend_sd']:<5.0f} {s['roas']:>6.2f} {s['tickets']:>8.0f} "
            f"{'yes' if s['overspent'] else 'no':>9} {s['ratio_to_oracle']:>9.3f} ± {s['ratio_to_oracle_sd']:.3f}"
        )


def plot(path: str, name: str, runs: dict[str, list[Run]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for strategy, rows in runs.items():
        days = np.arange(len(rows[0].cumulative_revenue)) / HOURS_PER_DAY
        left.plot(days, np.mean([r.cumulative_revenue for r in rows], axis=0), label=strategy)
        right.plot(days, np.mean([r.cumulative_spend for r in rows], axis=0), label=strategy)
    left.set(title="cumulative expected revenue", xlabel="flight day")
    right.set(title="cumulative spend", xlabel="flight day")
    left.legend()
    fig.suptitle(name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def usher_flights_in_parallel(path: str, seeds: list[int], jobs: int) -> dict[int, Run]:
    """The production path's flights (the slow part: minutes each) in `jobs` processes at
    once, each on a database of its own (the bench database's name + `_job<slot>`), so
    flights never share rows; the cache is shared, each flight under its own key prefix
    (`usher_flight.own_cache_keys`). A process runs one flight and exits: each flight
    starts from a fresh Django, as a single-process run's seeds do not."""
    context = multiprocessing.get_context("spawn")
    slots = context.Manager().Queue()
    for slot in range(jobs):
        slots.put(slot)
    with ProcessPoolExecutor(jobs, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {
            seed: pool.submit(_usher_flight_in_a_process, path, seed, slots) for seed in seeds
        }
        return {seed: future.result() for seed, future in futures.items()}


def _usher_flight_in_a_process(path: str, seed: int, slots: queue.Queue[int]) -> Run:
    slot = slots.get()
    try:
        import common

        common.BENCH_DATABASE_URL = f"{common.BENCH_DATABASE_URL}_job{slot}"
        ensure_django()
        t0 = time.monotonic()
        run = run_usher(load_scenario(path), seed)
        print(
            f"seed {seed} usher flight done in job {slot} ({time.monotonic() - t0:.0f} s)",
            flush=True,
        )
        return run
    finally:
        slots.put(slot)


def ensure_django() -> None:
    """Django on the benchmark's own database (bench/common.py), migrated; as it is when
    a test calls `main` (pytest-django has set it up on the test database)."""
    from django.apps import apps

    if apps.ready:
        return
    from common import configure_environment, prepare_database, setup_django

    configure_environment()
    prepare_database()
    setup_django()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", required=True, help="a market scenario file (JSON)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds to average over (default 5)")
    parser.add_argument("--json", help="write the summary here")
    parser.add_argument("--plot", help="draw cumulative revenue and spend here (PNG)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated subset")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="usher flights run at once, each in its own process and database (default 1)",
    )
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    chosen = [s for s in STRATEGIES + EXTRA_STRATEGIES if s in args.strategies.split(",")]
    if "oracle" not in chosen:
        chosen.append("oracle")  # every ratio is to the oracle
    started = time.monotonic()
    seeds = [scenario.seed + k for k in range(args.seeds)]
    runs: dict[str, list[Run]] = {s: [] for s in chosen}
    flights: dict[int, Run] = {}
    if "usher" in chosen:
        if args.jobs > 1 and len(seeds) > 1:
            flights = usher_flights_in_parallel(args.scenario, seeds, args.jobs)
        else:
            ensure_django()
    for seed in seeds:
        for strategy in chosen:
            t0 = time.monotonic()
            run = flights.get(seed) if strategy == "usher" else None
            if run is None:
                run = RUNNERS[strategy](scenario, seed)
            runs[strategy].append(run)
            print(
                f"seed {seed} {strategy:<12} expected revenue {run.expected_revenue:>10.0f} "
                f"spend {run.spend:>9.2f} ({time.monotonic() - t0:.1f} s)",
                flush=True,
            )
    summary = summarize(runs)
    print_table(scenario.name, summary, args.seeds, time.monotonic() - started)
    if args.json:
        payload = {
            "scenario": scenario.name,
            "seeds": args.seeds,
            "strategies": {
                name: {
                    key: s[key]
                    for key in (
                        "expected_revenue",
                        "realized_revenue",
                        "spend",
                        "overspent",
                        "ratio_to_oracle",
                    )
                }
                | {
                    "spread": {k: s[k] for k in s if k.endswith("_sd")},
                    "tickets": s["tickets"],
                    "roas": s["roas"],
                }
                for name, s in summary.items()
            },
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    if args.plot:
        plot(args.plot, scenario.name, runs)
    usher = summary.get("usher")
    if usher and usher["overspent"]:
        print("FAIL: usher overspent the budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
