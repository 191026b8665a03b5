"""The staff dashboards: numbers match the database, each page costs the same number of
queries whatever the number of campaigns, staff see only their marketplace, and every
decision goes through the campaigns' services and is logged."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from usher.campaigns import publishing
from usher.campaigns.models import (
    AdCampaignBudget,
    AutomatedCampaign,
    BudgetStatus,
    CampaignMetrics,
    CampaignStatus,
    OptimizationLogEntry,
)
from usher.campaigns.suite import create_campaign_suite
from usher.dashboard.tests.staff_data import ORDER_VALUE, SPEND_PER_DAY, build_world
from usher.marketplace.models import User
from usher.marketplace.tests.factories import MarketplaceClientFactory, staff_user

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/staff/",
    "/admin/staff/approvals/",
    "/admin/staff/log/",
    "/admin/staff/deliveries/",
]


@pytest.fixture
def staff(marketplace, client):
    user = staff_user(marketplace, "campaigns")
    client.force_login(user)
    return user


@pytest.fixture
def rival():
    """Another marketplace with its own campaigns, which our staff must never see."""
    return build_world(MarketplaceClientFactory(), organizers=1, campaigns_each=2)


def text_of(response) -> str:
    return response.content.decode()


def cell(page: str, row_attr: str, col: str) -> str:
    """The text of one `data-col` cell in the row carrying `row_attr`."""
    row = re.search(rf"<tr {row_attr}.*?</tr>", page, re.S)
    assert row, row_attr
    found = re.search(rf'data-col="{col}">([^<]*)<', row.group(0))
    assert found, (row_attr, col)
    return found.group(1).strip()


def test_the_overview_totals_are_the_databases_sums_for_the_period(staff, client, marketplace):
    world = build_world(marketplace, organizers=2, campaigns_each=3, days=3)
    page = text_of(client.get("/admin/staff/"))
    spend = CampaignMetrics.objects.filter(campaign__client=marketplace).aggregate(s=Sum("spend"))
    assert spend["s"] == SPEND_PER_DAY * 3 * 6
    assert f'data-total="spend">{spend["s"]:.2f} RON' in page
    assert 'data-total="sales">6<' in page
    assert f'data-total="revenue">{ORDER_VALUE * 6:.2f} RON' in page
    roas = (ORDER_VALUE * 6 / spend["s"]).quantize(Decimal("0.01"))
    assert f'data-total="roas">{roas}<' in page
    assert f'data-total="cpa">{spend["s"] / 6:.2f} RON' in page
    campaign = world.live[0]
    assert cell(page, f'data-campaign="{campaign.pk}"', "spend") == f"{SPEND_PER_DAY * 3:.2f}"
    assert cell(page, f'data-campaign="{campaign.pk}"', "sales") == "1"


def test_a_live_campaign_shows_its_budget_daily_or_for_the_flight(staff, client, marketplace):
    """Meta and TikTok suites run on lifetime budgets: a daily column alone showed a dash for
    most live campaigns."""
    daily, lifetime = build_world(marketplace, organizers=1, campaigns_each=2, days=1).live
    AutomatedCampaign.objects.filter(pk=daily.pk).update(
        daily_budget=Decimal("79.76"), lifetime_budget=None
    )
    AutomatedCampaign.objects.filter(pk=lifetime.pk).update(
        daily_budget=None, lifetime_budget=Decimal("2073.52")
    )
    page = text_of(client.get("/admin/staff/"))
    assert cell(page, f'data-campaign="{daily.pk}"', "budget") == "79.76 a day"
    assert cell(page, f'data-campaign="{lifetime.pk}"', "budget") == "2073.52 for the flight"


def test_a_shorter_period_counts_only_its_days(staff, client, marketplace):
    world = build_world(marketplace, organizers=1, campaigns_each=1, days=5)
    today = timezone.now().date()
    page = text_of(client.get("/admin/staff/", {"start": today - timedelta(days=1), "end": today}))
    campaign = world.live[0]
    assert cell(page, f'data-campaign="{campaign.pk}"', "spend") == f"{SPEND_PER_DAY * 2:.2f}"
    assert f'data-total="spend">{SPEND_PER_DAY * 2:.2f} RON' in page


def test_spend_per_platform_per_day_is_summed_by_the_database(staff, client, marketplace):
    build_world(marketplace, organizers=2, campaigns_each=3, days=2)
    page = text_of(client.get("/admin/staff/"))
    today = timezone.now().date()
    chart = re.search(r'id="spend-per-platform-RON-chart".*?</table>', page, re.S).group(0)
    row = re.search(rf"<th scope=\"row\">{today:%Y-%m-%d}</th>(.*?)</tr>", chart).group(1)
    # two organizers, one campaign each per platform: 2 x 12.50 per platform that day
    assert re.findall(r">([\d.]+)<", row) == [f"{SPEND_PER_DAY * 2:.2f}"] * 3


def test_spend_against_budget_is_per_organizer(staff, client, marketplace):
    world = build_world(marketplace, organizers=2, campaigns_each=3, days=2)
    page = text_of(client.get("/admin/staff/"))
    for organizer in world.organizers:
        budget = AdCampaignBudget.objects.get(organizer=organizer)
        row = f'data-organizer="{organizer.pk}"'
        assert cell(page, row, "total") == f"{budget.total_budget:.2f}"
        assert cell(page, row, "spent") == f"{budget.spent_budget:.2f}"
        assert cell(page, row, "remaining") == f"{budget.remaining:.2f}"


def test_a_bad_period_is_a_400_naming_the_field(staff, client):
    response = client.get("/admin/staff/", {"start": "2026-02-30"})
    assert response.status_code == 400
    assert "Start: Enter a valid date." in text_of(response)
    reversed_period = client.get("/admin/staff/", {"start": "2026-03-02", "end": "2026-03-01"})
    assert reversed_period.status_code == 400
    assert "must not be after the end" in text_of(reversed_period)


@pytest.mark.parametrize("path", PAGES)
def test_each_page_costs_the_same_queries_for_many_campaigns(staff, client, marketplace, path):
    build_world(marketplace, organizers=1, campaigns_each=1, days=1)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    build_world(marketplace, organizers=8, campaigns_each=6, days=3)
    with CaptureQueriesContext(connection) as many:
        assert client.get(path).status_code == 200
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


@pytest.mark.parametrize("path", PAGES)
def test_staff_never_see_another_marketplaces_rows(staff, client, marketplace, rival, path):
    build_world(marketplace, organizers=1, campaigns_each=1)
    page = text_of(client.get(path))
    for organizer in rival.organizers:
        assert organizer.name not in page
    for campaign in [*rival.live, *rival.pending]:
        assert f'data-campaign="{campaign.pk}"' not in page


def test_a_superuser_sees_every_marketplace(client, marketplace, rival):
    build_world(marketplace, organizers=1, campaigns_each=1)
    client.force_login(User.objects.create_superuser("root", password="pw-12345678"))
    page = text_of(client.get("/admin/staff/"))
    assert rival.organizers[0].name in page


def test_an_organizers_user_sees_no_dashboard_rows(client, marketplace):
    world = build_world(marketplace, organizers=1, campaigns_each=1)
    user = User.objects.create_user(
        "org", password="pw", client=marketplace, organizer=world.organizers[0], is_staff=True
    )
    client.force_login(user)
    page = text_of(client.get("/admin/staff/"))
    assert world.organizers[0].name not in page


def test_the_pages_need_a_staff_login(client):
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_log_filters_by_organizer_campaign_and_kind(staff, client, marketplace):
    world = build_world(marketplace, organizers=2, campaigns_each=1)
    first, second = world.organizers
    OptimizationLogEntry.objects.create(
        client=marketplace, budget=world.budgets[0], kind="budget_change", reason="topped up"
    )
    page = text_of(client.get("/admin/staff/log/", {"organizer": first.pk}))
    shown = set(re.findall(r'data-entry="(\d+)"', page))
    expected = OptimizationLogEntry.objects.filter(budget__organizer=first)
    assert shown == {str(e.pk) for e in expected} and len(shown) == 2
    page = text_of(client.get("/admin/staff/log/", {"organizer": first.pk, "kind": "pause"}))
    assert "ROAS low" in page and "topped up" not in page
    page = text_of(client.get("/admin/staff/log/", {"campaign": world.live[1].pk}))
    assert set(re.findall(r'data-entry="(\d+)"', page)) == {
        str(e.pk) for e in OptimizationLogEntry.objects.filter(campaign=world.live[1])
    }
    assert second.name in page


def test_the_log_refuses_another_marketplaces_organizer(staff, client, rival):
    response = client.get("/admin/staff/log/", {"organizer": rival.organizers[0].pk})
    assert response.status_code == 400
    assert "Select a valid choice" in text_of(response)


def test_the_approval_queue_previews_targeting_and_creatives(staff, client, marketplace):
    world = build_world(marketplace, organizers=1, campaigns_each=1)
    page = text_of(client.get("/admin/staff/approvals/"))
    pending = world.pending[0]
    assert f'data-campaign="{pending.pk}"' in page
    assert "countries: [&#x27;RO&#x27;]" in page
    for creative in pending.creatives.all():
        assert creative.headline in page and creative.landing_url in page
    assert f'data-campaign="{world.live[0].pk}"' not in page


def test_rejecting_from_the_queue_needs_a_reason_and_is_logged(staff, client, marketplace):
    pending = build_world(marketplace, organizers=1, campaigns_each=1).pending[0]
    url = f"/admin/staff/campaigns/{pending.pk}/review/"
    refused = client.post(url, {"decision": "reject", "reason": ""})
    assert refused.status_code == 400 and "reason: Say why" in text_of(refused)
    assert AutomatedCampaign.objects.get(pk=pending.pk).status == CampaignStatus.PENDING_REVIEW
    response = client.post(url, {"decision": "reject", "reason": "image is blurry"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == CampaignStatus.REJECTED and pending.status_reason == "image is blurry"
    assert OptimizationLogEntry.objects.filter(campaign=pending, kind="rejection").exists()
    assert LogEntry.objects.filter(object_id=str(pending.pk), user=staff).exists()


def test_approving_from_the_queue_goes_through_publishing(staff, client, marketplace, platform):
    pending = build_world(marketplace, organizers=1, campaigns_each=1).pending[0]
    client.post(f"/admin/staff/campaigns/{pending.pk}/review/", {"decision": "approve"})
    pending.refresh_from_db()
    assert pending.reviewed_by == staff
    assert OptimizationLogEntry.objects.filter(campaign=pending, kind="approval").exists()


def test_staff_cannot_touch_another_marketplaces_campaign_or_budget(staff, client, rival):
    campaign, budget = rival.pending[0], rival.budgets[0]
    review = client.post(
        f"/admin/staff/campaigns/{campaign.pk}/review/", {"decision": "reject", "reason": "x"}
    )
    adjust = client.post(
        f"/admin/staff/budgets/{budget.pk}/override/",
        {"action": "adjust", "amount": "-100", "reason": "x"},
    )
    assert review.status_code == 404 and adjust.status_code == 404
    assert AutomatedCampaign.objects.get(pk=campaign.pk).status == CampaignStatus.PENDING_REVIEW
    assert AdCampaignBudget.objects.get(pk=budget.pk).total_budget == budget.total_budget


def test_decisions_need_the_change_permission(marketplace, client):
    pending = build_world(marketplace, organizers=1, campaigns_each=1).pending[0]
    client.force_login(staff_user(marketplace, "conversions", username="viewer"))
    response = client.post(
        f"/admin/staff/campaigns/{pending.pk}/review/", {"decision": "reject", "reason": "no"}
    )
    assert response.status_code == 403


@pytest.fixture
def published(platform, paid_budget, event):
    """A campaign live on the fake platform, funded by a paid budget's ledger."""
    [campaign] = [
        c for c in create_campaign_suite(event, paid_budget) if c.campaign_type == "prospecting"
    ]
    AutomatedCampaign.objects.filter(pk=campaign.pk).update(desired_daily_budget=Decimal("20"))
    publishing.approve_campaign(campaign.pk, user=None)
    return publishing.publish_campaign(campaign.pk)


def test_pausing_and_resuming_from_the_overview_reach_the_platform_and_are_logged(
    staff, client, published, platform
):
    url = f"/admin/staff/campaigns/{published.pk}/override/"
    response = client.post(
        url, {"action": "pause", "reason": "organizer asked", "next": "/admin/staff/?start=x"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/staff/?start=x"
    published.refresh_from_db()
    assert published.status == CampaignStatus.PAUSED
    assert not platform.by_id(published.external_campaign_id).active
    entry = OptimizationLogEntry.objects.get(campaign=published, kind="pause", actor=staff)
    assert entry.reason == "organizer asked" and entry.applied
    history = LogEntry.objects.get(object_id=str(published.pk), user=staff)
    assert "organizer asked" in history.get_change_message()
    client.post(url, {"action": "resume", "reason": "organizer paid"})
    published.refresh_from_db()
    assert published.status == CampaignStatus.ACTIVE
    assert platform.by_id(published.external_campaign_id).active
    assert OptimizationLogEntry.objects.filter(campaign=published, kind="resume").exists()


def test_a_daily_budget_override_without_amount_is_a_400(staff, client, marketplace):
    campaign = build_world(marketplace, organizers=1, campaigns_each=1).live[0]
    response = client.post(
        f"/admin/staff/campaigns/{campaign.pk}/override/",
        {"action": "daily_budget", "reason": "slow down"},
    )
    assert response.status_code == 400 and "amount: Give the daily budget." in text_of(response)
    assert not campaign.overrides.exists()


def test_an_override_without_a_reason_is_a_400(staff, client, marketplace):
    campaign = build_world(marketplace, organizers=1, campaigns_each=1).live[0]
    response = client.post(
        f"/admin/staff/campaigns/{campaign.pk}/override/", {"action": "pause", "reason": " "}
    )
    assert response.status_code == 400 and "reason: This field is required." in text_of(response)


def test_a_daily_budget_override_is_set_through_spend_control(staff, client, marketplace, platform):
    campaign = build_world(marketplace, organizers=1, campaigns_each=1).live[0]
    client.post(
        f"/admin/staff/campaigns/{campaign.pk}/override/",
        {"action": "daily_budget", "amount": "15.00", "reason": "slow down"},
    )
    override = campaign.overrides.get(kind="daily_budget", lifted_at__isnull=True)
    assert override.daily_budget == Decimal("15.00") and override.created_by == staff
    assert OptimizationLogEntry.objects.filter(campaign=campaign, kind="override").exists()


def test_adjusting_a_budget_writes_the_ledger_through_the_service(
    staff, client, marketplace, platform
):
    budget = AdCampaignBudget.objects.get(pk=build_world(marketplace, organizers=1).budgets[0].pk)
    budget.ledger.create(kind="paid_in", amount=budget.total_budget, currency="RON")
    response = client.post(
        f"/admin/staff/budgets/{budget.pk}/override/",
        {"action": "adjust", "amount": "250.00", "reason": "bonus from the marketplace"},
    )
    assert response.status_code == 302
    entry = budget.ledger.get(kind="adjustment")
    assert entry.amount == Decimal("250.00") and entry.created_by == staff
    assert entry.note == "bonus from the marketplace"


def test_a_refused_decision_is_a_message_and_changes_nothing(staff, client, marketplace):
    budget = build_world(marketplace, organizers=1).budgets[0]
    response = client.post(
        f"/admin/staff/budgets/{budget.pk}/override/",
        {"action": "adjust", "amount": "-999999.00", "reason": "take it all"},
        follow=True,
    )
    assert "more than the uncommitted remainder" in text_of(response)
    assert not budget.ledger.filter(kind="adjustment").exists()


def test_pausing_a_budget_from_the_overview(staff, client, marketplace, platform):
    budget = build_world(marketplace, organizers=1).budgets[0]
    client.post(
        f"/admin/staff/budgets/{budget.pk}/override/", {"action": "pause", "reason": "unpaid"}
    )
    budget.refresh_from_db()
    assert budget.status == BudgetStatus.PAUSED and budget.status_changed_by == staff


def test_delivery_health_counts_each_outcome_per_platform_and_organizer(staff, client, marketplace):
    world = build_world(marketplace, organizers=2, campaigns_each=3)
    page = text_of(client.get("/admin/staff/deliveries/"))
    for organizer in world.organizers:
        row = f'data-provider="meta" data-organizer="{organizer.pk}"'
        for col in ("delivered", "rejected", "retrying"):
            assert cell(page, row, col) == "1"
        assert cell(page, row, "total") == "3"


def test_the_admin_start_page_links_the_dashboards(staff, client):
    page = text_of(client.get("/admin/"))
    for path in PAGES:
        assert f'href="{path}"' in page
