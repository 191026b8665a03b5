"""The organizer panel in headless Chromium: an organizer logs in, opens every page,
reads numbers that match the database, sees the charts drawn, and never sees another
organizer's rows. A screenshot of each page goes to test-artifacts/panel/."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, sync_playwright

from conftest import require_tool
from usher.audiences.models import RemarketingAudience
from usher.campaigns import reports
from usher.campaigns.models import AutomatedCampaign
from usher.dashboard import queries
from usher.marketplace.tests.factories import MarketplaceClientFactory, OrganizerFactory
from usher.tracking.tests.test_browser_tracker import CHROMIUM, CHROMIUM_ARGS

from .builders import PASSWORD, build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "panel"
PHONE = {"width": 390, "height": 844}


@contextmanager
def chromium() -> Iterator[Browser]:
    require_tool(
        Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install chromium)"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")  # the keyboard alone submits the form
    page.wait_for_url(f"{base_url}/panel/")


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def charts_drawn(page: Page) -> int:
    page.wait_for_function("typeof window.Chart !== 'undefined'")
    return page.eval_on_selector_all(
        "canvas[data-usher-chart]",
        "cs => cs.filter(c => c.dataset.usherChartDrawn === '1' && c.width > 0).length",
    )


def test_an_organizer_reads_every_page_with_the_databases_numbers(live_server):
    client = MarketplaceClientFactory()
    alice = build_world(OrganizerFactory(client=client), campaigns=3, username="alice", seed=2)
    build_world(OrganizerFactory(client=client), campaigns=2, username="bob", seed=5)
    base = live_server.url
    report = reports.report(AutomatedCampaign.objects.for_organizer(alice.organizer), "RON")
    rows = queries.campaign_rows(AutomatedCampaign.objects.for_organizer(alice.organizer))
    audience = RemarketingAudience.objects.get(organizer=alice.organizer)
    # No database call past this point: Playwright's loop makes the thread "async".
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, base, "alice")
        seen: dict[str, str] = {}

        text = page.locator("[data-report=RON]").inner_text()
        assert f"You invested {report.invested:,.2f} RON and got {report.sales} sales" in text
        assert charts_drawn(page) == 2
        card = page.locator(f"[aria-labelledby=budget-{alice.budget.pk}]")
        assert (
            card.locator("[data-field=left]").inner_text() == f"{alice.budget.remaining:,.2f} RON"
        )
        seen["overview"] = page.content()
        shoot(page, "overview")

        page.get_by_role("link", name="Campaigns", exact=True).click()
        for row in rows:
            cells = page.locator(f"tr[data-campaign='{row.campaign.pk}']")
            assert (
                cells.locator("[data-field=impressions]").inner_text()
                == f"{row.campaign.impressions:,}"
            )
            assert cells.locator("[data-field=usher-sales]").inner_text() == str(
                row.campaign.usher_sales
            )
            assert cells.locator("[data-field=usher-roas]").inner_text() == str(row.usher_roas)
        seen["campaigns"] = page.content()
        shoot(page, "campaigns")

        first = rows[0].campaign
        page.get_by_role("link", name=first.name).click()
        assert page.locator("[data-field=clicks]").inner_text() == f"{first.clicks:,}"
        assert charts_drawn(page) == 1
        seen["campaign"] = page.content()
        shoot(page, "campaign")

        page.get_by_role("link", name="Budgets", exact=True).click()
        seen["budgets"] = page.content()
        shoot(page, "budgets")
        page.locator(f"#budget-{alice.budget.pk} a").click()
        assert page.locator("[data-field=spent]").inner_text().endswith(" RON")
        seen["budget"] = page.content()
        shoot(page, "budget")

        page.goto(f"{base}/panel/budgets/new/")
        seen["budget-new"] = page.content()
        shoot(page, "budget-new")

        page.get_by_role("link", name="Audiences").click()
        size = page.locator(f"tr[data-audience='{audience.pk}'] [data-field=size]").inner_text()
        assert size == f"{audience.member_count:,}"
        seen["audiences"] = page.content()
        shoot(page, "audiences")

        for name, link in (
            ("tracking-codes", "Tracking codes"),
            ("notifications", "Notifications"),
        ):
            page.get_by_role("link", name=link).click()
            seen[name] = page.content()
            shoot(page, name)

        for name, html in seen.items():
            assert "bob" not in html, name

        phone = browser.new_page(viewport=PHONE)
        phone.context.add_cookies(page.context.cookies())
        phone.goto(f"{base}/panel/")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(phone, "overview-phone")


def test_the_panel_switches_to_romanian(live_server):
    world = build_world(OrganizerFactory(), campaigns=1, username="ana")
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, live_server.url, "ana")
        page.get_by_label("Language").select_option("ro")
        page.get_by_role("button", name="Change").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "ro"
        total = page.locator(f"[aria-labelledby=budget-{world.budget.pk}] [data-field=total]")
        assert total.inner_text() == "1.000,00 RON"
        shoot(page, "overview-ro")
