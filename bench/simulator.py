"""Market simulator speed: a 28-day flight with 10 campaigns, simulated hour by hour.

No database, no HTTP: the engine alone (what `python -m usher.sandbox.simulate` and the
optimizer's benchmark run). The scenario is bench/markets/thin-data.json cut to its
first 10 segments and stretched to 28 days, each segment one equal-split campaign with
its creatives (17 ads). Also times a full report read-back: every campaign's daily
Meta insights, GAQL rows and TikTok report rows through the sandbox's HTTP handlers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from usher.sandbox import create_app, sandbox_transport  # noqa: E402
from usher.sandbox.market import Market, load_scenario  # noqa: E402
from usher.sandbox.market.campaigns import DEFAULT_ACCOUNTS  # noqa: E402
from usher.sandbox.state import SandboxState  # noqa: E402

SCENARIO = ROOT / "bench" / "markets" / "thin-data.json"


def flight(days: int, campaigns: int) -> tuple[float, float, float, Market, int]:
    base = load_scenario(SCENARIO)
    scenario = base.with_changes(days=days, segments=base.raw["segments"][:campaigns])
    market = Market(scenario, SandboxState())
    ads = sum(len(ref.ads) for ref in market.launch_equal_split())
    started, cpu_started = time.perf_counter(), time.process_time()
    for day in range(days):
        market.advance(days=1)
        print(f"  day {day + 1}/{days}", end="\r", file=sys.stderr)
    simulated = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    started = time.perf_counter()
    read_reports(market, days)
    return simulated, cpu, time.perf_counter() - started, market, ads


def read_reports(market: Market, days: int) -> None:
    since = market.scenario.start.date().isoformat()
    until = (market.now.date()).isoformat()
    with httpx.Client(
        transport=sandbox_transport(create_app(market.state)), base_url="http://s"
    ) as http:
        http.get(
            f"/meta/v25.0/act_{DEFAULT_ACCOUNTS['meta']}/insights",
            params={
                "access_token": "sandbox-bench",
                "level": "ad",
                "time_increment": 1,
                "time_range": f'{{"since":"{since}","until":"{until}"}}',
                "fields": "ad_id,spend,clicks,actions,action_values",
            },
        ).raise_for_status()
        http.post(
            f"/google-ads/v25/customers/{DEFAULT_ACCOUNTS['google_ads']}/googleAds:search",
            headers={"Authorization": "Bearer sandbox-bench", "developer-token": "x"},
            json={
                "query": "SELECT ad_group_ad.ad.id, segments.date, metrics.cost_micros, "
                f"metrics.conversions FROM ad_group_ad WHERE segments.date BETWEEN '{since}' AND '{until}'"
            },
        ).raise_for_status()
        http.get(
            "/tiktok/open_api/v1.3/report/integrated/get/",
            headers={"Access-Token": "sandbox-bench"},
            params={"advertiser_id": DEFAULT_ACCOUNTS["tiktok"], "report_type": "BASIC",
                    "data_level": "AUCTION_AD", "dimensions": '["ad_id","stat_time_day"]',
                    "metrics": '["spend","complete_payment"]', "start_date": since,
                    "end_date": until, "page_size": 1000},
        ).raise_for_status()  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--campaigns", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for run in range(args.repeat):
        simulated, cpu, reports, market, ads = flight(args.days, args.campaigns)
        runs.append((simulated, reports, cpu))
        print(
            f"run {run + 1}/{args.repeat}: {simulated:.2f} s simulating ({cpu:.2f} s CPU), "
            f"{reports:.2f} s "
            f"reading reports back ({ads} ads, {len(market.purchases())} purchases)",
            file=sys.stderr,
        )
    simulate = statistics.median(r[0] for r in runs)
    read = statistics.median(r[1] for r in runs)
    cpu = statistics.median(r[2] for r in runs)
    hours = args.days * 24
    print(
        f"{args.days}-day flight, {args.campaigns} campaigns: {simulate:.2f} s to simulate "
        f"({cpu:.2f} s of CPU; {hours / simulate:,.0f} simulated hours/s), {read:.2f} s to "
        f"read every ad's daily reports back; median of {args.repeat}"
    )


if __name__ == "__main__":
    main()
