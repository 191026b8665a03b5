"""The cycle's parts, each checked where a mutation run (docs/mutation.md) showed that
`test_cycle.py`'s end-to-end tests let a fault through.

Those tests run whole cycles and markets and check what an organizer sees; a constant
or a boundary changed inside one step often leaves that picture intact. These tests
pin each step's rule on a small suite (pure: no database, milliseconds each).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from usher.campaigns.optimizer import cycle
from usher.campaigns.optimizer.state import CampaignState, SuiteState


def suite(campaigns, *, day=0, hour=0, total=3000.0, flight_days=10, **kwargs) -> SuiteState:
    """A suite at ``day``/``hour`` of a flight, every hour reported."""
    return SuiteState(
        budget_id="b",
        total_budget=Decimal(str(total)),
        spent=Decimal("0"),
        daily_limit=kwargs.pop("daily_limit", None),
        target_cpa=kwargs.pop("target_cpa", None),
        target_roas=kwargs.pop("target_roas", None),
        flight_days=flight_days,
        first_weekday=kwargs.pop("first_weekday", 0),
        hour_of_flight=day * 24 + hour,
        reported_hours=kwargs.pop("reported_hours", day * 24 + hour),
        campaigns=tuple(campaigns),
        **kwargs,
    )


def campaign(cid: str, budget: float = 100.0, **kwargs) -> CampaignState:
    return CampaignState(cid, "meta", "prospecting", True, Decimal(str(budget)), **kwargs)


def test_the_exploration_floor_is_a_tenth_of_the_equal_split_until_the_last_three_days():
    three = [campaign(str(i)) for i in range(3)]
    # 3,000 over 10 days and 3 campaigns: 100 a day each, a floor of 10.
    assert cycle._exploration_floor(suite(three, day=6)) == pytest.approx(10.0)
    assert cycle._exploration_floor(suite(three, day=7)) == 0.0
    # The daily limit, when lower, sets the day's money: 150 / 3 = 50, a floor of 5.
    limited = suite(three, day=0, daily_limit=Decimal("150"))
    assert cycle._exploration_floor(limited) == pytest.approx(5.0)
    assert cycle._exploration_floor(replace(limited, daily_limit=Decimal("3000"))) == (
        pytest.approx(10.0)
    )
