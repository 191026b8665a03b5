"""Two workers committing money of one budget at the same moment, on PostgreSQL (row
locks are what this shows; SQLite has none to show)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from usher.campaigns import ledger, services, spend_control
from usher.campaigns.tests.factories import AdAccountFactory, BudgetFactory, CampaignFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]

WORKERS = 2


def test_two_workers_cannot_commit_more_than_the_remainder(organizer):
    account = AdAccountFactory(client=organizer.client)
    budget = BudgetFactory(organizer=organizer)
    services.confirm_payment(budget.pk, reference="T", amount_received=Decimal("1000"), user=None)
    campaigns = [
        CampaignFactory(budget=budget, ad_account=account, status="active") for _ in range(WORKERS)
    ]
    start = threading.Barrier(WORKERS)
    results: dict[int, bool] = {}

    def worker(campaign_id: int) -> None:
        try:
            start.wait()
            results[campaign_id] = spend_control.reserve(budget.pk, campaign_id, Decimal("700"))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(c.pk,)) for c in campaigns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [False, True]
    balances = ledger.balances(budget)
    assert balances.outstanding == Decimal("700")
    assert balances.available == Decimal("300")
