"""How long spend control's arithmetic takes for a budget with many campaigns.

Pure (no database, no platform): `plan_budgets` for budgets of N campaigns on the three
platforms' over-delivery rules, over flights of 1 to 60 days, squeezed (the remainder
covers a third of the wishes, so daily budgets scale and move to lifetime budgets) and
not. It runs inside every re-pacing, once per budget, under the budget's lock.

    .venv/bin/python bench/spend_safety.py --campaigns 10 100 1000 --repeat 50
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from usher.campaigns.spend_safety import (
    CampaignNeed,
    OverdeliveryRule,
    daily_budget_multiplier,
    plan_budgets,
)

RULES = [
    OverdeliveryRule(Decimal("1.75"), Decimal("7")),  # Meta
    OverdeliveryRule(Decimal("2.0"), None),  # Google Ads
    OverdeliveryRule(Decimal("1.25"), None),  # TikTok
]


def needs(count: int, rng: random.Random) -> list[CampaignNeed]:
    made = []
    for key in range(count):
        days = rng.randint(1, 60)
        weeks = [7] * (days // 7) + ([days % 7] if days % 7 else [])
        rule = RULES[key % 3]
        made.append(
            CampaignNeed(
                key=key,
                desired_daily_budget=Decimal(rng.randint(500, 20000)) / 100,
                days_left=days,
                daily_multiplier=daily_budget_multiplier(rule, weeks),
                minimum_daily_budget=Decimal(rng.choice([1, 5, 20])),
                can_use_lifetime=key % 3 == 0,
            )
        )
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    rng = random.Random(7)
    print(f"plan_budgets, {args.repeat} runs per size (median, p95), seed 7")
    for count in args.campaigns:
        batch = needs(count, rng)
        wanted = sum(n.desired_daily_budget * n.daily_multiplier for n in batch)
        for label, available in (("fits", wanted * 2), ("squeezed", wanted / 3)):
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                plan = plan_budgets(available, batch)
                times.append((time.perf_counter() - start) * 1000)
            assert sum(s.exposure for s in plan) <= available
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(
                f"  {count:>5} campaigns, {label:<8}: median {statistics.median(times):8.2f} ms,"
                f" p95 {p95:8.2f} ms"
            )
    print("done: every plan's exposures stayed within the money available")


if __name__ == "__main__":
    main()
