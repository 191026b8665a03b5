"""The market engine: delivery by the hour from the objects in force, caps, truth, purchases."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import timedelta

import pytest

from usher.sandbox.market import Market, model
from usher.sandbox.market.campaigns import (
    create_campaign,
    set_ad_active,
    set_campaign_active,
    set_daily_budget,
)
from usher.sandbox.market.engine import GOOGLE_MONTHLY_CAP_DAILY_BUDGETS
from usher.sandbox.state import Account, SandboxState
from usher.sandbox.tests.market_helpers import example, market, scenario, segment


def spend_by_hour(m: Market) -> dict[int, float]:
    totals: dict[int, float] = defaultdict(float)
    for row in m.truth():
        totals[row.hour] += row.spend
    return totals


def test_same_scenario_and_seed_give_identical_truth_and_purchases_however_the_clock_moves() -> (
    None
):
    runs = []
    for steps in ((24 * 7, {"hours": 1}), (7 * 24 * 3, {"minutes": 20}), (1, {"days": 7})):
        m = Market(example(), SandboxState())
        m.launch_equal_split()
        for _ in range(steps[0]):
            m.advance(**steps[1])  # type: ignore[arg-type]
        runs.append((m.truth(), m.purchases(), m.totals()))
    assert runs[0] == runs[1] == runs[2]
    assert runs[0][2]["realized_revenue"] > 0


def test_another_seed_draws_other_sales_around_the_same_expectation() -> None:
    totals = []
    for seed in (1, 2):
        m = Market(example(overdelivery=0), SandboxState(), seed=seed)
        m.launch_equal_split()
        m.advance(days=7)
        totals.append(m.totals())
    assert totals[0]["expected_revenue"] == pytest.approx(totals[1]["expected_revenue"])
    assert totals[0]["realized_revenue"] != totals[1]["realized_revenue"]


def test_a_budget_change_at_10_20_counts_from_11_00() -> None:
    m = market(segment(max_daily_conversions=5))
    ref = m.create_campaign("meta", "prospecting", 240)  # 10 an hour
    m.advance(hours=10, minutes=20)
    set_daily_budget(m.state, ref, 480)
    m.advance(hours=2)
    spend = spend_by_hour(m)
    assert spend[9] == pytest.approx(10) and spend[10] == pytest.approx(10)
    assert spend[11] == pytest.approx(20)


def test_a_pause_stops_spend_from_the_next_hour_and_a_change_on_the_hour_counts_at_once() -> None:
    m = market(segment(platform="tiktok"))
    ref = m.create_campaign("tiktok", "prospecting", 240)
    m.advance(hours=3, minutes=30)
    set_campaign_active(m.state, ref, False)
    m.advance(minutes=30)  # now 04:00 exactly
    m.advance(hours=2)
    spend = spend_by_hour(m)
    assert spend[3] == pytest.approx(10) and 4 not in spend and 5 not in spend
    set_campaign_active(m.state, ref, True)  # at 06:00 sharp: counts for hour 6
    m.advance(hours=1)
    assert spend_by_hour(m)[6] == pytest.approx(10)


def test_untagged_campaigns_and_campaigns_without_an_active_ad_spend_nothing() -> None:
    m = market(segment(), segment(campaign_type="retargeting"))
    create_campaign(m.state, "meta", "Rock night (no tag)", 100, ["poster"])
    create_campaign(m.state, "meta", "Rock night [lookalike]", 100, ["poster"])  # no segment
    ref = m.create_campaign("meta", "retargeting", 100)
    set_ad_active(m.state, ref, "poster", False)
    m.advance(days=1)
    assert m.truth() == [] and m.purchases() == []


def test_hourly_expectation_follows_the_model_and_a_day_sums_to_the_daily_formula() -> None:
    hourly = [0] * 8 + [1] * 16  # nothing at night
    m = market(segment(), demand={"hourly": hourly, "ramp": 1.0})
    m.create_campaign("meta", "prospecting", 320)
    m.advance(days=2)
    rows = {row.hour: row for row in m.truth()}
    assert min(rows) == 8 and all(h % 24 >= 8 for h in rows)
    sc = m.scenario
    day_one = sum(r.expected_conversions for r in rows.values() if r.hour >= 24)
    assert day_one == pytest.approx(
        model.daily_expected_conversions(sc, sc.segments[0], 1, 320), rel=1e-9
    )
    assert rows[34].spend == pytest.approx(20)  # 320 over 16 hours


def test_a_saturating_segment_buys_ever_fewer_sales_per_unit_of_money() -> None:
    per_money = []
    for budget in (50, 200, 800):
        m = market(segment(max_daily_conversions=400, half_saturation_spend=100))
        m.create_campaign("meta", "prospecting", budget)
        m.advance(days=7)
        per_money.append(sum(r.conversions for r in m.truth()) / (budget * 7))
    assert per_money[0] > per_money[1] > per_money[2]
    assert per_money[2] < per_money[0] / 5


def test_a_change_point_changes_delivery_from_its_day() -> None:
    m = market(
        segment(
            max_daily_conversions=300,
            change_points=[{"day": 3, "max_daily_conversions_multiplier": 0.2}],
        )
    )
    m.create_campaign("meta", "prospecting", 400)
    m.advance(days=6)
    by_day: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in m.truth():
        by_day[row.hour // 24][0] += row.expected_conversions
        by_day[row.hour // 24][1] += row.conversions
    assert by_day[3][0] == pytest.approx(by_day[2][0] * 0.2)
    assert sum(by_day[d][1] for d in (3, 4, 5)) < sum(by_day[d][1] for d in (0, 1, 2)) / 3


@pytest.mark.parametrize("platform", ["meta", "tiktok"])
def test_over_delivery_varies_days_but_never_passes_seven_budgets_a_calendar_week(
    platform: str,
) -> None:
    m = market(segment(platform=platform), overdelivery=1.0, days=21)
    m.create_campaign(platform, "prospecting", 100)
    m.advance(days=21)
    days: dict[int, float] = defaultdict(float)
    for row in m.truth():
        days[row.hour // 24] += row.spend
    assert max(days.values()) > 120 and min(days.values()) < 80  # over- and under-delivery
    for week in range(3):  # 2027-03-01 is a Monday: flight weeks are calendar weeks
        assert sum(days[d] for d in range(week * 7, week * 7 + 7)) <= 700 + 1e-6


def test_google_spends_at_most_two_budgets_a_day_and_30_4_a_month() -> None:
    m = market(segment(platform="google_ads"), overdelivery=1.0, days=31)
    m.create_campaign("google_ads", "prospecting", 100)
    m.advance(days=31)
    days: dict[int, float] = defaultdict(float)
    for row in m.truth():
        days[row.hour // 24] += row.spend
    assert max(days.values()) <= 200 + 1e-6
    assert sum(days.values()) <= GOOGLE_MONTHLY_CAP_DAILY_BUDGETS * 100 + 1e-6


@pytest.mark.parametrize("new_budget", [50, 300])
def test_after_a_google_budget_change_the_rest_of_the_month_spends_the_new_budget_a_day(
    new_budget: int,
) -> None:
    """Google's help: after a change, the rest of the month spends at most the new budget
    times the days left in it (the day of the change included). A cut on March 21 after
    20 days at 100 (2,000 spent, more than 30.4 x 50) leaves the campaign serving, at
    most 50 x 11 more; a raise lets it spend up to 300 x 11."""
    m = market(
        segment(platform="google_ads", max_daily_conversions=1000), overdelivery=1.0, days=31
    )
    ref = m.create_campaign("google_ads", "prospecting", 100)
    m.advance(days=20)
    set_daily_budget(m.state, ref, new_budget)
    m.advance(days=11)
    days: dict[int, float] = defaultdict(float)
    for row in m.truth():
        days[row.hour // 24] += row.spend
    rest = sum(days[d] for d in range(20, 31))
    assert all(days[d] > 0 for d in range(21, 31))  # it serves on every day left
    assert new_budget * 11 * 0.5 < rest <= new_budget * 11 + 1e-6
    assert max(days[d] for d in range(21, 31)) <= 2 * new_budget + 1e-6


def test_google_caps_a_day_at_twice_its_highest_budget_not_the_one_in_force_at_its_end() -> None:
    """Google: a budget cut during a day still lets the day spend twice the day's highest
    budget. Capped at twice the new budget, a cut from 240 to 60 at noon (120 already
    spent) stopped the afternoon's delivery, and spend control's worst case was never
    tested."""
    m = market(segment(platform="google_ads", max_daily_conversions=1000), days=2)
    ref = m.create_campaign("google_ads", "prospecting", 240)  # 10 an hour
    m.advance(hours=12)
    set_daily_budget(m.state, ref, 60)  # 2.50 an hour from 13:00, under a cap of 480
    m.advance(hours=12)
    spend = spend_by_hour(m)
    assert sum(spend[h] for h in range(12)) == pytest.approx(120)
    assert sum(spend[h] for h in range(12, 24)) == pytest.approx(30)
    m.advance(hours=24)  # the next day's highest is 60: at most 120
    assert sum(spend_by_hour(m)[h] for h in range(24, 48)) == pytest.approx(60)


def test_a_google_campaign_spends_nothing_from_its_end_date_in_the_customers_time_zone() -> None:
    m = market(segment(platform="google_ads"), days=3)
    ref = m.create_campaign("google_ads", "prospecting", 240)  # 10 an hour
    m.state.register_account(
        Account("google_ads", ref.account, settings={"time_zone": "Europe/Bucharest"})
    )
    fields = m.state.get_object("google_ads", f"campaigns:{ref.account}:{ref.campaign_id}")[
        "fields"
    ]  # type: ignore[index]
    fields["end_date_time"] = "2027-03-02 02:00:00"  # 00:00 UTC of the flight's second day
    m.advance(days=2)
    hours = {row.hour for row in m.truth()}
    assert max(hours) == 23 and min(hours) == 0


def test_a_lifetime_budget_is_paced_over_its_remaining_days_and_never_exceeded() -> None:
    m = market(segment(), overdelivery=0.5)
    ref = m.create_campaign("meta", "prospecting", 1)
    fields = m.state.get_object("meta", ref.campaign_id)["fields"]  # type: ignore[index]
    del fields["daily_budget"]
    fields["lifetime_budget"] = 70_000  # 700.00 in cents
    fields["stop_time"] = (m.scenario.start + timedelta(days=7)).isoformat()
    m.advance(days=10)
    spent = sum(row.spend for row in m.truth())
    assert 600 < spent <= 700 + 1e-6
    assert all(row.hour < 7 * 24 for row in m.truth())


def test_campaigns_of_one_segment_share_its_response_and_split_sales_by_spend() -> None:
    m = market(segment(max_daily_conversions=200, half_saturation_spend=150))
    m.create_campaign("meta", "prospecting", 100, name="A [prospecting]")
    m.create_campaign("meta", "prospecting", 300, name="B [prospecting]")
    m.advance(days=7)
    sc = m.scenario
    expected = sum(r.expected_conversions for r in m.truth())
    assert expected == pytest.approx(
        sum(model.daily_expected_conversions(sc, sc.segments[0], d, 400) for d in range(7))
    )
    by_campaign: dict[str, int] = defaultdict(int)
    for purchase in m.purchases():
        by_campaign[purchase.campaign_id] += 1
    small, big = sorted(by_campaign.values())
    assert 2 < big / small < 4.5  # 3:1 in expectation


def test_ads_of_better_creatives_sell_more_and_pausing_the_worse_one_raises_expectation() -> None:
    creatives = [
        {"name": "poster", "performance": 0.5},
        {"name": "crowd video", "performance": 1.5},
    ]
    both = market(segment(max_daily_conversions=300, creatives=creatives))
    ref = both.create_campaign("meta", "prospecting", 200)
    both.advance(days=5)
    sales = defaultdict(int)
    for purchase in both.purchases():
        sales[purchase.ad_id] += 1
    assert sales[ref.ads["crowd video"]] > 2 * sales[ref.ads["poster"]]
    best = market(segment(max_daily_conversions=300, creatives=creatives))
    best_ref = best.create_campaign("meta", "prospecting", 200)
    set_ad_active(best.state, best_ref, "poster", False)
    best.advance(days=5)
    ratio = sum(r.expected_conversions for r in best.truth()) / sum(
        r.expected_conversions for r in both.truth()
    )
    assert ratio == pytest.approx(1.5)  # q: 1.5 alone against the mean 1.0


def test_purchases_carry_click_ids_utm_tags_values_and_tickets_in_time_order() -> None:
    m = market(
        segment(platform="google_ads", order_value_cv=0.5, tickets_per_order=2.5),
        segment(platform="tiktok"),
    )
    m.create_campaign("google_ads", "prospecting", 300)
    m.create_campaign("tiktok", "prospecting", 300)
    m.advance(days=3)
    purchases = m.purchases()
    assert [p.time for p in purchases] == sorted(p.time for p in purchases)
    assert [p.seq for p in purchases] == list(range(1, len(purchases) + 1))
    google = [p for p in purchases if p.platform == "google_ads"]
    tiktok = [p for p in purchases if p.platform == "tiktok"]
    assert google and tiktok
    assert all(
        p.click_id_param == "gclid" and f"gclid={p.click_id}" in p.landing_url for p in google
    )
    assert all(p.click_id_param == "ttclid" for p in tiktok)
    assert google[0].utm["utm_source"] == "google" and tiktok[0].utm["utm_source"] == "tiktok"
    assert len({p.click_id for p in purchases}) == len(purchases)
    values = [p.value for p in google]
    assert len(set(values)) > 1  # log-normal order values
    mean = sum(values) / len(values)
    assert 70 < mean < 130
    assert sum(p.tickets for p in google) / len(google) == pytest.approx(2.5, abs=0.4)
    assert all(p.tickets >= 1 for p in google)
    assert m.purchases(after_seq=len(purchases) - 1) == purchases[-1:]
    assert sum(p.value for p in purchases) == pytest.approx(sum(r.revenue for r in m.truth()))
    assert sum(p.tickets for p in purchases) == sum(r.tickets for r in m.truth())


def test_visits_include_every_buyers_click_and_a_capped_sample_of_the_rest() -> None:
    m = market(segment(max_daily_conversions=200))
    m.create_campaign("meta", "prospecting", 2400)
    m.advance(hours=5)
    bought = {p.click_id for p in m.purchases() if p.time.hour == 3}
    visits = m.visits(3, per_ad=50)
    assert bought and bought <= {v.click_id for v in visits}
    assert len(visits) == 50
    everything = m.visits(3)
    clicks = sum(r.clicks for r in m.truth() if r.hour == 3)
    assert len(everything) == clicks
    assert m.visits(3) == everything  # the same sample every time


def test_the_example_under_equal_split_without_over_delivery_matches_the_closed_form() -> None:
    m = Market(example(overdelivery=0), SandboxState())
    m.launch_equal_split()
    m.run_to_end()
    closed = model.equal_split_closed_form(m.scenario)
    totals = m.totals()
    assert totals["expected_revenue"] == pytest.approx(closed.expected_revenue, rel=0.01)
    assert totals["spend"] <= m.scenario.total_budget + 0.01
    for simulated, forecast in zip(totals["segments"], closed.segments, strict=True):
        assert simulated["spend"] == pytest.approx(forecast.spend, rel=0.001)


def test_the_closed_form_is_the_sum_of_daily_expectations() -> None:
    sc = scenario(segment(max_daily_spend=50), days=3, total_budget=300)
    forecast = model.equal_split_closed_form(sc)
    k, b = model.curve(sc.segments[0], 0)
    expected = sum(k * model.demand(sc, d) * (1 - math.exp(-50 / b)) for d in range(3))
    assert forecast.spend == pytest.approx(150)  # capped by max_daily_spend
    assert forecast.expected_conversions == pytest.approx(expected)
    assert forecast.expected_revenue == pytest.approx(expected * 100)


def test_tiktok_ad_groups_spend_their_own_budgets_capped_by_the_campaigns() -> None:
    def day_spend(campaign_budget_mode: str) -> float:
        m = market(segment(platform="tiktok"))
        ref = m.create_campaign("tiktok", "prospecting", 100)
        campaign = m.state.get_object("tiktok", ref.campaign_id)["fields"]  # type: ignore[index]
        campaign["budget_mode"] = campaign_budget_mode
        group = m.state.get_object("tiktok", ref.group_id)
        ad = m.state.get_object("tiktok", ref.ads["poster"])
        group["fields"].update(budget_mode="BUDGET_MODE_DAY", budget=80.0)  # type: ignore[index]
        twin_group = dict(group, id="9100", fields=dict(group["fields"], adgroup_id="9100"))  # type: ignore[arg-type]
        twin_ad = dict(ad, id="9101", fields=dict(ad["fields"], adgroup_id="9100"))  # type: ignore[arg-type]
        m.state.put_object("tiktok", "9100", twin_group)
        m.state.put_object("tiktok", "9101", twin_ad)
        m.advance(days=1)
        return sum(row.spend for row in m.truth())

    assert day_spend("BUDGET_MODE_DAY") == pytest.approx(100)  # two 80s, capped at 100
    assert day_spend("BUDGET_MODE_INFINITE") == pytest.approx(160)


def test_an_ad_in_review_or_disapproved_delivers_nothing() -> None:
    m = market(segment())
    ref = m.create_campaign("meta", "prospecting", 240)
    account = m.state.register_account(
        Account("meta", ref.account, settings={"ad_review_seconds": 2 * 3600})
    )
    for ad_id in ref.ads.values():  # submitted now, as an advertiser's new ad would be
        m.state.get_object("meta", ad_id)["created_at"] = m.state.now()
    m.advance(hours=2)
    assert sum(spend_by_hour(m).values()) == 0

    m.advance(hours=1)
    assert spend_by_hour(m)[2] == pytest.approx(10)

    account.settings["ad_review_outcome"] = "disapprove"
    m.advance(hours=1)
    assert spend_by_hour(m).get(3, 0) == 0
