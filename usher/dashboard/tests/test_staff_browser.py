"""The staff dashboards in headless Chromium: staff log in through the admin's form,
open every page, read the numbers the database holds, see the spend chart drawn,
reject a campaign from the approval queue, and leave a screenshot of each page in
test-artifacts/ (gitignored)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db.models import Count, Q, Sum
from playwright.sync_api import Page, Route, expect, sync_playwright

from conftest import require_tool
from usher.campaigns.models import AdCampaignBudget, CampaignMetrics, CampaignStatus
from usher.conversions.models import ConversionDelivery
from usher.dashboard.tests.staff_data import build_world
from usher.marketplace.tests.factories import MarketplaceClientFactory, staff_user
from usher.tracking.tests.test_browser_tracker import CHROMIUM, CHROMIUM_ARGS, WAIT_MS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PASSWORD = "pw-12345678"


@contextmanager
def staff_browser(origin: str, username: str) -> Iterator[Page]:
    """A logged-in staff page; requests leaving the live server are aborted. Started
    after the test's data is written: Django refuses ORM calls from the thread where
    Playwright's event loop runs."""
    require_tool(
        Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    host = urlsplit(origin).netloc

    def only_ours(route: Route) -> None:
        if urlsplit(route.request.url).netloc == host:
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.route("**/*", only_ours)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(f"{origin}/admin/login/")
            page.fill("#id_username", username)
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_selector("#staff-dashboards")
            yield page
        finally:
            browser.close()


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"staff-{name}.png"), full_page=True)


def open_dashboard(page: Page, label: str) -> None:
    """Follow the dashboards' own navigation (the admin's sidebar has similar names) and
    wait for the new page: reading the old one would race the navigation."""
    with page.expect_navigation():
        page.click(f"nav[aria-label='Staff dashboards'] a:has-text('{label}')")


def text(page: Page, selector: str) -> str:
    return page.locator(selector).first.inner_text().strip()


def test_staff_open_every_dashboard_and_read_the_databases_numbers(live_server):
    client = MarketplaceClientFactory()
    world = build_world(client, organizers=2, campaigns_each=3, days=3)
    rival = build_world(MarketplaceClientFactory(), organizers=1, campaigns_each=1)
    staff_user(client, "campaigns")
    spend = CampaignMetrics.objects.filter(campaign__client=client).aggregate(s=Sum("spend"))["s"]
    budgets = {
        b.organizer_id: b for b in AdCampaignBudget.objects.filter(client=client, status="active")
    }
    deliveries = {
        (row["provider"], row["organizer_id"]): row
        for row in ConversionDelivery.objects.filter(client=client)
        .values("provider", "organizer_id")
        .annotate(
            delivered=Count("id", filter=Q(status="delivered")),
            rejected=Count("id", filter=Q(status="rejected")),
        )
    }
    pending = world.pending[0]
    headlines = list(pending.creatives.values_list("headline", flat=True))

    with staff_browser(live_server.url, "staff") as page:
        shoot(page, "index")
        with page.expect_navigation():
            page.click("#staff-dashboards a:has-text('Campaigns overview')")
        assert text(page, "[data-total=spend]") == f"{spend:.2f} RON"
        assert text(page, "[data-total=sales]") == str(len(world.live))
        for organizer_id, budget in budgets.items():
            row = f"tr[data-organizer='{organizer_id}']"
            assert text(page, f"{row} [data-col=total]") == f"{budget.total_budget:.2f}"
            assert text(page, f"{row} [data-col=spent]") == f"{budget.spent_budget:.2f}"
        page.wait_for_selector("canvas[data-usher-chart-drawn]")
        assert rival.organizers[0].name not in page.content()
        shoot(page, "overview")

        open_dashboard(page, "Delivery health")
        for (provider, organizer_id), row in deliveries.items():
            selector = f"tr[data-provider='{provider}'][data-organizer='{organizer_id}']"
            assert text(page, f"{selector} [data-col=delivered]") == str(row["delivered"])
            assert text(page, f"{selector} [data-col=rejected]") == str(row["rejected"])
        shoot(page, "deliveries")

        open_dashboard(page, "Optimization log")
        expect(page.locator("tr[data-entry]")).to_have_count(len(world.organizers))
        page.select_option("#id_organizer", str(world.organizers[0].pk))
        with page.expect_navigation():
            page.click("button:has-text('Filter')")
        expect(page.locator("tr[data-entry]")).to_have_count(1)
        shoot(page, "log")

        open_dashboard(page, "Approval queue")
        card = page.locator(f"article[data-campaign='{pending.pk}']")
        for headline in headlines:
            assert headline in card.inner_text()
        shoot(page, "approvals")
        card.locator("input[name=reason]").fill("the image is blurry")
        with page.expect_navigation():
            card.locator("button[value=reject]").click()
        page.wait_for_selector(".messagelist .success")
        assert page.locator(f"article[data-campaign='{pending.pk}']").count() == 0
        shoot(page, "approvals-after-reject")

    pending.refresh_from_db()
    assert pending.status == CampaignStatus.REJECTED
    assert pending.status_reason == "the image is blurry"
    assert spend == Decimal("12.50") * 3 * len(world.live)
