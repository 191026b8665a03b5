"""The marketplace admin for one client's staff: scoped, and secrets kept out of reach."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from usher.marketplace.models import MarketplaceClient, Order, OrganizerApiToken, User
from usher.marketplace.tests.factories import (
    EventFactory,
    MarketplaceClientFactory,
    OrganizerFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(marketplace, client):
    user = User.objects.create_user(
        "staff", password="pw-12345678", client=marketplace, is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="marketplace").exclude(
            codename__in=["add_marketplaceclient", "delete_marketplaceclient"]
        )
    )
    client.force_login(user)
    return user


def test_filters_never_list_another_marketplace(staff, client, organizer):
    MarketplaceClientFactory(name="RivalTix Secret Name")
    for path in ["organizer", "marketplaceevent", "order", "user"]:
        page = client.get(f"/admin/marketplace/{path}/").content.decode()
        assert "RivalTix" not in page, path


def test_a_new_token_is_not_put_in_a_cookie(staff, client, organizer):
    response = client.post(
        "/admin/marketplace/marketplaceorganizer/",
        {"action": "issue_api_token", "_selected_action": [organizer.pk]},
    )
    assert response.status_code == 302
    assert "ush_org_" not in str(response.cookies)
    page = client.get("/admin/marketplace/marketplaceorganizer/").content.decode()
    assert "ush_org_" in page  # shown once, on the next page


def test_a_token_cannot_be_moved_to_another_organizer(staff, client, organizer):
    token, _ = OrganizerApiToken.issue(organizer)
    other = OrganizerFactory(client=organizer.client)
    client.post(
        f"/admin/marketplace/organizerapitoken/{token.pk}/change/",
        {"organizer": other.pk, "name": "x"},
    )
    token.refresh_from_db()
    assert token.organizer == organizer


def test_staff_can_neither_add_nor_delete_a_marketplace(staff, client, marketplace):
    assert client.get("/admin/marketplace/marketplaceclient/add/").status_code == 403
    client.post(f"/admin/marketplace/marketplaceclient/{marketplace.pk}/delete/", {"post": "yes"})
    assert MarketplaceClient.objects.filter(pk=marketplace.pk).exists()


def test_people_staff_add_belong_to_their_marketplace(staff, client, marketplace, organizer):
    response = client.post(
        "/admin/marketplace/user/add/",
        {
            "username": "newcomer",
            "password1": "a-Long-pass-98765",
            "password2": "a-Long-pass-98765",
            "usable_password": "true",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.get(username="newcomer").client == marketplace


def test_an_organizer_user_cannot_be_tied_to_another_marketplaces_organizer(marketplace):
    from django.core.exceptions import ValidationError

    foreign = OrganizerFactory()
    user = User(username="x", client=marketplace, organizer=foreign)
    with pytest.raises(ValidationError):
        user.full_clean(exclude=["password"])


def test_an_orders_page_shows_its_ticket_lines_read_only(staff, client, ingest, organizer):
    event = EventFactory(organizer=organizer)
    payload = {
        "external_id": "ord-lines",
        "event_external_id": event.external_id,
        "value": "90.00",
        "currency": "RON",
        "placed_at": "2026-11-20T10:00:00Z",
        "lines": [
            {"ticket_type_id": "vip", "name": "VIP lounge", "quantity": 2, "unit_price": "45"}
        ],
    }
    assert ingest.put("/api/ingest/orders", payload).status_code == 200
    order = Order.objects.get(external_id="ord-lines")

    page = client.get(f"/admin/marketplace/order/{order.pk}/change/").content.decode()

    assert "VIP lounge" in page and "45.00" in page
    assert 'name="lines-0-quantity"' not in page  # shown, not editable
