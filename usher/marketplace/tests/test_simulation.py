"""The marketplace driver: simulated hours, Usher's jobs on time, visits and orders in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from celery import shared_task
from celery.schedules import crontab
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from usher.events.models import TrackingEvent
from usher.marketplace.models import Order
from usher.marketplace.simulation import (
    UNLIMITED_CALLS_PER_HOUR,
    UNLIMITED_DAILY_OPERATIONS,
    BeatJobs,
    Marketplace,
    SandboxMarket,
    drive,
    equal_split_campaigns,
)
from usher.marketplace.tests.factories import EventFactory
from usher.sandbox.market import load_scenario
from usher.sandbox.tests.market_helpers import EXAMPLE, scenario_dict, segment

COUNTED_TASK = "usher.marketplace.tests.test_simulation.count_me"
RUNS: list[datetime] = []


LIMITS_SEEN: list[dict] = []


@shared_task(name=COUNTED_TASK)
def count_me() -> None:
    RUNS.append(timezone.now())
    LIMITS_SEEN.append(
        {
            "management": settings.PLATFORM_MANAGEMENT_RATE_LIMITS,
            "google_daily_operations": settings.GOOGLE_ADS_DAILY_OPERATIONS,
        }
    )


def test_beat_jobs_fall_due_at_their_simulated_times() -> None:
    start = datetime(2027, 3, 1, tzinfo=UTC)
    jobs = BeatJobs(
        {
            "five": {"task": "x", "schedule": 300.0},
            "hourly": {"task": "y", "schedule": timedelta(hours=1)},
        },
        start,
    )
    due = {minute: jobs.due(start + timedelta(minutes=minute)) for minute in range(1, 121)}
    assert [m for m, names in due.items() if "five" in names] == list(range(5, 121, 5))
    assert [m for m, names in due.items() if "hourly" in names] == [60, 120]


def test_jobs_more_frequent_than_the_minimum_interval_run_once_per_interval() -> None:
    start = datetime(2027, 3, 1, tzinfo=UTC)
    jobs = BeatJobs(
        {
            "sweep": {"task": "x", "schedule": 15.0},
            "at-ten": {"task": "y", "schedule": crontab(minute=10)},
        },
        start,
        min_interval=timedelta(minutes=15),
    )
    due = {minute: jobs.due(start + timedelta(minutes=minute)) for minute in range(1, 61)}
    assert [m for m, names in due.items() if "sweep" in names] == [15, 30, 45, 60]
    assert [m for m, names in due.items() if "at-ten" in names] == [10]  # on its own time


def test_without_visits_the_driver_still_sends_every_order(
    db, sandbox, marketplace, settings
) -> None:
    settings.CELERY_BEAT_SCHEDULE = {}
    event = EventFactory(organizer__client=marketplace)
    data = scenario_dict(segment(max_daily_conversions=60, half_saturation_spend=100), days=1)
    control = SandboxMarket(sandbox.control)
    control.load(data, seed=None)
    equal_split_campaigns(control, load_scenario(data), "https://tickets.example/e/1")
    summary = drive(control, Marketplace(marketplace, event, marketplace.api_key), 4, 0)
    assert summary.visits == 0 and not TrackingEvent.objects.filter(name="page_view").exists()
    assert summary.orders == len(control.purchases(0)[0]) == Order.objects.count() > 0


@pytest.fixture
def driven(db, sandbox, marketplace, settings):
    settings.CELERY_BEAT_SCHEDULE = {
        **settings.CELERY_BEAT_SCHEDULE,
        "count-me": {"task": COUNTED_TASK, "schedule": 1800.0},
    }
    RUNS.clear()
    LIMITS_SEEN.clear()
    event = EventFactory(organizer__client=marketplace)
    data = scenario_dict(
        segment(max_daily_conversions=60, half_saturation_spend=100),
        segment(platform="google_ads", max_daily_conversions=60, half_saturation_spend=100),
        days=2,
    )
    control = SandboxMarket(sandbox.control)
    control.load(data, seed=None)
    equal_split_campaigns(control, load_scenario(data), "https://tickets.example/e/1")
    summary = drive(control, Marketplace(marketplace, event, marketplace.api_key), 6, 3)
    return control, event, summary


def test_the_driver_runs_every_beat_job_at_its_simulated_time_new_ones_included(
    driven,
) -> None:
    _, _, summary = driven
    assert summary.hours == 6
    # The driver's clock moves a minute at a time: faster jobs run once a minute.
    sweep_seconds = settings.CELERY_BEAT_SCHEDULE["sweep-conversion-deliveries"]["schedule"]
    assert summary.jobs["sweep-conversion-deliveries"] == 6 * 3600 // max(60, sweep_seconds)
    assert summary.jobs["count-me"] == 12
    start = datetime(2027, 3, 1, tzinfo=UTC)
    assert [start + timedelta(minutes=30 * n) for n in range(1, 13)] == RUNS
    # Management limits count real hours (Google's developer token real days); a
    # simulated day plays in seconds without them.
    assert LIMITS_SEEN and all(
        rate >= UNLIMITED_CALLS_PER_HOUR
        for limits in LIMITS_SEEN
        for kinds in limits["management"].values()
        for rate, _burst in kinds.values()
    )
    assert all(
        limits["google_daily_operations"] >= UNLIMITED_DAILY_OPERATIONS for limits in LIMITS_SEEN
    )


def test_the_driver_sends_each_purchase_as_an_order_with_its_click_id_and_utm(driven) -> None:
    control, event, summary = driven
    purchases, _ = control.purchases(0)
    assert summary.orders == len(purchases) == Order.objects.filter(event=event).count() > 0
    google = next(p for p in purchases if p["click_id_param"] == "gclid")
    order = Order.objects.get(external_id=google["order_id"])
    assert order.gclid == google["click_id"]
    assert order.utm_source == "google" and order.utm_campaign == google["utm"]["utm_campaign"]
    assert order.value == pytest.approx(google["value"])
    assert order.tickets_count == google["tickets"]
    assert order.placed_at == datetime.fromisoformat(google["time"])


def test_the_driver_lands_a_sample_of_clicks_as_page_views(driven) -> None:
    control, event, summary = driven
    views = TrackingEvent.objects.filter(name="page_view", marketplace_event=event)
    assert views.count() == summary.visits > 0
    assert summary.visits <= 6 * 2 * 3  # hours x ads x per-ad sample
    buyer = next(p for p in control.purchases(0)[0] if p["click_id_param"] == "gclid")
    assert views.filter(gclid=buyer["click_id"]).exists()  # every buyer's click is a visit
    assert all(v.utm_medium == "paid" for v in views)


def test_the_command_refuses_bad_arguments_clearly(db, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--days"):
        call_command("simulate_market", "--scenario", str(EXAMPLE), "--days", "0")
    broken = tmp_path / "broken.json"
    broken.write_text('{"schema_version": 1}')
    with pytest.raises(CommandError, match=r"\$\.name"):
        call_command("simulate_market", "--scenario", str(broken), "--days", "1")
    with pytest.raises(CommandError, match="no marketplace client"):
        call_command(
            "simulate_market", "--scenario", str(EXAMPLE), "--days", "1", "--client", "nope"
        )


def test_the_command_drives_a_day_and_prints_a_summary(db, sandbox, marketplace) -> None:
    EventFactory(organizer__client=marketplace)
    out = StringIO()
    call_command(
        "simulate_market",
        "--scenario",
        str(EXAMPLE),
        "--days",
        "1",
        "--client",
        marketplace.slug,
        "--api-key",
        marketplace.api_key,
        "--sandbox-url",
        "http://sb",
        stdout=out,
        sandbox_http=sandbox.control,
    )
    text = out.getvalue()
    assert "Launched 5 equal-split campaigns." in text
    assert "Simulated 24 h" in text and "orders" in text
