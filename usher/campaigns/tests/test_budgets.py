"""Asking for a budget, confirming the transfer, and the ledger that explains it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.http import Http404

from usher.campaigns import ledger, services
from usher.campaigns.models import (
    ZERO,
    BudgetLedgerEntry,
    BudgetStatus,
    CampaignSettings,
    LedgerKind,
    OptimizationLogEntry,
)
from usher.campaigns.tests.factories import AdAccountFactory, BudgetFactory, CampaignFactory
from usher.lib.errors import InvalidInput
from usher.marketplace.tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_a_budget_defaults_to_the_marketplaces_currency_and_targets(organizer):
    CampaignSettings.objects.create(
        client=organizer.client,
        default_target_roas=Decimal("4.50"),
        default_target_cpa=Decimal("30"),
    )
    budget = services.request_budget(organizer, services.BudgetRequest(amount=Decimal("500")))
    assert budget.currency == organizer.client.currency == "RON"
    assert budget.status == BudgetStatus.PENDING_PAYMENT
    assert (budget.target_roas, budget.target_cpa) == (Decimal("4.50"), Decimal("30"))
    assert budget.event is None  # a general budget: all the organizer's events


def test_a_budget_in_another_currency_than_its_ad_account_is_refused(organizer):
    AdAccountFactory(client=organizer.client, platform="meta", currency="RON")
    with pytest.raises(InvalidInput) as caught:
        services.request_budget(
            organizer, services.BudgetRequest(amount=Decimal("500"), currency="EUR")
        )
    assert caught.value.loc == ["body", "currency"]


def test_another_organizers_event_is_not_found(organizer):
    foreign = EventFactory()
    with pytest.raises(Http404):
        services.request_budget(
            organizer, services.BudgetRequest(amount=Decimal("5"), event_id=foreign.pk)
        )


@pytest.mark.parametrize(
    ("allocations", "strategy", "loc"),
    [
        (
            {"snapchat": {"percentage": 10}},
            "equal_split",
            ["body", "platform_allocations", "snapchat"],
        ),
        (
            {"meta": {"percentage": 70}, "tiktok": {"percentage": 40}},
            "equal_split",
            ["body", "platform_allocations"],
        ),
        ({"meta": {"percentage": 60}}, "manual", ["body", "platform_allocations"]),
        (
            {"meta": {"percentage": 100, "daily_limit": 0}},
            "manual",
            ["body", "platform_allocations", "meta", "daily_limit"],
        ),
    ],
)
def test_bad_platform_allocations_name_the_field(organizer, allocations, strategy, loc):
    with pytest.raises(InvalidInput) as caught:
        services.request_budget(
            organizer,
            services.BudgetRequest(
                amount=Decimal("100"),
                platform_allocations=allocations,
                allocation_strategy=strategy,
            ),
        )
    assert caught.value.loc == loc


def test_confirming_the_transfer_pays_in_and_activates(organizer):
    budget = BudgetFactory(organizer=organizer)
    services.confirm_payment(
        budget.pk, reference="TRF-9", amount_received=Decimal("950"), user=None
    )
    budget.refresh_from_db()
    assert budget.status == BudgetStatus.ACTIVE and budget.paid_at is not None
    assert budget.total_budget == Decimal("950") and budget.remaining == Decimal("950")
    [entry] = BudgetLedgerEntry.objects.filter(budget=budget)
    assert (entry.kind, entry.amount, entry.reference) == (
        LedgerKind.PAID_IN,
        Decimal("950"),
        "TRF-9",
    )
    assert OptimizationLogEntry.objects.filter(budget=budget, kind="payment").exists()


def test_spent_and_remaining_are_always_the_sum_of_the_ledger(paid_budget):
    campaign = CampaignFactory(budget=paid_budget, ad_account__client=paid_budget.client)
    ledger.append(paid_budget, LedgerKind.SPENT, Decimal("120.50"), campaign=campaign)
    ledger.append(paid_budget, LedgerKind.SPENT, Decimal("-20.50"), campaign=campaign)
    services.adjust_budget(paid_budget.pk, Decimal("50"), note="bonus", user=None)
    services.refund_budget(paid_budget.pk, Decimal("30"), reference="R-1", user=None)
    paid_budget.refresh_from_db()
    assert paid_budget.spent_budget == Decimal("100.00")
    assert paid_budget.total_budget == Decimal("1020.00")
    assert paid_budget.remaining == Decimal("920.00")
    assert ledger.balances(paid_budget).remaining == paid_budget.remaining


def test_the_balances_read_the_ledger_in_one_query_however_long_it_is(
    paid_budget, django_assert_num_queries
):
    """Balances are read on every reservation, release and rebalance: the rows summed per
    campaign and kind in one aggregate give both the totals and the open commitments."""
    campaign = CampaignFactory(budget=paid_budget, ad_account__client=paid_budget.client)
    other = CampaignFactory(budget=paid_budget, ad_account__client=paid_budget.client)
    ledger.commit_to(paid_budget, campaign, Decimal("300"), note="test")
    ledger.commit_to(paid_budget, other, Decimal("40"), note="test")
    for _ in range(5):
        ledger.append(paid_budget, LedgerKind.SPENT, Decimal("10"), campaign=campaign)
    ledger.append(paid_budget, LedgerKind.SPENT, Decimal("45"), campaign=other)  # over it
    services.adjust_budget(paid_budget.pk, Decimal("-5"), note="fee", user=None)
    with django_assert_num_queries(1):
        money = ledger.balances(paid_budget)
    assert (money.paid_in, money.adjustments, money.refunded, money.spent) == (
        Decimal("1000.00"),
        Decimal("-5.00"),
        Decimal("0.00"),
        Decimal("95.00"),
    )
    assert money.outstanding_by_campaign == {campaign.pk: Decimal("250.00"), other.pk: ZERO}
    assert (money.outstanding, money.available) == (Decimal("250.00"), Decimal("650.00"))


def test_a_refund_cannot_take_committed_money(paid_budget):
    campaign = CampaignFactory(budget=paid_budget, ad_account__client=paid_budget.client)
    ledger.commit_to(paid_budget, campaign, Decimal("900"), note="test")
    with pytest.raises(InvalidInput) as caught:
        services.refund_budget(paid_budget.pk, Decimal("150"), reference="R", user=None)
    assert caught.value.loc == ["amount"]
    services.refund_budget(paid_budget.pk, Decimal("100"), reference="R", user=None)


def test_status_changes_follow_the_lifecycle(paid_budget):
    services.change_budget_status(paid_budget.pk, BudgetStatus.PAUSED, user=None, reason="wait")
    services.change_budget_status(paid_budget.pk, BudgetStatus.ACTIVE, user=None)
    services.change_budget_status(paid_budget.pk, BudgetStatus.CANCELLED, user=None)
    with pytest.raises(InvalidInput):
        services.change_budget_status(paid_budget.pk, BudgetStatus.ACTIVE, user=None)
    with pytest.raises(InvalidInput):
        services.confirm_payment(
            paid_budget.pk, reference="x", amount_received=Decimal(1), user=None
        )


def test_a_pending_budget_cannot_be_paused_before_it_is_paid(organizer):
    budget = BudgetFactory(organizer=organizer)
    with pytest.raises(InvalidInput):
        services.change_budget_status(budget.pk, BudgetStatus.PAUSED, user=None)
