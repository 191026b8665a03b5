"""Set-based batch ingest: bounded queries, idempotent resends, post-save once per changed
row, and the orders' ticket lines."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from usher.conversions.models import ConversionDelivery
from usher.marketplace.models import MarketplaceEvent, Order, OrderLine
from usher.marketplace.tests.factories import EventFactory, OrganizerFactory
from usher.marketplace.tests.test_ingest import event_payload, order_payload
from usher.tracking import services as tracking

pytestmark = pytest.mark.django_db

LINES = [
    {"ticket_type_id": "vip", "name": "VIP", "quantity": 1, "unit_price": "150.50"},
    {"ticket_type_id": "ga", "name": "General admission", "quantity": 2, "unit_price": "45"},
]


@pytest.fixture
def event(marketplace):
    return EventFactory(organizer=OrganizerFactory(client=marketplace))


def orders(event, count: int, **overrides) -> list[dict]:
    return [order_payload(event, external_id=f"ord-{i}", **overrides) for i in range(count)]


def post_orders(ingest, items):
    return ingest.post("/api/ingest/orders/batch", {"items": items})


def writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def test_a_batch_costs_the_same_queries_whatever_its_size(ingest, event):
    def run(prefix: str, count: int) -> tuple[list[str], list[str]]:
        items = [
            order_payload(event, external_id=f"{prefix}-{i}", status="refunded")
            for i in range(count)
        ]
        with CaptureQueriesContext(connection) as queries:
            assert post_orders(ingest, items).status_code == 200
        sql = [q["sql"] for q in queries.captured_queries]
        inserts = [q for q in sql if q.startswith("INSERT")]
        return [q for q in sql if not q.startswith("INSERT")], inserts

    small, _ = run("small", 3)
    large, inserts = run("large", 60)

    assert len(large) == len(small)
    # One INSERT per chunk the database takes (SQLite caps the parameters per statement).
    assert 1 <= len(inserts) <= 60 // 10


def test_a_resent_batch_writes_nothing_not_even_updated_at(ingest, event):
    items = orders(event, 5, lines=LINES, tickets_count=3)
    assert post_orders(ingest, items).json()["created"] == 5
    stamps = dict(Order.objects.values_list("external_id", "updated_at"))

    with CaptureQueriesContext(connection) as queries:
        again = post_orders(ingest, items)

    assert again.json()["unchanged"] == 5
    assert writes(queries) == []
    # Reading the batch's rows, their events and lines, and the client: nothing per item.
    assert len(queries.captured_queries) <= 6
    assert dict(Order.objects.values_list("external_id", "updated_at")) == stamps


def test_only_the_changed_orders_are_written_and_announced_once_each(ingest, event):
    post_orders(ingest, orders(event, 4))
    saved: list[tuple[str, bool, frozenset | None]] = []

    def record(sender, instance, created, update_fields, **kwargs):
        saved.append((instance.external_id, created, update_fields))

    post_save.connect(record, sender=Order, dispatch_uid="test-record")
    try:
        items = orders(event, 4)
        items[1]["status"] = "refunded"
        items[3]["value"] = "99.00"
        response = post_orders(ingest, [*items, order_payload(event, external_id="ord-new")])
    finally:
        post_save.disconnect(dispatch_uid="test-record")

    assert response.json()["changed"] == 2 and response.json()["created"] == 1
    assert sorted(saved) == [
        ("ord-1", False, frozenset({"status", "updated_at"})),
        ("ord-3", False, frozenset({"value", "updated_at"})),
        ("ord-new", True, None),
    ]
    assert Order.objects.get(external_id="ord-1").status == "refunded"


def test_changed_customer_and_checkout_data_are_rewritten_in_one_batch(ingest, event):
    post_orders(ingest, orders(event, 2))
    items = orders(event, 2)
    items[0]["customer"] = {"email": "new@example.com", "country": "DE"}
    items[0]["attribution"] = {"visitor_id": "v-9", "client_ip": "2001:db8::1"}

    response = post_orders(ingest, items)

    assert [r["changed"] for r in response.json()["results"]] == [True, False]
    changed = Order.objects.get(external_id="ord-0")
    assert (changed.customer_country, changed.visitor_id, changed.client_ip) == (
        "DE",
        "v-9",
        "2001:db8::1",
    )
    meta = changed.hashed_user_data["conversions"]["meta"]
    assert meta["email"] == hashlib.sha256(b"new@example.com").hexdigest()
    assert Order.objects.get(external_id="ord-1").customer_country == "RO"


def test_paid_orders_of_a_batch_are_fanned_out_once_each(
    ingest, event, django_capture_on_commit_callbacks
):
    tracking.create_code(
        event.organizer,
        tracking.CodeInput(
            provider="meta",
            settings={"pixel_id": "123456789012345", "access_token": "sandbox-token"},
        ),
    )
    consent = {"ad_storage": True, "ad_user_data": True, "ad_personalization": True}
    # Placed now: Meta takes no event older than 7 days, and fan-out sends it none.
    items = orders(
        event,
        3,
        placed_at=timezone.now().isoformat(),
        attribution={"visitor_id": "v-1", "consent": consent},
    )
    items[2]["status"] = "refunded"

    with django_capture_on_commit_callbacks(execute=True) as first:
        post_orders(ingest, items)
    with django_capture_on_commit_callbacks(execute=True) as resent:
        post_orders(ingest, items)

    fanned = ConversionDelivery.objects.values_list("order__external_id", flat=True)
    assert sorted(fanned) == ["ord-0", "ord-1"]
    assert Order.objects.filter(fanned_out_at__isnull=False).count() == 2
    assert resent == [] and len(first) >= 2  # nothing changed: nothing queued again


def test_a_later_item_for_the_same_order_updates_what_the_earlier_one_wrote(ingest, event):
    first = order_payload(event)
    refund = order_payload(event, status="refunded")

    response = post_orders(ingest, [first, refund])

    assert [(r["created"], r["changed"]) for r in response.json()["results"]] == [
        (True, True),
        (False, True),
    ]
    assert Order.objects.get().status == "refunded"


def test_two_events_of_one_batch_claiming_one_slug_name_the_second(ingest, marketplace):
    organizer = OrganizerFactory(client=marketplace)
    items = [
        event_payload(organizer, external_id="a", slug="gala"),
        event_payload(organizer, external_id="b", slug="gala"),
    ]

    response = ingest.post("/api/ingest/events/batch", {"items": items})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "items", 1, "slug"]
    assert not MarketplaceEvent.objects.exists()


def test_an_event_moved_to_another_organizer_loses_its_event_codes(ingest, marketplace):
    first, second = OrganizerFactory(client=marketplace), OrganizerFactory(client=marketplace)
    ingest.put("/api/ingest/events", event_payload(first))
    moved = MarketplaceEvent.objects.get()
    tracking.create_code(
        first,
        tracking.CodeInput(
            provider="ga4", settings={"measurement_id": "G-ABC1234"}, event_id=moved.pk
        ),
    )
    renamed = event_payload(first, name="Renamed")
    ingest.post("/api/ingest/events/batch", {"items": [renamed]})
    assert moved.tracking_codes.count() == 1  # a rename moves nothing

    ingest.post("/api/ingest/events/batch", {"items": [event_payload(second)]})

    assert moved.tracking_codes.count() == 0


# --- ticket lines ---


def test_ticket_lines_are_stored_in_order_and_count_the_tickets(ingest, event):
    payload = order_payload(event, lines=LINES)
    del payload["tickets_count"]

    assert ingest.put("/api/ingest/orders", payload).status_code == 200

    order = Order.objects.get()
    assert order.tickets_count == 3
    assert [line.as_tuple() for line in order.lines.all()] == [
        ("vip", "VIP", 1, Decimal("150.50")),
        ("ga", "General admission", 2, Decimal("45.00")),
    ]


def test_changed_lines_replace_the_stored_ones_omitted_lines_keep_them(ingest, event):
    ingest.put("/api/ingest/orders", order_payload(event, lines=LINES, tickets_count=3))
    stamp = Order.objects.get().updated_at

    fewer = [{**LINES[0], "quantity": 3}]
    changed = ingest.put("/api/ingest/orders", order_payload(event, lines=fewer, tickets_count=3))
    assert changed.json()["changed"] is True
    assert Order.objects.get().updated_at > stamp
    assert [line.quantity for line in OrderLine.objects.all()] == [3]

    refund = order_payload(event, status="refunded", tickets_count=3)  # no lines: kept
    ingest.put("/api/ingest/orders", refund)
    assert OrderLine.objects.count() == 1


@pytest.mark.parametrize(
    ("lines", "extra", "message"),
    [
        (LINES, {"tickets_count": 5}, "must equal the lines' quantities (3)"),
        ([LINES[0], LINES[0]], {}, "each ticket_type_id may appear once"),
        ([{**LINES[0], "quantity": 0}], {}, "greater than or equal to 1"),
        ([{**LINES[0], "unit_price": "-1"}], {}, "greater than or equal to 0"),
        ([{**LINES[0], "ticket_type_id": f"t{i}"} for i in range(51)], {}, "at most 50"),
    ],
)
def test_bad_lines_are_refused_with_422_and_nothing_written(ingest, event, lines, extra, message):
    payload = {**order_payload(event, lines=lines), **extra}
    if "tickets_count" not in extra:
        del payload["tickets_count"]

    response = ingest.put("/api/ingest/orders", payload)

    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Order.objects.exists() and not OrderLine.objects.exists()
