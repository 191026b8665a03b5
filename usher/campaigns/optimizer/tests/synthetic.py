"""A day-level market drawn from the optimizer's own model, for tests without a simulator.

Each day every live campaign spends its budget times a random over/under-delivery,
and sells Poisson(a * demand(d) * q * (1 - exp(-S/b))) tickets orders, attributed to
it (and over-counted by its platform). The optimizer runs once a day at midnight with
yesterday fully reported, and its decisions are applied as the job would.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np

from usher.campaigns.optimizer.curves import DemandPattern
from usher.campaigns.optimizer.cycle import run_cycle
from usher.campaigns.optimizer.decisions import DecisionKind
from usher.campaigns.optimizer.state import (
    CampaignState,
    CreativeState,
    DayMetrics,
    Override,
    SuiteState,
)


@dataclass
class TrueCampaign:
    a: float
    b: float
    value: float
    qualities: tuple[float, ...] = (1.0,)
    overcount: float = 1.0
    change: tuple[int, float] | None = None  # (day, multiplier on a)

    def a_on(self, day: int) -> float:
        return self.a * (self.change[1] if self.change and day >= self.change[0] else 1.0)


@dataclass
class SyntheticMarket:
    campaigns: list[TrueCampaign]
    days: int
    total_budget: float
    daily_limit: float | None = None
    ramp: float = 0.0
    overdelivery: float = 0.2
    target_cpa: float | None = None
    target_roas: float | None = None
    overrides: dict[int, Override] = field(default_factory=dict)

    def demand(self) -> np.ndarray:
        return DemandPattern(self.days, 0, self.ramp).factors()

    def expected_revenue(self, spend: np.ndarray, quality: np.ndarray) -> float:
        """Expected revenue of daily spend (campaigns x days) with the mean quality in force."""
        demand = self.demand()
        total = 0.0
        for i, c in enumerate(self.campaigns):
            for d in range(self.days):
                total += (
                    c.value * c.a_on(d) * demand[d] * quality[i, d] * -np.expm1(-spend[i, d] / c.b)
                )
        return total

    def run(self, seed: int, strategy: str = "usher") -> tuple[float, float, list]:
        """(expected revenue, total spend, every decision) of one flight."""
        rng = np.random.default_rng(seed)
        n = len(self.campaigns)
        per_day = self.total_budget / self.days
        if self.daily_limit is not None:
            per_day = min(per_day, self.daily_limit)
        budgets = np.full(n, round(per_day / n, 2))
        for i, o in self.overrides.items():
            budgets[i] = float(o.daily_budget or 0)
        active = np.ones(n, dtype=bool)
        live = [[True] * len(c.qualities) for c in self.campaigns]
        history: list[list[DayMetrics]] = [[] for _ in range(n)]
        creative_totals = [[[0.0, 0] for _ in c.qualities] for c in self.campaigns]
        set_day: dict[int, int] = {}
        spend_plan = np.zeros((n, self.days))
        quality_plan = np.zeros((n, self.days))
        decisions = []
        spent = 0.0
        demand = self.demand()
        for day in range(self.days):
            if strategy == "usher":
                state = self._state(
                    day, budgets, active, live, history, creative_totals, set_day, spent
                )
                result = run_cycle(state, seed=seed, recommend=False)
                decisions += result.decisions
                for decision in result.decisions:
                    i = int(decision.campaign_id)
                    if decision.kind == DecisionKind.SET_BUDGET:
                        budgets[i] = float(decision.daily_budget)
                    elif decision.kind == DecisionKind.PAUSE_CAMPAIGN:
                        active[i] = False
                    elif decision.kind == DecisionKind.RESUME_CAMPAIGN:
                        active[i] = True
                    elif decision.kind == DecisionKind.PAUSE_CREATIVE:
                        live[i][int(decision.creative_id.split("-")[1])] = False
                    if decision.plan_day is not None:
                        set_day[i] = decision.plan_day
            for i, c in enumerate(self.campaigns):
                spend = (
                    budgets[i] * rng.uniform(1 - self.overdelivery, 1 + self.overdelivery)
                    if active[i]
                    else 0.0
                )
                qualities = [q for q, on in zip(c.qualities, live[i], strict=True) if on]
                q = float(np.mean(qualities))
                mean = c.a_on(day) * demand[day] * q * -np.expm1(-spend / c.b)
                sales = int(rng.poisson(mean))
                spent += spend
                spend_plan[i, day] = spend
                quality_plan[i, day] = q
                on = [k for k, flag in enumerate(live[i]) if flag]
                weights = np.array([c.qualities[k] for k in on])
                split = rng.multinomial(sales, weights / weights.sum())
                for k, count in zip(on, split, strict=True):
                    creative_totals[i][k][0] += spend / len(on)
                    creative_totals[i][k][1] += int(count)
                history[i].append(
                    DayMetrics(
                        day=day,
                        spend=spend,
                        budget=budgets[i] if active[i] else 0.0,
                        attributed_conversions=sales,
                        attributed_revenue=sales * c.value,
                        attributed_tickets=sales * 2.0,
                        platform_conversions=sales * c.overcount,
                        platform_revenue=sales * c.value * c.overcount,
                        active_creatives=tuple(f"{i}-{k}" for k in on),
                    )
                )
        return self.expected_revenue(spend_plan, quality_plan), spent, decisions

    def _state(
        self, day, budgets, active, live, history, creative_totals, set_day, spent
    ) -> SuiteState:
        campaigns = []
        for i, _ in enumerate(self.campaigns):
            creatives = tuple(
                CreativeState(f"{i}-{k}", f"creative {k}", live[i][k], s, c, 0.0, 24.0 * day)
                for k, (s, c) in enumerate(creative_totals[i])
            )
            campaigns.append(
                CampaignState(
                    campaign_id=str(i),
                    platform="meta" if i % 2 == 0 else "google_ads",
                    campaign_type="prospecting",
                    active=bool(active[i]),
                    daily_budget=Decimal(f"{budgets[i]:.2f}"),
                    days=tuple(history[i]),
                    creatives=creatives,
                    override=self.overrides.get(i),
                    budget_set_day=set_day.get(i),
                )
            )
        return SuiteState(
            budget_id="b",
            total_budget=Decimal(str(self.total_budget)),
            spent=Decimal(f"{spent:.2f}"),
            daily_limit=None if self.daily_limit is None else Decimal(str(self.daily_limit)),
            target_cpa=None if self.target_cpa is None else Decimal(str(self.target_cpa)),
            target_roas=None if self.target_roas is None else Decimal(str(self.target_roas)),
            flight_days=self.days,
            first_weekday=0,
            hour_of_flight=day * 24,
            reported_hours=day * 24,
            campaigns=tuple(campaigns),
        )


def with_overrides(market: SyntheticMarket, overrides: dict[int, Override]) -> SyntheticMarket:
    return replace(market, overrides=overrides)
