"""sync_campaign_metrics: batched reads per account, idempotent storage, spend into the
ledger, and one failing account that does not stop the others."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from usher.campaigns import ledger, publishing, services
from usher.campaigns.metrics_sync import sync_campaign_metrics
from usher.campaigns.models import (
    AdAccount,
    BudgetLedgerEntry,
    CampaignCreative,
    CampaignMetrics,
    CampaignStatus,
    LedgerKind,
)
from usher.campaigns.tests.factories import (
    AdAccountFactory,
    BudgetFactory,
    CampaignFactory,
    report_spend,
)
from usher.marketplace.tests.factories import EventFactory
from usher.platforms import registry
from usher.platforms.base import ErrorKind, PlatformError
from usher.platforms.campaigns_base import AdAccount as ContractAccount
from usher.platforms.campaigns_base import MetricsLevel, MetricsRow
from usher.platforms.tests.campaign_helpers import record_delivery

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)  # 11:00 in Bucharest
TODAY = date(2026, 12, 3)
YESTERDAY = date(2026, 12, 2)


class FakeInsights:
    """Answers what the test put in `rows` per account; records every call."""

    platform: ClassVar[str] = "meta"
    rows: ClassVar[dict[str, list[MetricsRow]]] = {}
    calls: ClassVar[list[tuple[str, MetricsLevel, bool, tuple[str, ...]]]] = []
    failing: ClassVar[set[str]] = set()
    broken: ClassVar[set[str]] = set()

    def fetch_metrics(
        self,
        account: ContractAccount,
        *,
        level: MetricsLevel,
        since: date,
        until: date,
        hourly: bool,
        campaign_ids: Sequence[str] | None = None,
    ) -> list[MetricsRow]:
        self.calls.append((account.account_id, level, hourly, tuple(campaign_ids or ())))
        if account.account_id in self.failing:
            raise PlatformError(ErrorKind.TRANSIENT, "insights outage", platform="meta")
        if account.account_id in self.broken:
            raise KeyError("a platform answer Usher did not expect")
        return [
            row
            for row in self.rows.get(account.account_id, [])
            if row.level == level
            and (row.hour is not None) == hourly
            and since <= row.date <= until
        ]


@pytest.fixture
def insights(monkeypatch) -> type[FakeInsights]:
    FakeInsights.rows, FakeInsights.calls = {}, []
    FakeInsights.failing, FakeInsights.broken = set(), set()
    monkeypatch.setitem(registry._insights_factories, "meta", FakeInsights)
    return FakeInsights


def live_campaign(account: AdAccount, external_id: str, amount: str = "1000.00"):
    budget = BudgetFactory(organizer__client=account.client, requested_amount=Decimal(amount))
    services.confirm_payment(budget.pk, reference="TRF", amount_received=Decimal(amount), user=None)
    return CampaignFactory(
        budget=budget,
        ad_account=account,
        status=CampaignStatus.ACTIVE,
        external_campaign_id=external_id,
        external_adset_id=f"{external_id}-as",
    )


def hourly(campaign_id: str, day: date, hour: int, spend: str, **more) -> MetricsRow:
    return MetricsRow(
        MetricsLevel.CAMPAIGN, campaign_id, day, hour=hour, spend=Decimal(spend), **more
    )


@pytest.fixture
def account(marketplace) -> AdAccount:
    return AdAccountFactory(client=marketplace, platform="meta", account_id="act_1")


def test_it_stores_the_hourly_series_and_records_spend_in_the_ledger(db, insights, account) -> None:
    campaign = live_campaign(account, "c1")
    insights.rows["act_1"] = [
        hourly("c1", YESTERDAY, 20, "4.50", impressions=300, clicks=9, conversions=Decimal("1")),
        hourly("c1", YESTERDAY, 21, "5.50", conversion_value=Decimal("120.00")),
        hourly("c1", TODAY, 8, "2.25"),
        MetricsRow(
            MetricsLevel.AD, "c1", YESTERDAY, ad_group_id="c1-as", ad_id="ad9", spend=Decimal("10")
        ),
    ]

    summary = sync_campaign_metrics(now=NOW)

    assert summary.accounts == 1 and summary.failed_accounts == {}
    series = CampaignMetrics.objects.filter(campaign=campaign, level="campaign").order_by(
        "date", "hour"
    )
    assert [(m.date, m.hour, m.spend) for m in series] == [
        (YESTERDAY, 20, Decimal("4.50")),
        (YESTERDAY, 21, Decimal("5.50")),
        (TODAY, 8, Decimal("2.25")),
    ]
    assert CampaignMetrics.objects.get(level="ad").object_id == "ad9"
    assert ledger.spent_on(campaign, YESTERDAY) == Decimal("10.00")
    assert ledger.spent_on(campaign, TODAY) == Decimal("2.25")
    campaign.refresh_from_db()
    assert campaign.budget_spent == Decimal("12.25")
    assert campaign.budget.__class__.objects.get(pk=campaign.budget_id).spent_budget == Decimal(
        "12.25"
    )
    assert campaign.performance_metrics["platform"]["roas"] == "9.80"  # 120 / 12.25
    assert campaign.performance_metrics["usher"]["conversions"] == 0


def test_an_account_saved_with_an_unknown_time_zone_is_read_in_utc(db, insights, account) -> None:
    account.timezone = "Europe/Bucharst"  # a typo this machine's zone database lacks
    account.save()
    campaign = live_campaign(account, "c1")
    insights.rows["act_1"] = [hourly("c1", TODAY, 8, "2.25")]

    summary = sync_campaign_metrics(now=NOW)

    assert summary.failed_accounts == {}
    assert ledger.spent_on(campaign, TODAY) == Decimal("2.25")


def test_reading_a_day_again_replaces_it(db, insights, account) -> None:
    campaign = live_campaign(account, "c1")
    insights.rows["act_1"] = [hourly("c1", YESTERDAY, 20, "4.50")]
    sync_campaign_metrics(now=NOW)
    entries = BudgetLedgerEntry.objects.filter(kind=LedgerKind.SPENT).count()

    sync_campaign_metrics(now=NOW)

    assert CampaignMetrics.objects.filter(campaign=campaign).count() == 1
    assert BudgetLedgerEntry.objects.filter(kind=LedgerKind.SPENT).count() == entries
    assert ledger.spent_on(campaign) == Decimal("4.50")


def test_a_platform_revision_down_is_a_correcting_ledger_row(db, insights, account) -> None:
    campaign = live_campaign(account, "c1")
    insights.rows["act_1"] = [hourly("c1", YESTERDAY, 20, "4.50"), hourly("c1", YESTERDAY, 21, "1")]
    sync_campaign_metrics(now=NOW)
    insights.rows["act_1"] = [hourly("c1", YESTERDAY, 20, "4.00")]  # hour 21 withdrawn

    sync_campaign_metrics(now=NOW)

    amounts = list(
        BudgetLedgerEntry.objects.filter(campaign=campaign, kind=LedgerKind.SPENT)
        .order_by("id")
        .values_list("amount", flat=True)
    )
    assert amounts == [Decimal("5.50"), Decimal("-1.50")]
    assert CampaignMetrics.objects.filter(campaign=campaign).count() == 1


def test_one_call_per_account_and_level_whatever_the_number_of_campaigns(
    db, insights, account
) -> None:
    for n in range(5):
        live_campaign(account, f"c{n}")

    sync_campaign_metrics(now=NOW)

    assert [(level, hourly) for _, level, hourly, _ in insights.calls] == [
        (MetricsLevel.CAMPAIGN, True),
        (MetricsLevel.AD_GROUP, False),
        (MetricsLevel.AD, False),
    ]
    assert insights.calls[0][3] == ("c0", "c1", "c2", "c3", "c4")


def test_each_campaign_of_an_account_gets_its_own_spend_and_numbers_across_budgets(
    db, insights, account
) -> None:
    first, second = live_campaign(account, "c1"), live_campaign(account, "c2")
    sibling = CampaignFactory(
        budget=first.budget,
        ad_account=account,
        status=CampaignStatus.ACTIVE,
        external_campaign_id="c3",
    )
    insights.rows["act_1"] = [
        hourly("c1", YESTERDAY, 20, "4.50", clicks=3),
        hourly("c2", YESTERDAY, 20, "7.00", clicks=5),
        hourly("c2", TODAY, 8, "1.00"),
        hourly("c3", TODAY, 9, "2.00", clicks=1),
    ]

    sync_campaign_metrics(now=NOW)

    spent = {c.pk: ledger.spent_on(c) for c in (first, second, sibling)}
    assert spent == {
        first.pk: Decimal("4.50"),
        second.pk: Decimal("8.00"),
        sibling.pk: Decimal("2.00"),
    }
    for campaign in (first, second, sibling):
        campaign.refresh_from_db()
        assert campaign.budget_spent == spent[campaign.pk]
        assert campaign.performance_metrics["spend"] == str(spent[campaign.pk])
    assert [c.performance_metrics["clicks"] for c in (first, second, sibling)] == [3, 5, 1]
    for budget in (first.budget, second.budget):
        budget.refresh_from_db()
    assert (first.budget.spent_budget, second.budget.spent_budget) == (
        Decimal("6.50"),
        Decimal("8.00"),
    )


def test_a_failing_account_does_not_stop_the_others(db, insights, account, marketplace) -> None:
    other = AdAccountFactory(client=marketplace, platform="meta", account_id="act_2")
    broken = live_campaign(account, "c1")
    working = live_campaign(other, "c2")
    insights.failing = {"act_1"}
    insights.rows["act_2"] = [hourly("c2", TODAY, 7, "3.00")]

    summary = sync_campaign_metrics(now=NOW)

    assert summary.failed_accounts.keys() == {account.pk}
    assert ledger.spent_on(working) == Decimal("3.00")
    assert ledger.spent_on(broken) == Decimal("0")
    account.refresh_from_db()
    other.refresh_from_db()
    assert "insights outage" in account.last_error
    assert other.last_success_at is not None


def test_an_unexpected_error_in_one_account_is_recorded_and_the_rest_go_on(
    db, insights, account, marketplace
) -> None:
    other = AdAccountFactory(client=marketplace, platform="meta", account_id="act_2")
    live_campaign(account, "c1")
    working = live_campaign(other, "c2")
    insights.broken = {"act_1"}
    insights.rows["act_2"] = [hourly("c2", TODAY, 7, "3.00")]

    summary = sync_campaign_metrics(now=NOW)

    assert "internal error: KeyError" in summary.failed_accounts[account.pk]
    assert ledger.spent_on(working) == Decimal("3.00")


def test_rows_of_unknown_campaigns_and_days_outside_the_window_are_ignored(
    db, insights, account
) -> None:
    campaign = live_campaign(account, "c1")
    insights.rows["act_1"] = [hourly("zz", TODAY, 1, "9.99")]

    sync_campaign_metrics(now=NOW)

    assert not CampaignMetrics.objects.exists()
    assert ledger.spent_on(campaign) == Decimal("0")


def test_a_campaign_that_ended_lately_still_has_its_late_spend_read(db, insights, account) -> None:
    ended = live_campaign(account, "c1")
    ended.status, ended.ends_at = CampaignStatus.COMPLETED, NOW - timedelta(days=1)
    ended.save()
    long_ago = live_campaign(account, "c2")
    long_ago.status, long_ago.ends_at = CampaignStatus.COMPLETED, NOW - timedelta(days=30)
    long_ago.save()
    insights.rows["act_1"] = [hourly("c1", YESTERDAY, 23, "6.10")]

    sync_campaign_metrics(now=NOW)

    assert ledger.spent_on(ended) == Decimal("6.10")
    assert insights.calls[0][3] == ("c1",)


def test_paused_campaigns_are_read_but_unpublished_ones_are_not(db, insights, account) -> None:
    live_campaign(account, "c1")
    draft = live_campaign(account, "c2")
    draft.status = CampaignStatus.APPROVED
    draft.save()

    sync_campaign_metrics(now=NOW)

    assert insights.calls[0][3] == ("c1",)


def test_a_campaign_published_on_the_sandbox_has_its_spend_read_into_the_ledger(
    db, sandbox, marketplace, organizer
) -> None:
    account = AdAccountFactory(
        client=marketplace,
        platform="meta",
        account_id="act_1234567890",
        settings={"page_id": "1029384756", "pixel_id": "123456789012345"},
    )
    event = EventFactory(organizer=organizer, public_url="https://tix.example/e/rock")
    budget = BudgetFactory(organizer=organizer, event=event, requested_amount=Decimal("1000"))
    services.confirm_payment(budget.pk, reference="T", amount_received=Decimal("1000"), user=None)
    campaign = CampaignFactory(
        budget=budget,
        event=event,
        ad_account=account,
        status=CampaignStatus.APPROVED,
        targeting={"countries": ["RO"]},
        desired_daily_budget=Decimal("50.00"),
    )
    CampaignCreative.objects.create(
        campaign=campaign,
        headline="Rock Night",
        description="Tickets on sale",
        image_url="https://img.example/rock.jpg",
        landing_url=f"https://tix.example/e/rock?utm_campaign={campaign.reference}",
    )
    campaign = publishing.publish_campaign(campaign.pk)
    assert campaign.status == CampaignStatus.ACTIVE, campaign.status_reason
    day = timezone.now().astimezone(ZoneInfo(account.timezone)).date() - timedelta(days=1)
    record_delivery(sandbox).put(
        "meta", "campaign", campaign.external_campaign_id, day, spend=Decimal("37.50")
    )

    summary = sync_campaign_metrics()

    assert summary.failed_accounts == {}
    assert ledger.spent_on(campaign, day) == Decimal("37.50")
    campaign.refresh_from_db()
    assert campaign.budget_spent == Decimal("37.50")


def test_the_stored_rows_are_read_once_for_the_ledger_and_the_performance(
    db, insights, account
) -> None:
    campaign = live_campaign(account, "c1")
    earlier = TODAY - timedelta(days=10)  # before the look-back window: not re-read
    report_spend(campaign, earlier, Decimal("30.00"))
    CampaignMetrics.objects.filter(campaign=campaign).update(clicks=4)
    insights.rows["act_1"] = [hourly("c1", YESTERDAY, 20, "4.50", clicks=3)]
    metrics_table = CampaignMetrics._meta.db_table
    ledger_table = BudgetLedgerEntry._meta.db_table

    with CaptureQueriesContext(connection) as queries:
        sync_campaign_metrics(now=NOW)

    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert sum(f'FROM "{metrics_table}"' in sql for sql in selects) == 1
    # The ledger: what it holds, then the budget's totals after the correction.
    assert sum(f'FROM "{ledger_table}"' in sql for sql in selects) == 2
    campaign.refresh_from_db()
    assert campaign.budget_spent == Decimal("34.50")  # the earlier day counts
    assert ledger.spent_on(campaign) == Decimal("34.50")
    assert (campaign.performance_metrics["spend"], campaign.performance_metrics["clicks"]) == (
        "34.50",
        7,
    )
    assert campaign.performance_metrics["reported_until"] == YESTERDAY.isoformat()
