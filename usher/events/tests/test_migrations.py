"""Upgrading a deployed marketplace moves the event store into this app without losing
a single event, touch or the deliveries that point at them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from usher.conversions.models import ConversionDelivery
from usher.events.models import TrackingEvent, VisitorTouch
from usher.marketplace.tests.factories import EventFactory

# The last migrations before the move: the event store still belonged to `tracking`.
BEFORE_THE_MOVE = [
    ("tracking", "0004_trackingcode_refresh_token"),
    ("conversions", "0002_alter_conversiondelivery_organizer"),
    ("events", None),
]
EVENTS = 3


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


@pytest.mark.django_db(transaction=True)
def test_events_touches_and_their_deliveries_survive_the_move_to_the_events_app():
    page = EventFactory()
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = _migrate(BEFORE_THE_MOVE)
    try:
        assert "tracking_trackingevent" in connection.introspection.table_names()
        old_event = old.get_model("tracking", "TrackingEvent")
        old_touch = old.get_model("tracking", "VisitorTouch")
        old_delivery = old.get_model("conversions", "ConversionDelivery")
        now = timezone.now()
        for i in range(EVENTS):
            row = old_event.objects.create(
                client_id=page.client_id,
                marketplace_event_id=page.pk,
                organizer_id=page.organizer_id,
                event_id=f"evt-{i}",
                name="view_item",
                occurred_at=now - timedelta(minutes=i),
                visitor_id=f"v-{i}",
                gclid=f"gclid-{i}",
            )
            old_touch.objects.create(
                client_id=page.client_id,
                visitor_id=f"v-{i}",
                touched_at=row.occurred_at,
                gclid=f"gclid-{i}",
                touch_key=f"key-{i}",
            )
            old_delivery.objects.create(
                client_id=page.client_id,
                destination_key=f"meta:{i}",
                provider="meta",
                event_id=row.event_id,
                event_name=row.name,
                tracking_event_id=row.pk,
                next_attempt_at=now,
            )
    finally:
        _migrate(latest)

    tables = connection.introspection.table_names()
    assert {"events_trackingevent", "events_visitortouch"} <= set(tables)
    assert "tracking_trackingevent" not in tables
    events = {e.event_id: e for e in TrackingEvent.objects.select_related("marketplace_event")}
    assert sorted(events) == [f"evt-{i}" for i in range(EVENTS)]
    assert {e.marketplace_event for e in events.values()} == {page}
    assert sorted(VisitorTouch.objects.values_list("gclid", flat=True)) == [
        f"gclid-{i}" for i in range(EVENTS)
    ]
    for delivery in ConversionDelivery.objects.select_related("tracking_event"):
        assert delivery.tracking_event == events[delivery.event_id]
    highest_id = max(e.pk for e in events.values())
    # The foreign key still holds in the renamed table: deleting an event takes its delivery.
    events["evt-0"].delete()
    assert ConversionDelivery.objects.count() == EVENTS - 1
    # New rows keep getting fresh ids after the rename (the sequence came along).
    fresh = TrackingEvent.objects.create(
        client_id=page.client_id, event_id="evt-new", name="page_view", occurred_at=now
    )
    assert fresh.pk > highest_id
