"""Inputs PostgreSQL cannot store or read back are refused with a clear 4xx, never a 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1900-01-01T00:00:00Z"]
)
def test_out_of_range_dates_are_422_on_ingest(ingest, organizer, when):
    event = {
        "external_id": "ev",
        "organizer_external_id": organizer.external_id,
        "slug": "ev",
        "name": "Ev",
        "starts_at": when,
    }
    response = ingest.put("/api/ingest/events", event)
    assert response.status_code == 422
    assert "starts_at" in json.dumps(response.json())


def test_out_of_range_times_are_422_on_the_collector(marketplace):
    body = {
        "events": [{"event_id": "e-1", "name": "page_view", "time": "0001-01-01T00:00:00+14:00"}]
    }
    response = Client().post(
        f"/api/collect?site_key={marketplace.site_key}",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/ingest/organizers", {"external_id": "o", "name": "bad\u0000name"}),
        ("/api/ingest/organizers", {"external_id": "o", "name": "ok", "\u0000": 1}),
    ],
)
def test_nul_characters_are_refused_before_any_write(ingest, path, body):
    response = ingest.put(path, body)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_a_nul_on_the_public_collector_is_400(marketplace):
    body = {"events": [{"event_id": "e-1", "name": "page_view", "utm": {"source": "x\u0000"}}]}
    response = Client().post(
        f"/api/collect?site_key={marketplace.site_key}",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 400


def test_a_literal_backslash_u0000_text_is_not_a_nul(ingest):
    body = {"external_id": "o", "name": "C:\\u0000dir"}
    response = ingest.put("/api/ingest/organizers", body)
    assert response.status_code == 200, response.content


def test_a_nul_in_the_query_string_is_400(organizer_api):
    assert (
        organizer_api.get("/api/marketplace-client/organizer/events", x="a\x00b").status_code == 400
    )


@pytest.mark.parametrize("query", [{"offset": "99999999999999999999999"}, {"limit": "1000000000"}])
def test_pagination_is_bounded(organizer_api, query):
    assert organizer_api.get("/api/marketplace-client/organizer/events", **query).status_code == 422


@pytest.mark.parametrize("event", ["²", "9" * 5000, "99999999999999999999999"])
def test_odd_event_filters_are_422_not_500(organizer_api, event):
    response = organizer_api.get("/api/marketplace-client/organizer/tracking-codes", event=event)
    assert response.status_code == 422
