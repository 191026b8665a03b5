"""Every organizer endpoint, present and future, hides other tenants' rows: a route
with an id answers 404 for another organizer's row, and a list route never shows one,
on any page, with any filter. The sweep reads the routes from the OpenAPI schema, so a
new endpoint is covered the day it is added (or fails here until it is registered)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone

from conftest import JsonClient
from usher.audiences.models import AudienceType
from usher.audiences.services import ensure_standard_audience
from usher.campaigns.decisions import log_decision
from usher.campaigns.models import AdCampaignBudget, BudgetStatus, DecisionKind
from usher.campaigns.tests.factories import BudgetFactory, CampaignFactory
from usher.conversions.models import ConversionDelivery
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


# List routes: rows of two tenants, each page and each filter shows only one's own.


@dataclass(frozen=True)
class ListRoute:
    """How to read one organizer list route: the kind of row its items are and the
    field naming it, and the filters worth probing (built from the two tenants' rows)."""

    kind: str
    id_field: str = "id"
    filters: Callable[[dict, dict], list[dict]] = lambda mine, theirs: []


def _code_filters(mine: dict, theirs: dict) -> list[dict]:
    return [
        {"provider": "meta"},
        {"enabled": "true"},
        {"event": "default"},
        {"event": str(theirs["event"])},
        {"event": str(mine["event"])},
    ]


def _delivery_filters(mine: dict, theirs: dict) -> list[dict]:
    return [{"status": "pending"}, {"code_id": theirs["code"]}, {"code_id": mine["code"]}]


def _campaign_filters(mine: dict, theirs: dict) -> list[dict]:
    return [{"budget": theirs["budget"]}, {"budget": mine["budget"]}, {"status": "draft"}]


def _advice_filters(mine: dict, theirs: dict) -> list[dict]:
    return [{"budget": theirs["budget"]}, {"campaign": theirs["campaign"]}]


# Every organizer route without an id; a new one fails the sweep until it is added here.
LIST_ROUTES = {
    "me": ListRoute("organizer"),
    "events": ListRoute("event"),
    "orders": ListRoute("order"),
    "tracking-codes": ListRoute("code", filters=_code_filters),
    "conversions/status": ListRoute("code", id_field="code_id"),
    "conversions/deliveries": ListRoute("delivery", filters=_delivery_filters),
    "audiences": ListRoute("audience"),
    "ads/budgets": ListRoute("budget"),
    "ads/campaigns": ListRoute("campaign", filters=_campaign_filters),
    "ads/recommendations": ListRoute("advice", filters=_advice_filters),
}
# Routes answering one aggregate over the tenant's rows, with the test that shows no
# other tenant's rows are counted in it.
AGGREGATE_ROUTES = {
    "ads/report": "usher/campaigns/tests/test_api.py::test_the_report_counts_no_other_organizers_campaigns",
}


def tenant_rows(organizer) -> dict:
    """One row of every kind the list routes show, owned by `organizer`."""
    event = EventFactory(organizer=organizer)
    order = OrderFactory(event=event)
    code = EventTrackingCodeFactory(organizer=organizer, event=event)
    EventTrackingCodeFactory(organizer=organizer)  # a default code too
    delivery = ConversionDelivery.objects.create(
        client=organizer.client,
        organizer=organizer,
        destination_key=f"organizer:{code.pk}",
        provider=code.provider,
        organizer_code=code,
        event_id=f"order-{order.external_id}",
        event_name="purchase",
        order=order,
        next_attempt_at=timezone.now(),
    )
    campaign = CampaignFactory(budget__organizer=organizer)
    audience = ensure_standard_audience(organizer, "meta", AudienceType.TICKET_BUYERS)
    AdCampaignBudget.objects.filter(pk=campaign.budget_id).update(status=BudgetStatus.ACTIVE)
    advice = log_decision(
        campaign.budget,
        DecisionKind.RECOMMENDATION,
        "raise the budget by 20%",
        campaign=campaign,
        numbers={"recommendation": "raise_budget"},
        applied=False,
    )
    return {
        "organizer": organizer.pk,
        "event": event.pk,
        "order": order.pk,
        "code": code.pk,
        "delivery": delivery.pk,
        "budget": campaign.budget_id,
        "campaign": campaign.pk,
        "audience": audience.pk,
        "advice": advice.pk,
    }


def list_routes() -> list[str]:
    schema = Client().get("/api/openapi.json").json()
    return [
        path.removeprefix(ORGANIZER_API)
        for path, operations in schema["paths"].items()
        if path.startswith(ORGANIZER_API) and "{" not in path and "get" in operations
    ]


def every_item(api: JsonClient, path: str, query: dict) -> list[dict]:
    """All items of a list route, page by page (one item a page), or its one object."""
    items: list[dict] = []
    while True:
        response = api.get(path, **query, limit=1, offset=len(items))
        assert response.status_code == 200, (path, query, response.content)
        body = response.json()
        if isinstance(body, list):
            return body
        if "items" not in body:
            return [body]
        items.extend(body["items"])
        if not body["items"] or len(items) >= body["count"]:
            return items


def test_every_organizer_list_route_is_registered_in_the_sweep():
    routes = list_routes()
    assert {"events", "tracking-codes", "conversions/deliveries"} <= set(routes)
    unknown = [route for route in routes if route not in {**LIST_ROUTES, **AGGREGATE_ROUTES}]
    assert not unknown, f"add {unknown} to LIST_ROUTES: say which rows they list"


@pytest.mark.parametrize("route", sorted(LIST_ROUTES))
def test_every_organizer_list_route_shows_only_the_tenants_own_rows(organizer, route):
    spec = LIST_ROUTES[route]
    _, token = OrganizerApiToken.issue(organizer)
    api = JsonClient(token)
    mine = tenant_rows(organizer)
    neighbour = tenant_rows(OrganizerFactory(client=organizer.client))
    stranger = tenant_rows(OrganizerFactory())
    foreign = {neighbour[spec.kind], stranger[spec.kind]}

    seen = {item[spec.id_field] for item in every_item(api, ORGANIZER_API + route, {})}
    assert mine[spec.kind] in seen, "the probe must see the tenant's own row"
    assert not seen & foreign
    for query in spec.filters(mine, neighbour) + spec.filters(mine, stranger):
        items = every_item(api, ORGANIZER_API + route, query)
        assert not {item[spec.id_field] for item in items} & foreign, query
