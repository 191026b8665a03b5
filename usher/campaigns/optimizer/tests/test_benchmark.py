"""The optimizer's benchmark in CI: one small scenario, one seed; usher must not overspend.

Not a timing check: it runs ``bench/optimizer.py`` as a script would and reads its JSON.
`usher` is the production path (bench/usher_flight.py): it empties the test database,
mounts its own sandbox and publishes, syncs, optimizes and attributes through Usher's
jobs, connectors and ingest API; so the test runs in a transaction-free database.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from usher.lib.redis_cache import is_redis
from usher.sandbox.market import load_scenario, model

ROOT = Path(__file__).resolve().parents[4]
SCENARIO = Path(__file__).with_name("scenarios") / "ci-small.json"


def load_bench(script: str = "optimizer"):
    spec = importlib.util.spec_from_file_location(
        f"bench_{script}", ROOT / "bench" / f"{script}.py"
    )
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up while the script is being loaded.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.django_db(transaction=True)
def test_the_benchmark_runs_and_usher_never_overspends(tmp_path):
    bench = load_bench()
    out = tmp_path / "result.json"
    status = bench.main(["--scenario", str(SCENARIO), "--seeds", "1", "--json", str(out)])
    result = json.loads(out.read_text())
    assert status == 0
    assert result["scenario"] == "ci: three days, three platforms"
    strategies = result["strategies"]
    assert set(strategies) == {"equal_split", "seed_rules", "usher", "oracle"}
    assert strategies["usher"]["overspent"] is False
    assert strategies["usher"]["spend"] <= 1200.01
    assert strategies["oracle"]["ratio_to_oracle"] == 1.0
    for name in ("expected_revenue", "realized_revenue", "spend", "overspent", "ratio_to_oracle"):
        assert name in strategies["usher"]
    # The production path published, spent and sold: the suite was live on the sandbox.
    assert strategies["usher"]["spend"] > 0 and strategies["usher"]["expected_revenue"] > 0


def test_the_probe_tells_the_decisions_the_true_curves_and_then_puts_the_learner_back():
    probe = load_bench("optimizer_probe")
    scenario = load_scenario(SCENARIO)
    segment = scenario.segments[0]
    live = {segment.creatives[1].name}
    told = probe.true_curve(scenario, 0, 1, live)
    k, b = model.curve(segment, 1)
    assert told.expected_conversions(150.0) == pytest.approx(
        k * segment.creatives[1].performance * -np.expm1(-150.0 / b)
    )
    learned_fit = probe.cycle._fit
    every = set(range(len(scenario.segments)))
    knowing = probe.run_probe(scenario, scenario.seed, True, every)
    assert probe.cycle._fit is learned_fit
    assert 0 < knowing <= 1.05
    assert probe.run_probe(scenario, scenario.seed, False, set()) != knowing


def test_the_oracle_spends_its_plan_through_the_weekly_caps():
    # 21 days on Meta with a weekday pattern: the plan lowers budgets late in a week,
    # which a 7-daily-budgets weekly cap would cut short unless the oracle raises them.
    bench = load_bench()
    scenario = load_scenario(ROOT / "bench" / "markets" / "example.json")
    plan = bench.oracle_plan(scenario)
    planned = sum(
        s.average_order_value
        * model.curve(s, d)[0]
        * model.demand(scenario, d)
        * max(c.performance for c in s.creatives)
        * -np.expm1(-plan[k, d] / model.curve(s, d)[1])
        for k, s in enumerate(scenario.segments)
        for d in range(scenario.days)
    )
    run = bench.run_oracle(scenario, scenario.seed)
    assert run.spend == pytest.approx(scenario.total_budget, rel=1e-3)
    assert not run.overspent
    assert run.expected_revenue == pytest.approx(planned, rel=1e-3)


def test_a_flight_keeps_its_cache_keys_to_itself():
    # Flights start from the same ids at the same simulated hours: one must not meet an
    # earlier or a parallel flight's counters and rate-limit windows.
    load_bench()
    import usher_flight

    cache.set("probe", "before the flight")
    with usher_flight.own_cache_keys():
        assert cache.get("probe") is None
        cache.set("probe", "the flight's")
        prefix = settings.CACHES["default"]["KEY_PREFIX"]
    assert cache.get("probe") == "before the flight"
    assert prefix != settings.CACHES["default"]["KEY_PREFIX"]


@pytest.mark.skipif(
    not is_redis(settings.CACHES["default"]),
    reason="deletes by key pattern on Redis (CI runs on Redis)",
)
def test_a_flights_keys_are_gone_from_redis_afterwards():
    load_bench()
    import usher_flight

    with usher_flight.own_cache_keys():
        cache.set("probe", "the flight's")
        flight = settings.CACHES["default"]
    with override_settings(CACHES={"default": flight}):
        assert cache.get("probe") is None


def test_the_oracle_plans_only_budgets_a_platform_takes_and_spends_its_plan():
    # thin-data: 13 RON a segment a day is under TikTok's 100 and Meta's 25 minimums.
    # The oracle's days are off or at least the minimum, and a day it leaves off after
    # a Meta day stays off (the weekly cap's raise must not switch it on).
    bench = load_bench()
    scenario = load_scenario(ROOT / "bench" / "markets" / "thin-data.json")
    plan = bench.oracle_plan(scenario)
    minimums = bench.platform_minimums(scenario)
    assert ((plan == 0) | (plan >= minimums[:, None] - 1e-9)).all()
    assert (plan == 0).any() and plan.sum() == pytest.approx(scenario.total_budget, rel=1e-6)
    run = bench.run_oracle(scenario, scenario.seed)
    assert not run.overspent
    assert run.spend == pytest.approx(plan.sum(), rel=1e-3)


def test_equal_split_shares_the_day_over_the_segments_whose_minimum_it_meets():
    bench = load_bench()
    scenario = load_scenario(ROOT / "bench" / "markets" / "thin-data.json")
    budgets = bench.equal_split_budgets(scenario)
    minimums = bench.platform_minimums(scenario)
    funded = [b for b in budgets if b > 0]
    per_day = min(scenario.total_budget / scenario.days, scenario.daily_budget_limit)
    assert sum(budgets) == pytest.approx(per_day)
    assert len(set(funded)) == 1
    assert all(b == 0 or b >= m for b, m in zip(budgets, minimums, strict=True))
    # One more segment (the lowest minimum left out) would bring the share under it.
    left_out = min(m for b, m in zip(budgets, minimums, strict=True) if b == 0)
    assert per_day / (len(funded) + 1) < left_out
