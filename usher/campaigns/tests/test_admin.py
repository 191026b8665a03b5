"""Staff's admin: actions go through the services, are logged, and keep secrets hidden."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.utils import timezone

from usher.campaigns.models import (
    AdAccount,
    AdCampaignBudget,
    BudgetStatus,
    CampaignStatus,
    OptimizationLogEntry,
)
from usher.campaigns.tests.factories import AdAccountFactory, BudgetFactory, CampaignFactory
from usher.marketplace.models import User
from usher.marketplace.tests.factories import OrganizerFactory

pytestmark = pytest.mark.django_db

ADMIN = "/admin/campaigns"


@pytest.fixture
def staff(marketplace, client):
    user = User.objects.create_user(
        "staff", password="pw-12345678", client=marketplace, is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="campaigns"))
    client.force_login(user)
    return user


def act(client, model: str, action: str, rows, **fields):
    return client.post(
        f"{ADMIN}/{model}/",
        {"action": action, "_selected_action": [r.pk for r in rows], **fields},
    )


def test_staff_confirm_a_transfer_and_it_is_logged_with_their_name(staff, client, organizer):
    budget = BudgetFactory(organizer=organizer)
    response = act(
        client,
        "adcampaignbudget",
        "confirm_payment",
        [budget],
        amount="750.00",
        reference="TRF-2026-11",
    )
    assert response.status_code == 302
    budget.refresh_from_db()
    assert budget.status == BudgetStatus.ACTIVE and budget.total_budget == Decimal("750.00")
    assert OptimizationLogEntry.objects.get(budget=budget, kind="payment").actor_label == "staff"
    assert LogEntry.objects.filter(object_id=str(budget.pk), user=staff).exists()


def test_the_budget_page_shows_the_accounts_it_publishes_on(staff, client, organizer):
    account = AdAccountFactory(client=organizer.client, account_id="act_4242")
    budget = BudgetFactory(organizer=organizer, platform_allocations={"meta": {"percentage": 100}})
    page = client.get(f"{ADMIN}/adcampaignbudget/{budget.pk}/change/").content.decode()
    assert str(account) in page


def test_a_bad_action_input_is_a_message_not_a_500(staff, client, organizer):
    budget = BudgetFactory(organizer=organizer)
    response = act(
        client, "adcampaignbudget", "confirm_payment", [budget], amount="", reference="x"
    )
    assert response.status_code == 302
    budget.refresh_from_db()
    assert budget.status == BudgetStatus.PENDING_PAYMENT


def test_staff_approve_and_reject_campaigns(staff, client, organizer, platform):
    budget = BudgetFactory(organizer=organizer)
    first = CampaignFactory(budget=budget, ad_account__client=organizer.client)
    second = CampaignFactory(
        budget=budget, ad_account=first.ad_account, campaign_type="retargeting"
    )
    act(client, "automatedcampaign", "reject", [second], reference="misleading")
    act(client, "automatedcampaign", "approve", [first])
    first.refresh_from_db(), second.refresh_from_db()
    assert second.status == CampaignStatus.REJECTED and second.status_reason == "misleading"
    assert first.status == CampaignStatus.APPROVED  # waits for funds: the budget is unpaid
    assert first.reviewed_by == staff


def test_staff_never_see_another_marketplaces_budgets(staff, client):
    BudgetFactory(organizer=OrganizerFactory(name="RivalTix Organizer"))
    assert "RivalTix" not in client.get(f"{ADMIN}/adcampaignbudget/").content.decode()
    assert not AdCampaignBudget.objects.filter(client=staff.client).exists()


def test_an_ad_accounts_credential_is_write_only(staff, client, marketplace):
    response = client.post(
        f"{ADMIN}/adaccount/add/",
        {
            "client": marketplace.pk,
            "platform": "meta",
            "account_id": "act_555",
            "currency": "RON",
            "timezone": "Europe/Bucharest",
            "credential_kind": "access_token",
            "settings": "{}",
            "status": "active",
            "credential": "EAAG-very-secret",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account = AdAccount.objects.get(account_id="act_555")
    assert account.get_credential() == "EAAG-very-secret"
    assert "EAAG-very-secret" not in account.credential_encrypted
    page = client.get(f"{ADMIN}/adaccount/{account.pk}/change/").content.decode()
    assert "EAAG-very-secret" not in page
    assert "Credential set" in page
    listing = client.get(f"{ADMIN}/adaccount/").content.decode()
    assert "EAAG-very-secret" not in listing


def test_the_account_list_shows_a_failing_accounts_error(staff, client, marketplace):
    now = timezone.now()
    AdAccountFactory(
        client=marketplace,
        account_id="act_ok",
        last_success_at=now,
        last_error="meta transient HTTP 503: earlier",
        last_error_at=now - timedelta(hours=2),
    )
    AdAccountFactory(
        client=marketplace,
        account_id="act_failing",
        last_success_at=now - timedelta(hours=3),
        last_error="meta auth HTTP 190: the token expired",
        last_error_at=now - timedelta(minutes=5),
    )
    AdAccountFactory(client=marketplace, account_id="act_new")
    AdAccountFactory(client=marketplace, account_id="act_bare", credential="")
    rows = client.get(f"{ADMIN}/adaccount/").content.decode().split("<tr")[2:]

    def row(account_id: str) -> str:
        return next(r for r in rows if f">{account_id}<" in r)

    assert "error 5\xa0minutes ago: meta auth HTTP 190: the token expired" in row("act_failing")
    assert "ok 0\xa0minutes ago" in row("act_ok") and "HTTP 503" not in row("act_ok")
    assert "never called" in row("act_new")
    assert "no credential" in row("act_bare")


def test_an_organizer_of_another_marketplace_cannot_own_an_account(staff, client, marketplace):
    AdAccountFactory(client=marketplace)
    other = OrganizerFactory()
    response = client.post(
        f"{ADMIN}/adaccount/add/",
        {
            "client": marketplace.pk,
            "organizer": other.pk,
            "platform": "meta",
            "account_id": "act_9",
            "currency": "RON",
            "timezone": "UTC",
            "credential_kind": "access_token",
            "settings": "{}",
            "status": "active",
        },
    )
    assert response.status_code == 200  # the form comes back with an error
    assert not AdAccount.objects.filter(account_id="act_9").exists()
