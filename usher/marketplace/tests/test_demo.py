"""The demo data command: realistic, idempotent, and its printed credentials work."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.core.management import call_command

from conftest import JsonClient
from usher.marketplace.models import (
    MarketplaceClient,
    MarketplaceEvent,
    MarketplaceOrganizer,
    Order,
    User,
)

pytestmark = pytest.mark.django_db


def printed(output: str, label: str) -> str:
    return re.search(rf"{label}:\s+(\S+)", output).group(1)


def test_load_demo_builds_a_marketplace_and_prints_working_credentials(capsys):
    call_command("load_demo", "--once")
    output = capsys.readouterr().out

    assert MarketplaceOrganizer.objects.count() >= 3
    assert MarketplaceEvent.objects.count() >= 12
    assert MarketplaceEvent.objects.values("city").distinct().count() >= 4
    assert MarketplaceEvent.objects.values("genre").distinct().count() >= 4
    assert Order.objects.filter(status="paid").count() > 30
    assert User.objects.get(username="staff").is_staff
    assert User.objects.get(username="organizer").organizer is not None

    token = printed(output, "Organizer API token")
    events = JsonClient(token).get("/api/marketplace-client/organizer/events")
    assert events.status_code == 200 and events.json()["count"] == 3
    ingest = JsonClient(printed(output, "Ingest API key"))
    assert (
        ingest.put("/api/ingest/organizers", {"external_id": "new", "name": "New"}).status_code
        == 200
    )


def test_the_demo_staff_can_open_every_usher_admin_page():
    """A new app's admin (the event catalog was one) is hidden from the demo's staff
    until it is among the staff apps: every registered Usher model must be viewable."""
    call_command("load_demo", "--once")
    staff = User.objects.get(username="staff")
    hidden = [
        f"{meta.app_label}.{meta.model_name}"
        for meta in (model._meta for model in admin.site._registry)
        if type(admin.site._registry[meta.model]).__module__.startswith("usher.")
        and not staff.has_perm(f"{meta.app_label}.view_{meta.model_name}")
    ]
    assert not hidden, f"add their apps to the demo's _STAFF_APPS: {hidden}"


def test_load_demo_once_does_not_load_twice_and_replaces_the_demo_token(capsys):
    call_command("load_demo", "--once")
    first_token = printed(capsys.readouterr().out, "Organizer API token")
    counts = (MarketplaceEvent.objects.count(), Order.objects.count())

    call_command("load_demo", "--once")
    output = capsys.readouterr().out
    assert "already loaded" in output
    assert (MarketplaceEvent.objects.count(), Order.objects.count()) == counts
    assert JsonClient(first_token).get("/api/marketplace-client/organizer/me").status_code == 401
    second_token = printed(output, "Organizer API token")
    assert JsonClient(second_token).get("/api/marketplace-client/organizer/me").status_code == 200


def test_the_banner_follows_the_chosen_ports_and_the_demo_pages_accept_that_origin(capsys):
    call_command("load_demo", "--once", "--base-url", "http://127.0.0.1:8080")
    output = capsys.readouterr().out

    assert printed(output, "Start page") == "http://127.0.0.1:8080/"
    assert printed(output, "Demo event page").startswith("http://127.0.0.1:8080/demo/events/")
    client = MarketplaceClient.objects.get(slug="tixello")
    assert {"http://127.0.0.1:8080", "http://localhost:8080"} <= set(client.allowed_origins)
    # The secret lines come last, where they stay on screen.
    assert output.rstrip().splitlines()[-3].lstrip().startswith("Site key:")


def test_loading_without_credentials_prints_no_secret(capsys):
    call_command("load_demo", "--once", "--no-credentials")
    output = capsys.readouterr().out
    assert "Ingest API key" not in output and "token" not in output.lower()
