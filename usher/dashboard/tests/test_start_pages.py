"""The ways in: `/`, `/panel/`, and what staff see when they open the organizer panel."""

from __future__ import annotations

import pytest
from django.test import Client

from usher.marketplace.models import User
from usher.marketplace.tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def test_the_start_page_links_the_admin_the_panel_and_the_api_docs(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    for link in ('href="/admin/"', 'href="/panel/"', 'href="/api/docs"'):
        assert link in html


def test_the_start_page_links_demo_pages_only_when_they_are_served(client, settings, organizer):
    event = EventFactory(organizer=organizer, client=organizer.client, name="Rock Night")
    settings.USHER_DEMO_PAGES = True
    html = client.get("/").content.decode()
    assert f'href="/demo/events/{event.slug}/"' in html
    assert f'href="/demo/organizers/{organizer.external_id}/"' in html

    settings.USHER_DEMO_PAGES = False
    assert "/demo/" not in client.get("/").content.decode()


def test_the_panel_index_is_the_organizers_overview(organizer):
    user = User.objects.create_user("org", client=organizer.client, organizer=organizer)
    browser = Client()
    browser.force_login(user)
    response = browser.get("/panel/")
    assert response.status_code == 200
    assert response.templates[0].name == "dashboard/overview.html"


def test_staff_opening_the_panel_are_sent_to_the_admin(marketplace):
    staff = User.objects.create_user("staff", client=marketplace, is_staff=True)
    browser = Client()
    browser.force_login(staff)
    index = browser.get("/panel/")
    assert index.status_code == 302 and index["Location"] == "/admin/"
    page = browser.get("/panel/tracking-codes/")
    assert page.status_code == 403
    html = page.content.decode()
    assert "not an organizer account" in html and 'href="/admin/"' in html


def test_a_suspended_organizer_is_told_so(organizer):
    organizer.status = "suspended"
    organizer.save()
    user = User.objects.create_user("org", client=organizer.client, organizer=organizer)
    browser = Client()
    browser.force_login(user)
    response = browser.get("/panel/tracking-codes/")
    assert response.status_code == 403
    assert "suspended" in response.content.decode()


def test_the_panel_needs_a_login(client):
    response = client.get("/panel/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
