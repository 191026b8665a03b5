"""Every organizer endpoint that takes an id, present and future, answers 404 for
another organizer's row: the sweep reads the routes from the OpenAPI schema, so a new
endpoint is covered the day it is added (or fails here until its id kind is known)."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from conftest import JsonClient
from usher.audiences.models import AudienceType
from usher.audiences.services import ensure_standard_audience
from usher.campaigns.tests.factories import BudgetFactory, CampaignFactory
from usher.marketplace.models import OrganizerApiToken
from usher.marketplace.tests.factories import EventFactory, OrderFactory, OrganizerFactory
from usher.tracking.tests.factories import EventTrackingCodeFactory

pytestmark = pytest.mark.django_db

ORGANIZER_API = "/api/marketplace-client/organizer/"
# How to make another tenant's row for each kind of id a route takes.
FOREIGN_ROWS = {
    "event_id": lambda other: EventFactory(organizer=other).pk,
    "code_id": lambda other: EventTrackingCodeFactory(organizer=other).pk,
    "budget_id": lambda other: BudgetFactory(organizer=other).pk,
    "campaign_id": lambda other: CampaignFactory(budget__organizer=other).pk,
    "audience_id": lambda other: (
        ensure_standard_audience(other, "meta", AudienceType.TICKET_BUYERS).pk
    ),
}
VALID_BODIES = {
    "put": {"provider": "meta", "settings": {"pixel_id": "123456789012345"}},
    "patch": {"enabled": False},
}


def organizer_routes() -> list[tuple[str, str]]:
    schema = Client().get("/api/openapi.json").json()
    return [
        (method, path)
        for path, operations in schema["paths"].items()
        if path.startswith(ORGANIZER_API) and "{" in path
        for method in operations
    ]


def test_the_sweep_finds_the_organizer_routes():
    assert len(organizer_routes()) >= 4


@pytest.mark.parametrize("same_marketplace", [True, False])
def test_every_organizer_route_hides_other_tenants_rows(organizer, same_marketplace):
    _, token = OrganizerApiToken.issue(organizer)
    api = JsonClient(token)
    other = OrganizerFactory(client=organizer.client) if same_marketplace else OrganizerFactory()
    foreign_ids: dict[str, int] = {}
    for method, template in organizer_routes():
        params = re.findall(r"{(\w+)}", template)
        unknown = [p for p in params if p not in FOREIGN_ROWS]
        assert not unknown, f"{template}: add how to make a foreign {unknown} to FOREIGN_ROWS"
        for param in params:
            if param not in foreign_ids:
                foreign_ids[param] = FOREIGN_ROWS[param](other)
        path = template.format(**foreign_ids)
        response = api.request(method.upper(), path, VALID_BODIES.get(method))
        assert response.status_code == 404, (method, template, response.status_code)


def foreign_delivery(other) -> int:
    from django.utils import timezone

    from usher.conversions.models import ConversionDelivery

    code = EventTrackingCodeFactory(organizer=other)
    return ConversionDelivery.objects.create(
        client=other.client,
        organizer=other,
        organizer_code=code,
        order=OrderFactory(event__organizer=other),
        destination_key=f"code:{code.pk}",
        provider="meta",
        event_id="foreign-1",
        event_name="purchase",
        next_attempt_at=timezone.now(),
        last_error="",
        last_error_code="",
    ).pk


# Every paginated organizer list, and how to make another tenant's row it could leak.
LIST_ROUTES = {
    "events": lambda other: EventFactory(organizer=other).pk,
    "orders": lambda other: OrderFactory(event__organizer=other).pk,
    "tracking-codes": lambda other: EventTrackingCodeFactory(organizer=other).pk,
    "conversions/deliveries": foreign_delivery,
    "audiences": lambda other: (
        ensure_standard_audience(other, "meta", AudienceType.TICKET_BUYERS).pk
    ),
    "ads/budgets": lambda other: BudgetFactory(organizer=other).pk,
    "ads/campaigns": lambda other: CampaignFactory(budget__organizer=other).pk,
}


def organizer_list_routes() -> set[str]:
    schema = Client().get("/api/openapi.json").json()
    return {
        path.removeprefix(ORGANIZER_API)
        for path, operations in schema["paths"].items()
        if path.startswith(ORGANIZER_API)
        and "{" not in path
        and "get" in operations
        and "Paged"
        in operations["get"]["responses"]["200"]["content"]["application/json"]["schema"].get(
            "$ref", ""
        )
    }


def test_every_organizer_list_is_swept():
    assert organizer_list_routes() == set(LIST_ROUTES)


@pytest.mark.parametrize("route", sorted(LIST_ROUTES))
def test_organizer_lists_show_their_own_rows_and_no_other_tenants(organizer, route):
    _, token = OrganizerApiToken.issue(organizer)
    own = LIST_ROUTES[route](organizer)
    foreign = {LIST_ROUTES[route](OrganizerFactory(client=organizer.client))}
    foreign.add(LIST_ROUTES[route](OrganizerFactory()))
    answer = JsonClient(token).get(f"{ORGANIZER_API}{route}", limit=200)
    assert answer.status_code == 200
    listed = {row["id"] for row in answer.json()["items"]}
    assert own in listed and not foreign & listed
