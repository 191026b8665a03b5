"""The suite's snapshot: where the flight stands, and how amounts are shown."""

from __future__ import annotations

from decimal import Decimal

from usher.campaigns.optimizer.state import CampaignState, DayMetrics, SuiteState


def suite(hour_of_flight=0, campaigns=(), currency="EUR"):
    return SuiteState(
        budget_id="b",
        total_budget=Decimal("1000"),
        spent=Decimal("0"),
        daily_limit=None,
        target_cpa=None,
        target_roas=None,
        flight_days=30,
        first_weekday=0,
        hour_of_flight=hour_of_flight,
        reported_hours=hour_of_flight,
        campaigns=tuple(campaigns),
        currency=currency,
    )


def campaign(*days):
    return CampaignState("c", "meta", "prospecting", True, Decimal("50"), tuple(days))


def test_the_flight_day_and_hour_come_from_the_hour_of_flight():
    assert (suite(0).day, suite(0).hour) == (0, 0)
    assert (suite(23).day, suite(23).hour) == (0, 23)
    assert (suite(24).day, suite(24).hour) == (1, 0)
    assert (suite(24 * 3 + 5).day, suite(24 * 3 + 5).hour) == (3, 5)


def test_amounts_are_shown_in_whole_units_with_the_currency():
    assert suite().money(1234.6) == "1235 EUR"
    assert suite(currency="").money(12.2) == "12"


def test_sales_value_is_known_once_a_finished_day_priced_a_sale():
    unpriced = DayMetrics(0, 10.0, 10.0, attributed_conversions=2)
    assert not suite(campaigns=[campaign(unpriced)]).sales_value_known
    assert not suite().sales_value_known
    ours = DayMetrics(1, 10.0, 10.0, attributed_revenue=40.0)
    assert suite(campaigns=[campaign(unpriced, ours)]).sales_value_known
    theirs = DayMetrics(1, 10.0, 10.0, platform_revenue=40.0)
    assert suite(campaigns=[campaign(unpriced), campaign(theirs)]).sales_value_known


def test_a_day_still_being_reported_prices_nothing_yet():
    partial = DayMetrics(
        1, 10.0, 10.0, attributed_revenue=40.0, platform_revenue=50.0, complete=False
    )
    assert not suite(campaigns=[campaign(partial)]).sales_value_known
