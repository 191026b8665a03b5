"""The organizer's advertising pages: their numbers come from the database, each page
costs the same number of queries whatever the number of campaigns, another organizer's
rows never show and their ids are 404s, and the forms validate like the API."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from usher.campaigns import reports
from usher.campaigns.decisions import log_decision
from usher.campaigns.models import (
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetLedgerEntry,
    CampaignStatus,
    DecisionKind,
    LedgerKind,
    OptimizationLogEntry,
)
from usher.dashboard import queries
from usher.marketplace.tests.factories import OrganizerFactory
from usher.platforms.base import PlatformError

from .builders import build_world

pytestmark = pytest.mark.django_db


def _browser(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def _pages(world) -> list[str]:
    campaign, budget = world.campaigns[0], world.budget
    return [
        "/panel/",
        "/panel/campaigns/",
        f"/panel/campaigns/{campaign.pk}/",
        "/panel/budgets/",
        "/panel/budgets/new/",
        f"/panel/budgets/{budget.pk}/",
        "/panel/audiences/",
    ]


def test_the_overview_states_the_plain_report_from_the_database(organizer):
    world = build_world(organizer, campaigns=2)
    html = _browser(world.user).get("/panel/").content.decode()
    report = reports.report(AutomatedCampaign.objects.for_organizer(organizer), "RON")
    assert report.sales == 3 and report.invested == Decimal("81.00")  # 40 + 41 spent
    assert f"You invested 81.00 RON and got {report.sales} sales ({report.tickets} tickets)" in html
    assert f"ROAS <strong>{report.roas}</strong>" in html
    assert "1,000.00 RON" in html and "900.00 RON" in html  # the budget card: total, left
    assert "move budget to the better campaign of org" in html and "+1 sales a day" in html
    assert "Raise the budget by 200.00 RON: expected +12 tickets at ROAS 3.25x." in html


def test_the_overview_shows_the_advice_in_force_apart_from_the_decisions(organizer):
    world = build_world(organizer, campaigns=1)
    campaign = world.campaigns[0]
    log_decision(
        world.budget,
        DecisionKind.RECOMMENDATION,
        "creative 'poster' loses: pause it",
        campaign=campaign,
        numbers={"recommendation": "pause_creative", "probability": 0.83, "creative": "poster"},
        applied=False,
    )
    log_decision(
        world.budget,
        DecisionKind.RECOMMENDATION,
        "advice of a kind the panel does not know",
        numbers={"recommendation": "something_new"},
        applied=False,
    )
    response = _browser(world.user).get("/panel/")
    advice = [entry.reason for entry in response.context["advice"]]
    shown_decisions = [entry.kind for entry in response.context["decisions"]]
    html = response.content.decode()

    assert len(advice) == 3 and DecisionKind.RECOMMENDATION not in shown_decisions
    assert "Creative “poster” is losing (83% likely that another sells better): pause it." in html
    assert "advice of a kind the panel does not know" in html  # the logged reason, as is
    assert (
        f'{campaign.display_name}</a> <span class="badge">{campaign.get_platform_display()}' in html
    )


def test_the_campaign_table_shows_platform_and_usher_numbers(organizer):
    world = build_world(organizer, campaigns=2, seed=2)
    html = _browser(world.user).get("/panel/campaigns/").content.decode()
    row = queries.campaign_rows(AutomatedCampaign.objects.filter(pk=world.campaigns[1].pk))[0]
    assert row.campaign.impressions == 2 * 2000 + 1 and row.campaign.usher_sales == 3
    assert row.campaign.platform_revenue == Decimal("600.00")
    assert row.usher_roas == (row.campaign.usher_revenue / Decimal("81.00")).quantize(
        Decimal("0.01")
    )
    assert '<td class="num" data-field="impressions">4,001</td>' in html
    assert f'<td class="num" data-field="usher-roas">{row.usher_roas}</td>' in html


def test_the_campaign_table_lists_live_campaigns_first_and_says_why_the_others_wait(organizer):
    world = build_world(organizer, campaigns=2, seed=2)
    live, other = world.campaigns
    live.name = f"Rock Night · prospecting [{live.campaign_type}]"  # as suites name them
    live.save()
    other.status = CampaignStatus.SKIPPED
    other.status_reason = "0 visitors so far; Meta serves it from 100."
    other.save()
    AutomatedCampaign.objects.filter(pk=live.pk).update(
        created_at=other.created_at.replace(year=2020)
    )

    html = _browser(world.user).get("/panel/campaigns/").content.decode()

    assert html.index(f'data-campaign="{live.pk}"') < html.index(f'data-campaign="{other.pk}"')
    assert "0 visitors so far; Meta serves it from 100." in html
    assert live.display_name == "Rock Night · prospecting"
    assert f">{live.display_name}</a>" in html and live.name not in html


@pytest.mark.parametrize("page", range(7))
def test_every_page_costs_the_same_queries_with_more_campaigns(page):
    counts = []
    for campaigns, name in ((1, "few"), (5, "many")):
        world = build_world(OrganizerFactory(), campaigns=campaigns, username=name)
        browser = _browser(world.user)
        url = _pages(world)[page]
        browser.get(url)  # sessions, content types: warm once
        with CaptureQueriesContext(connection) as queries_run:
            assert browser.get(url).status_code == 200
        counts.append(len(queries_run))
    assert counts[0] == counts[1], counts


def test_an_organizer_never_sees_another_organizers_rows(marketplace):
    mine = build_world(OrganizerFactory(client=marketplace), username="alice", seed=1)
    theirs = build_world(OrganizerFactory(client=marketplace), username="bob", seed=3)
    browser = _browser(mine.user)
    for url in _pages(mine):
        html = browser.get(url).content.decode()
        assert "bob" not in html, url
    for url in (
        f"/panel/campaigns/{theirs.campaigns[0].pk}/",
        f"/panel/budgets/{theirs.budget.pk}/",
    ):
        assert browser.get(url).status_code == 404, url
    for action in ("pause", "resume"):
        assert (
            browser.post(f"/panel/campaigns/{theirs.campaigns[0].pk}/{action}/").status_code == 404
        )


def test_asking_for_a_budget_goes_through_the_apis_validation(organizer):
    world = build_world(organizer, campaigns=0)
    browser = _browser(world.user)
    refused = browser.post(
        "/panel/budgets/new/",
        {"amount": "100.00", "daily_budget_limit": "500.00", "allocation_strategy": "equal_split"},
    )
    assert refused.status_code == 200 and "cannot exceed the amount." in refused.content.decode()
    assert AdCampaignBudget.objects.filter(organizer=organizer).count() == 1
    asked = browser.post(
        "/panel/budgets/new/",
        {"amount": "250.00", "allocation_strategy": "equal_split", "ends_on": "2031-01-31"},
    )
    budget = AdCampaignBudget.objects.filter(organizer=organizer).latest("id")
    assert asked["Location"] == f"/panel/budgets/{budget.pk}/"
    assert budget.requested_amount == Decimal("250.00") and budget.status == "pending_payment"
    assert budget.ends_at.isoformat().startswith("2031-01-31T23:59:59")


def test_another_organizers_event_cannot_be_chosen_for_a_budget(marketplace):
    world = build_world(OrganizerFactory(client=marketplace), campaigns=0, username="alice")
    other = build_world(OrganizerFactory(client=marketplace), campaigns=0, username="bob")
    response = _browser(world.user).post(
        "/panel/budgets/new/",
        {"amount": "100", "allocation_strategy": "equal_split", "event": other.budget.event_id},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not AdCampaignBudget.objects.filter(
        organizer=world.organizer, requested_amount=100
    ).exists()


def test_the_organizer_edits_targets_and_the_change_is_logged(organizer):
    world = build_world(organizer, campaigns=0)
    browser = _browser(world.user)
    bad = browser.post(
        f"/panel/budgets/{world.budget.pk}/", {"target_cpa": "-3", "target_roas": ""}
    )
    assert bad.status_code == 200 and "greater than or equal to 0.01" in bad.content.decode()
    browser.post(f"/panel/budgets/{world.budget.pk}/", {"target_cpa": "25.50", "target_roas": "3"})
    world.budget.refresh_from_db()
    assert world.budget.target_cpa == Decimal("25.50") and world.budget.target_roas == Decimal(
        "3.00"
    )
    assert OptimizationLogEntry.objects.filter(
        budget=world.budget, reason="targets changed by the organizer", actor_label="organizer"
    ).exists()


def test_pause_and_resume_go_through_the_campaign_services(organizer, monkeypatch):
    world = build_world(organizer, campaigns=1)
    campaign = world.campaigns[0]
    calls = []
    monkeypatch.setattr(
        "usher.campaigns.publishing.pause_campaign",
        lambda pk, **kw: calls.append(("pause", pk, kw["actor"])),
    )
    browser = _browser(world.user)
    response = browser.post(f"/panel/campaigns/{campaign.pk}/pause/")
    assert response["Location"] == f"/panel/campaigns/{campaign.pk}/"
    assert calls == [("pause", campaign.pk, "organizer")]


def test_a_platform_that_does_not_answer_is_a_message_not_an_error(organizer, monkeypatch):
    world = build_world(organizer, campaigns=1)
    campaign = world.campaigns[0]

    def down(*args, **kwargs):
        raise PlatformError("transient", "the platform timed out")

    monkeypatch.setattr("usher.campaigns.publishing.pause_campaign", down)
    browser = _browser(world.user)
    page = browser.post(f"/panel/campaigns/{campaign.pk}/pause/", follow=True)
    assert "The ad platform did not answer" in page.content.decode()
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.ACTIVE


def test_a_paused_campaign_cannot_be_paused_again(organizer):
    world = build_world(organizer, campaigns=1)
    campaign = world.campaigns[0]
    AutomatedCampaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.COMPLETED)
    page = _browser(world.user).post(f"/panel/campaigns/{campaign.pk}/pause/", follow=True)
    assert "a completed campaign cannot be paused." in page.content.decode()


def test_the_panel_speaks_romanian_with_romanian_numbers(organizer):
    world = build_world(organizer, campaigns=2)
    browser = _browser(world.user)
    switched = browser.post("/i18n/setlang/", {"language": "ro", "next": "/panel/"})
    assert switched["Location"] == "/panel/"
    html = browser.get("/panel/").content.decode()
    assert '<html lang="ro">' in html
    assert "Ați investit 81,00 RON și ați obținut 3 vânzări" in html
    assert "1.000,00 RON" in html and "Privire de ansamblu" in html
    assert "Măriți bugetul cu 200,00 RON: se așteaptă +12 bilete la ROAS 3,25x." in html
    english = _browser(world.user).get("/panel/", headers={"accept-language": "en"})
    assert "You invested 81.00 RON" in english.content.decode()


def test_the_budget_ledger_shows_a_campaigns_spend_of_a_day_on_one_line(organizer):
    """The platforms report spend hour by hour (a row each): the organizer reads one line
    per campaign and day, summed, corrections included; every row when asking for all."""
    world = build_world(organizer, campaigns=2)
    before = set(BudgetLedgerEntry.objects.filter(budget=world.budget).values_list("pk", flat=True))
    days = [date(2026, 11, 29), date(2026, 11, 30)]
    for campaign in world.campaigns:
        for day in days:
            for amount in ("1.10", "2.20", "-0.30"):  # two hours, then a correction
                BudgetLedgerEntry.objects.create(
                    budget=world.budget,
                    campaign=campaign,
                    kind=LedgerKind.SPENT,
                    amount=Decimal(amount),
                    currency="RON",
                    spend_date=day,
                    note="spend as reported by the platform",
                )
    browser = _browser(world.user)
    html = browser.get(f"/panel/budgets/{world.budget.pk}/").content.decode()
    added = BudgetLedgerEntry.objects.filter(budget=world.budget).exclude(pk__in=before)
    last_of_each = {
        max(added.filter(campaign=c, spend_date=d).values_list("pk", flat=True))
        for c in world.campaigns
        for d in days
    }
    shown = {int(pk) for pk in re.findall(r'data-entry="(\d+)"', html)}
    assert last_of_each <= shown
    assert not (set(added.values_list("pk", flat=True)) - last_of_each) & shown
    # 1.10 + 2.20 - 0.30, once per campaign and day
    assert html.count('<td class="num">3.00 RON</td>') == 4
    everything = browser.get(f"/panel/budgets/{world.budget.pk}/", {"movements": "all"})
    every_row = {int(pk) for pk in re.findall(r'data-entry="(\d+)"', everything.content.decode())}
    assert set(added.values_list("pk", flat=True)) <= every_row


def test_the_budget_ledger_reads_newest_first_without_the_commitments_unless_asked(organizer):
    """A live suite writes hundreds of commitment rows a day (spend safety's reserve
    before every budget change): the organizer's ledger leads with what was paid in,
    spent and refunded, newest first, and pages through the rest."""
    world = build_world(organizer, campaigns=1)
    campaign = world.campaigns[0]
    for number in range(60):
        BudgetLedgerEntry.objects.create(
            budget=world.budget,
            campaign=campaign,
            kind=LedgerKind.COMMITTED if number % 2 else LedgerKind.RELEASED,
            amount=Decimal("10.00"),
            currency="RON",
            note=f"commitment {number}",
        )
    refund = BudgetLedgerEntry.objects.create(
        budget=world.budget, kind=LedgerKind.REFUNDED, amount=Decimal("5.00"), currency="RON"
    )
    browser = _browser(world.user)
    url = f"/panel/budgets/{world.budget.pk}/"

    shown = re.findall(r'data-entry="(\d+)"', browser.get(url).content.decode())
    money_rows = BudgetLedgerEntry.objects.filter(budget=world.budget).exclude(
        kind__in=[LedgerKind.COMMITTED, LedgerKind.RELEASED]
    )
    assert [int(pk) for pk in shown] == sorted(money_rows.values_list("pk", flat=True))[::-1]
    assert shown[0] == str(refund.pk)

    everything = browser.get(url, {"movements": "all"}).content.decode()
    first_page = re.findall(r'data-entry="(\d+)"', everything)
    assert len(first_page) == 50 and "commitment 59" in everything
    assert "Page 1 of 2 (63 rows)" in everything and "movements=all&amp;page=2" in everything
    second_page = browser.get(url, {"movements": "all", "page": 2}).content.decode()
    assert len(re.findall(r'data-entry="(\d+)"', second_page)) == 13
