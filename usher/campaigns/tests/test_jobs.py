"""The campaigns' scheduled jobs: their beat entries and times, one task per budget or
account through run_job (idempotent, skipping while locked), the 06:00 rebalance in
the marketplace's time zone, and the notices it sends once per cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from usher.audiences.models import AudienceStatus, AudienceType, RemarketingAudience
from usher.campaigns import ledger, metrics_sync, tasks
from usher.campaigns.models import AutomatedCampaign, BudgetStatus, CampaignStatus
from usher.campaigns.suite import create_campaign_suite
from usher.campaigns.tests.factories import AdAccountFactory, report_spend
from usher.marketplace.simulation import BeatJobs
from usher.notifications.models import Notification, NotificationKind
from usher.ops.models import JobOutcome, JobRun

pytestmark = pytest.mark.django_db

# A winter Monday: Bucharest is UTC+2, so its 06:00 is 04:00 UTC.
MONDAY = datetime(2027, 1, 4, tzinfo=UTC)


def test_the_beat_schedule_runs_the_five_jobs_at_their_times() -> None:
    jobs = BeatJobs(settings.CELERY_BEAT_SCHEDULE, MONDAY)
    minutes: dict[str, list[int]] = {}
    for minute in range(1, 24 * 60 + 1):
        for name in jobs.due(MONDAY + timedelta(minutes=minute)):
            minutes.setdefault(name, []).append(minute)
    # Conversions: at least every 5 minutes as the plan asks (the safety-net sweeps run
    # every 15 and 30 s; the driver's clock moves a minute at a time).
    every_minute = list(range(1, 24 * 60 + 1))
    assert minutes["dispatch-due-deliveries"] == every_minute
    assert minutes["sweep-conversion-deliveries"] == every_minute
    assert minutes["sync-campaign-metrics"] == list(range(30, 24 * 60 + 1, 30))
    assert minutes["optimize-budgets"] == [60 * h + 10 for h in range(24)]
    # Daily jobs fire hourly and pick the marketplaces where it is 03:00 / 06:00 now.
    assert minutes["refresh-audiences"] == list(range(60, 24 * 60 + 1, 60))
    assert minutes["rebalance-budgets"] == list(range(60, 24 * 60 + 1, 60))
    assert settings.CELERY_BEAT_SCHEDULE["rebalance-budgets"]["task"].endswith(
        "rebalance_all_budgets_task"
    )


def test_the_rebalance_reaches_a_marketplace_at_six_in_its_own_time_zone(
    paid_budget, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    paid_budget.client.timezone = "Europe/Bucharest"
    paid_budget.client.save()
    queued: list[tuple[int, str]] = []
    monkeypatch.setattr(tasks.daily_rebalance_task, "delay", lambda *a: queued.append(a))
    for hour in range(24):
        monkeypatch.setattr(timezone, "now", lambda h=hour: MONDAY + timedelta(hours=h))
        with django_capture_on_commit_callbacks(execute=True):
            tasks.rebalance_all_budgets_task()
    assert queued == [(paid_budget.pk,)]  # at 04:00 UTC only


def on_day(monkeypatch, day: int) -> None:
    """Usher's clock `day` days from the real now."""
    start = REAL_NOW
    monkeypatch.setattr(timezone, "now", lambda: start + timedelta(days=day))


REAL_NOW = timezone.now()


def test_the_daily_rebalance_of_a_budget_runs_once_per_local_day(
    live_campaigns, monkeypatch
) -> None:
    budget = live_campaigns[0].budget
    for day in (0, 0, 1):
        on_day(monkeypatch, day)
        tasks.daily_rebalance_task(budget.pk)
    runs = JobRun.objects.filter(job="rebalance-budget", key=f"budget:{budget.pk}").order_by("pk")
    assert [r.counts.get("already_done", 0) for r in runs] == [0, 1, 0]
    assert runs.first().counts["campaigns"] == 3
    assert {r.client_id for r in runs} == {budget.client_id}


def test_the_optimization_of_a_budget_runs_once_per_hour(live_campaigns, platform) -> None:
    budget = live_campaigns[0].budget
    tasks.optimize_budget_task(budget.pk)
    tasks.optimize_budget_task(budget.pk)
    runs = JobRun.objects.filter(job="optimize-budget", key=f"budget:{budget.pk}").order_by("pk")
    assert [r.outcome for r in runs] == [JobOutcome.SUCCEEDED] * 2
    assert runs.first().counts["decisions"] > 0
    assert runs.last().counts == {"already_done": 1}


def test_a_part_skips_while_another_run_holds_its_lock(live_campaigns, platform) -> None:
    budget = live_campaigns[0].budget
    now = timezone.now()
    JobRun.objects.create(
        job="optimize-budget",
        key=f"budget:{budget.pk}",
        outcome=JobOutcome.RUNNING,
        started_at=now,
        lease_expires_at=now + timedelta(minutes=5),
    )
    calls = len(platform.calls)
    tasks.optimize_budget_task(budget.pk)
    latest = JobRun.objects.filter(job="optimize-budget").order_by("-pk").first()
    assert latest.outcome == JobOutcome.SKIPPED
    assert len(platform.calls) == calls
    assert not budget.log.filter(actor_label="optimizer").exists()


def test_the_dispatchers_queue_one_part_per_budget_and_per_account(
    live_campaigns, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    budgets, accounts = [], []
    monkeypatch.setattr(tasks.optimize_budget_task, "delay", budgets.append)
    monkeypatch.setattr(tasks.sync_account_metrics_task, "delay", lambda *a: accounts.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.optimize_budgets_task()
        tasks.sync_campaign_metrics_task()
    assert budgets == [live_campaigns[0].budget_id]
    # three campaigns, one account: one part, with its round and the budget it counts for
    [(account_id, round_id, round_budgets)] = accounts
    assert account_id == live_campaigns[0].ad_account_id and round_id
    assert round_budgets == [live_campaigns[0].budget_id]
    assert {r.job: r.counts["queued"] for r in JobRun.objects.all()} == {
        "optimize-budgets": 1,
        "sync-campaign-metrics": 1,
    }


@pytest.fixture
def two_account_budget(live_campaigns, marketplace):
    """The live campaigns' budget with its last campaign moved to a Google account."""
    google = AdAccountFactory(client=marketplace, platform="google_ads")
    AutomatedCampaign.objects.filter(pk=live_campaigns[-1].pk).update(ad_account=google)
    return live_campaigns[0].budget


def google_account_of(live_campaigns: list[AutomatedCampaign]) -> int:
    return AutomatedCampaign.objects.get(pk=live_campaigns[-1].pk).ad_account_id


def record_sync_round(monkeypatch, failing_account_id: int | None = None) -> list[tuple]:
    """Stub the accounts' reads and the re-pacing; return what happened, in order:
    ("read", account id) and ("rebalance", budget id)."""
    happened: list[tuple] = []

    def read(account_id: int) -> metrics_sync.SyncSummary:
        happened.append(("read", account_id))
        summary = metrics_sync.SyncSummary()
        if account_id == failing_account_id:
            summary.failed_accounts[account_id] = "meta transient HTTP 503"
        else:
            summary.budget_ids = set(
                AutomatedCampaign.objects.filter(ad_account_id=account_id).values_list(
                    "budget_id", flat=True
                )
            )
        return summary

    monkeypatch.setattr(metrics_sync, "sync_account_metrics", read)
    monkeypatch.setattr(
        tasks.rebalance_budget_task, "delay", lambda b: happened.append(("rebalance", b))
    )
    return happened


def test_a_budget_on_two_accounts_is_repaced_once_per_round_after_both_reads(
    two_account_budget, live_campaigns, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    happened = record_sync_round(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sync_campaign_metrics_task()
        tasks.sync_campaign_metrics_task()
    meta, google = live_campaigns[0].ad_account_id, google_account_of(live_campaigns)
    round_ = [("read", meta), ("read", google), ("rebalance", two_account_budget.pk)]
    assert happened == round_ * 2


def test_the_last_account_of_a_round_repaces_the_budget_even_when_its_own_read_failed(
    two_account_budget, live_campaigns, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    happened = record_sync_round(monkeypatch, failing_account_id=google_account_of(live_campaigns))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sync_campaign_metrics_task()
    assert happened[-1] == ("rebalance", two_account_budget.pk)
    assert [e for e in happened if e[0] == "rebalance"] == [happened[-1]]


def test_an_account_read_outside_a_round_repaces_its_budgets_at_once(
    two_account_budget, live_campaigns, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    happened = record_sync_round(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sync_account_metrics_task(live_campaigns[0].ad_account_id)
    assert happened[-1] == ("rebalance", two_account_budget.pk)


def test_the_daily_rebalance_lowers_daily_budgets_as_the_remainder_shrinks(
    daily_campaigns, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    live_campaigns = daily_campaigns
    budget = live_campaigns[0].budget
    start = REAL_NOW  # the days `on_day` moves the clock to
    zone = ZoneInfo(live_campaigns[0].ad_account.timezone)
    seen: list[Decimal] = []
    for day in range(8):
        for campaign in live_campaigns:
            campaign.refresh_from_db()
            # Each campaign spends all the platform may: its daily budget x 1.75.
            spend = (campaign.daily_budget or Decimal(0)) * Decimal("1.75")
            # on the account's day: from 22:00 UTC Bucharest is a day ahead of UTC; by
            # the hour (all in the first), so the reports pass midnight and free what
            # yesterday might still have reported
            local_day = (start + timedelta(days=day)).astimezone(zone).date()
            report_spend(campaign, local_day, spend, hour=0)
        on_day(monkeypatch, day)
        with django_capture_on_commit_callbacks(execute=True):
            tasks.daily_rebalance_task(budget.pk)
        seen.append(
            sum(
                (
                    c.daily_budget or Decimal(0)
                    for c in AutomatedCampaign.objects.filter(budget=budget)
                ),
                Decimal(0),
            )
        )
    # Spending at the platform's maximum shrinks the remainder faster than the days
    # left: the morning's budgets fall, then never rise again, pacing what is left to the
    # end date (how many mornings fall before they hold depends on where the account's
    # days and weeks fall against the hour the test runs; once they hold, each budget's
    # whole cents may round a cent either way).
    rounding = Decimal("0.01") * len(live_campaigns)
    assert seen[0] > seen[1], seen
    assert all(later <= earlier + rounding for earlier, later in pairwise(seen)), seen
    assert seen[-1] < seen[1]
    balances = ledger.balances(budget)
    assert balances.spent + balances.outstanding <= balances.total


def test_the_organizer_is_told_once_below_twenty_percent_and_once_at_exhaustion(
    daily_campaigns, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    live_campaigns = daily_campaigns
    budget = live_campaigns[0].budget
    day = timezone.now().date()

    def rebalance(day: int) -> None:
        on_day(monkeypatch, day)
        with django_capture_on_commit_callbacks(execute=True):
            tasks.daily_rebalance_task(budget.pk)

    def spend_each(total: Decimal) -> None:
        for campaign in live_campaigns:
            report_spend(campaign, day, total / 3)

    spend_each(Decimal("600.00"))
    rebalance(0)
    assert not Notification.objects.filter(organizer=budget.organizer).exists()
    spend_each(Decimal("850.00"))  # 150 of 1000 left
    rebalance(1)
    rebalance(2)
    low = Notification.objects.get(kind=NotificationKind.BUDGET_LOW)
    assert low.organizer_id == budget.organizer_id and "(15%)" in low.body
    spend_each(Decimal("1000.00"))  # nothing left
    rebalance(3)
    rebalance(4)
    budget.refresh_from_db()
    assert budget.status == BudgetStatus.EXHAUSTED
    exhausted = Notification.objects.filter(kind=NotificationKind.BUDGET_EXHAUSTED)
    assert exhausted.count() == 1 and exhausted.get().organizer_id == budget.organizer_id
    assert Notification.objects.filter(kind=NotificationKind.BUDGET_LOW).count() == 1


def test_staff_are_alerted_when_a_platform_reports_more_spend_than_usher_set(
    daily_campaigns, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    live_campaigns = daily_campaigns
    campaign = live_campaigns[0]
    campaign.refresh_from_db()
    other = live_campaigns[1]
    other.refresh_from_db()
    today = timezone.now().astimezone(ZoneInfo(campaign.ad_account.timezone)).date()
    # The most any budget Usher set lets the fake Meta spend (x1.75), and far more.
    report_spend(other, today, other.daily_budget * Decimal("1.75"))
    report_spend(campaign, today, Decimal("500.00"))
    for day in (0, 1):
        on_day(monkeypatch, day)
        with django_capture_on_commit_callbacks(execute=True):
            tasks.daily_rebalance_task(campaign.budget_id)
    [alert] = Notification.objects.filter(kind=NotificationKind.SPEND_ANOMALY)
    assert alert.organizer_id is None  # staff, not the organizer
    assert f"/{campaign.pk}/" in alert.link and "more spend than Usher set" in alert.title
    assert "500.00 spent" in alert.body


def test_an_ad_account_with_an_unknown_time_zone_still_gets_its_spend_alerts(
    daily_campaigns, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    campaign = daily_campaigns[0]
    campaign.refresh_from_db()
    campaign.ad_account.timezone = "Europe/Bucharst"  # a typo: its days are read in UTC
    campaign.ad_account.save()
    report_spend(campaign, timezone.now().astimezone(UTC).date(), Decimal("500.00"))
    on_day(monkeypatch, 0)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.daily_rebalance_task(campaign.budget_id)
    [alert] = Notification.objects.filter(kind=NotificationKind.SPEND_ANOMALY)
    assert "500.00 spent" in alert.body


def test_the_daily_rebalance_queues_a_campaign_whose_audience_became_ready(
    platform, paid_budget, event, django_capture_on_commit_callbacks
) -> None:
    suite = {c.campaign_type: c for c in create_campaign_suite(event, paid_budget)}
    retargeting = suite["retargeting"]
    assert retargeting.status == CampaignStatus.SKIPPED  # the viewers' audience is building
    # The 03:00 refresh built and synced it; Meta serves it.
    RemarketingAudience.objects.filter(
        organizer=event.organizer, audience_type=AudienceType.EVENT_VIEWERS, event=event
    ).update(status=AudienceStatus.ACTIVE, external_audience_id="aud-viewers", status_reason="")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.daily_rebalance_task(paid_budget.pk)

    retargeting.refresh_from_db()
    assert retargeting.status == CampaignStatus.PENDING_REVIEW  # in the staff's queue
    assert retargeting.status_reason == ""
    assert retargeting.targeting["include_audience_ids"] == ["aud-viewers"]
    assert AutomatedCampaign.objects.filter(budget=paid_budget).count() == len(suite)
