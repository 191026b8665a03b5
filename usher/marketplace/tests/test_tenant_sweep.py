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
from usher.marketplace.models import OrganizerApiToken
from usher.marketplace.tests.factories import EventFactory, OrganizerFactory
from usher.tracking.tests.factories import EventTrackingCodeFactory

pytestmark = pytest.mark.django_db

ORGANIZER_API = "/api/marketplace-client/organizer/"
# How to make another tenant's row for each kind of id a route takes.
FOREIGN_ROWS = {
    "event_id": lambda other: EventFactory(organizer=other).pk,
    "code_id": lambda other: EventTrackingCodeFactory(organizer=other).pk,
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
