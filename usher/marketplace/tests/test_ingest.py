"""The ticketing core's ingest API: upserts, idempotency, validation, PII hashing."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from usher.marketplace.models import MarketplaceEvent, MarketplaceOrganizer, Order
from usher.marketplace.tests.factories import EventFactory, OrganizerFactory

pytestmark = pytest.mark.django_db


def event_payload(organizer, **overrides):
    return {
        "external_id": "ev-1",
        "organizer_external_id": organizer.external_id,
        "slug": "summer-fest",
        "name": "Summer Fest",
        "starts_at": "2027-07-01T18:00:00+03:00",
        "ends_at": "2027-07-01T23:00:00+03:00",
        "city": "Cluj-Napoca",
        "country": "ro",
        "genre": "electronic",
        "status": "published",
        **overrides,
    }


# A recent order time, the same for the whole run (a resent order must be unchanged): the
# fan-out skips destinations whose event window has passed (Meta and TikTok take 7 days),
# so a fixed date would age out of the tests.
AN_HOUR_AGO = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0).isoformat()


def order_payload(event, **overrides):
    return {
        "external_id": "ord-1",
        "event_external_id": event.external_id,
        "value": "240.50",
        "currency": "ron",
        "tickets_count": 2,
        "placed_at": AN_HOUR_AGO,
        "customer": {
            "email": "  John.Smith@Example.com ",
            "phone": "0722 123 456",
            "first_name": "John",
            "last_name": "Smith",
            "country": "RO",
        },
        "attribution": {
            "visitor_id": "v-1",
            "fbclid": "IwAR123",
            "gclid": "Cj0KCQ",
            "utm_source": "facebook",
        },
        **overrides,
    }


def test_it_creates_then_updates_an_organizer_by_external_id(ingest, marketplace):
    created = ingest.put("/api/ingest/organizers", {"external_id": "o-1", "name": "Sunwave"})
    assert created.status_code == 200, created.content
    assert created.json()["created"] is True

    updated = ingest.put("/api/ingest/organizers", {"external_id": "o-1", "name": "Sunwave Events"})
    assert updated.json() == {**created.json(), "created": False, "changed": True}
    organizer = MarketplaceOrganizer.objects.get(client=marketplace, external_id="o-1")
    assert organizer.name == "Sunwave Events"


def test_sending_the_same_order_twice_changes_nothing(ingest, marketplace):
    event = EventFactory(organizer=OrganizerFactory(client=marketplace))
    first = ingest.put("/api/ingest/orders", order_payload(event))
    assert first.status_code == 200, first.content
    stamp = Order.objects.get().updated_at

    second = ingest.put("/api/ingest/orders", order_payload(event))
    assert second.json() == {**first.json(), "created": False, "changed": False}
    order = Order.objects.get()
    assert order.updated_at == stamp
    assert (order.value, order.currency, order.organizer_id) == (
        Decimal("240.50"),
        "RON",
        event.organizer_id,
    )


def test_a_refund_update_keeps_the_customer_data_sent_before(ingest, marketplace):
    event = EventFactory(organizer=OrganizerFactory(client=marketplace))
    ingest.put("/api/ingest/orders", order_payload(event))
    hashed = Order.objects.get().hashed_user_data

    refund = order_payload(event, status="refunded")
    del refund["customer"], refund["attribution"]
    assert ingest.put("/api/ingest/orders", refund).json()["changed"] is True
    order = Order.objects.get()
    assert order.status == "refunded"
    assert order.hashed_user_data == hashed
    assert order.gclid == "Cj0KCQ"


def test_customer_pii_is_hashed_and_never_stored_in_plaintext(ingest, marketplace):
    event = EventFactory(organizer=OrganizerFactory(client=marketplace))
    assert ingest.put("/api/ingest/orders", order_payload(event)).status_code == 200

    order = Order.objects.get()
    meta = order.hashed_user_data["conversions"]["meta"]
    assert meta["email"] == hashlib.sha256(b"john.smith@example.com").hexdigest()
    # Meta wants the national number with its country code and no "+" (docs/platforms.md,
    # Meta: hashing).
    assert meta["phone"] == hashlib.sha256(b"40722123456").hexdigest()
    google = order.hashed_user_data["conversions"]["google_ads"]
    assert google["phone"] == hashlib.sha256(b"+40722123456").hexdigest()
    assert set(order.hashed_user_data["audiences"]) == {"meta", "google_ads", "tiktok"}
    stored = json.dumps(order.hashed_user_data).lower()
    for plaintext in ["john", "smith", "example.com", "722123456"]:
        assert plaintext not in stored


def test_fbc_is_built_from_the_fbclid_when_the_core_only_has_the_click_id(ingest, marketplace):
    event = EventFactory(organizer=OrganizerFactory(client=marketplace))
    ingest.put("/api/ingest/orders", order_payload(event, placed_at="2026-11-20T10:00:00Z"))
    order = Order.objects.get()
    assert order.fbc == "fb.1.1795168800000.IwAR123"  # the click time is the order's, in ms
    assert order.visitor_id == "v-1"


def test_event_upsert_links_the_organizer_and_defaults_the_currency(ingest, marketplace):
    organizer = OrganizerFactory(client=marketplace)
    response = ingest.put("/api/ingest/events", event_payload(organizer))
    assert response.status_code == 200, response.content
    event = MarketplaceEvent.objects.get()
    assert (event.organizer, event.country, event.currency) == (
        organizer,
        "RO",
        marketplace.currency,
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"slug": "Not A Slug"}, "slug"),
        ({"starts_at": "2027-07-01T18:00:00"}, "starts_at"),  # naive: ambiguous time
        ({"country": "Romania"}, "country"),
        ({"public_url": "javascript:alert(1)"}, "public_url"),
        ({"status": "sold-out"}, "status"),
        ({"name": ""}, "name"),
        ({"image_url": "ftp://tix.example/poster.jpg"}, "image_url"),
        ({"price_min": "-1.00"}, "price_min"),
        ({"price_max": "12.345"}, "price_max"),
        ({"tickets_left": -1}, "tickets_left"),
        ({"description": "x" * 5001}, "description"),
    ],
)
def test_invalid_event_fields_answer_422_naming_the_field(ingest, marketplace, overrides, field):
    organizer = OrganizerFactory(client=marketplace)
    response = ingest.put("/api/ingest/events", event_payload(organizer, **overrides))
    assert response.status_code == 422
    assert field in {str(part) for error in response.json()["detail"] for part in error["loc"]}
    assert not MarketplaceEvent.objects.exists()


def test_the_catalog_fields_of_an_event_are_stored(ingest, marketplace):
    organizer = OrganizerFactory(client=marketplace)
    payload = event_payload(
        organizer,
        description="Three stages, one night.",
        image_url="https://tix.example/img/summer.jpg",
        price_min="80.00",
        price_max="250.00",
        tickets_left=0,
    )
    assert ingest.put("/api/ingest/events", payload).status_code == 200
    event = MarketplaceEvent.objects.get()
    assert (event.price_min, event.price_max, event.tickets_left, event.image_url) == (
        Decimal("80.00"),
        Decimal("250.00"),
        0,
        "https://tix.example/img/summer.jpg",
    )


def test_a_price_range_upside_down_is_rejected(ingest, marketplace):
    organizer = OrganizerFactory(client=marketplace)
    payload = event_payload(organizer, price_min="90.00", price_max="10.00")
    response = ingest.put("/api/ingest/events", payload)
    assert response.status_code == 422
    assert "price_max" in response.json()["detail"][0]["msg"]
    assert not MarketplaceEvent.objects.exists()


def test_an_event_that_ends_before_it_starts_is_rejected(ingest, marketplace):
    organizer = OrganizerFactory(client=marketplace)
    payload = event_payload(organizer, ends_at="2027-07-01T10:00:00+03:00")
    response = ingest.put("/api/ingest/events", payload)
    assert response.status_code == 422
    assert "ends_at" in response.json()["detail"][0]["msg"]


def test_an_unknown_organizer_reference_is_422_on_that_field(ingest, marketplace):
    organizer = OrganizerFactory()  # another marketplace's organizer
    response = ingest.put("/api/ingest/events", event_payload(organizer))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "organizer_external_id"]


def test_a_slug_taken_by_another_event_is_422(ingest, marketplace):
    organizer = OrganizerFactory(client=marketplace)
    EventFactory(organizer=organizer, slug="summer-fest", external_id="other")
    response = ingest.put("/api/ingest/events", event_payload(organizer))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "slug"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"value": "-1"}, "value"),
        ({"value": "12.345"}, "value"),
        ({"value": "lots"}, "value"),
        ({"currency": "EURO"}, "currency"),
        ({"tickets_count": 0}, "tickets_count"),
        ({"tickets_count": "two"}, "tickets_count"),
        ({"status": "pending"}, "status"),
        ({"external_id": ""}, "external_id"),
    ],
)
def test_invalid_order_fields_answer_422_naming_the_field(ingest, marketplace, overrides, field):
    event = EventFactory(organizer=OrganizerFactory(client=marketplace))
    response = ingest.put("/api/ingest/orders", order_payload(event, **overrides))
    assert response.status_code == 422
    assert field in {str(part) for error in response.json()["detail"] for part in error["loc"]}
    assert not Order.objects.exists()


def test_malformed_json_is_a_clear_4xx_not_a_500(ingest):
    response = ingest.put("/api/ingest/orders", "{not json")
    assert 400 <= response.status_code < 500


def test_a_batch_upserts_all_items_and_counts_them(ingest, marketplace):
    organizer = OrganizerFactory(client=marketplace)
    batch = {
        "items": [event_payload(organizer, external_id=f"ev-{i}", slug=f"ev-{i}") for i in range(3)]
    }
    first = ingest.post("/api/ingest/events/batch", batch)
    assert first.status_code == 200, first.content
    assert (first.json()["created"], first.json()["unchanged"]) == (3, 0)

    batch["items"][1]["name"] = "Renamed"
    second = ingest.post("/api/ingest/events/batch", batch).json()
    assert (second["created"], second["changed"], second["unchanged"]) == (0, 1, 2)


def test_one_bad_item_rejects_the_whole_batch_and_names_it(ingest, marketplace):
    event = EventFactory(organizer=OrganizerFactory(client=marketplace))
    items = [order_payload(event, external_id=f"ord-{i}") for i in range(3)]
    items[2]["event_external_id"] = "missing"
    response = ingest.post("/api/ingest/orders/batch", {"items": items})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == [
        "body",
        "payload",
        "items",
        2,
        "event_external_id",
    ]
    assert not Order.objects.exists()


def test_an_oversized_batch_is_rejected(ingest, marketplace):
    organizer = OrganizerFactory(client=marketplace)
    items = [{"external_id": f"o-{i}", "name": "x"} for i in range(501)]
    response = ingest.post("/api/ingest/organizers/batch", {"items": items})
    assert response.status_code == 422
    assert MarketplaceOrganizer.objects.filter(client=organizer.client).count() == 1


def test_every_field_at_its_longest_is_stored_not_a_500(ingest, marketplace):
    organizer = {
        "external_id": "o" * 100,
        "name": "n" * 200,
        "email": f"{'e' * 240}@example.com",
        "website": "https://x.example/" + "w" * 480,
    }
    assert ingest.put("/api/ingest/organizers", organizer).status_code == 200
    event = event_payload(
        MarketplaceOrganizer.objects.get(),
        external_id="x" * 100,
        slug="s" * 200,
        name="n" * 300,
        venue="v" * 200,
        city="c" * 120,
        category="k" * 80,
        genre="g" * 80,
        public_url="https://x.example/" + "p" * 480,
    )
    assert ingest.put("/api/ingest/events", event).status_code == 200
    order = order_payload(
        MarketplaceEvent.objects.get(),
        external_id="y" * 100,
        value="9999999999.99",
        attribution={
            "visitor_id": "v" * 64,
            "fbclid": "f" * 450,
            "user_agent": "u" * 500,
            **{
                key: "t" * 200
                for key in (
                    "fbp",
                    "gclid",
                    "gbraid",
                    "wbraid",
                    "ttclid",
                    "ttp",
                    "utm_source",
                    "utm_medium",
                    "utm_campaign",
                    "utm_content",
                    "utm_term",
                )
            },
        },
    )
    response = ingest.put("/api/ingest/orders", order)
    assert response.status_code == 200, response.content


def test_an_organizer_id_with_a_slash_is_refused_it_could_not_be_routed(ingest):
    response = ingest.put("/api/ingest/organizers", {"external_id": "acme/live", "name": "Acme"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "external_id"
