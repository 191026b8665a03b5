"""Multi-table inserts that skip conflicts: one statement on PostgreSQL, all or nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import DataError, IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from usher.events.models import TrackingEvent, VisitorTouch
from usher.lib.inserts import insert_ignoring_conflicts


def event(client, event_id: str, name: str = "page_view") -> TrackingEvent:
    return TrackingEvent(
        client=client, event_id=event_id, name=name, occurred_at=timezone.now(), consent={}
    )


def touch(client, visitor_id: str = "v-1") -> VisitorTouch:
    return VisitorTouch(
        client=client,
        visitor_id=visitor_id,
        touched_at=timezone.now(),
        touch_key="k" * 64,
        gclid="Cj0K",
    )


@pytest.mark.django_db
def test_rows_of_two_tables_go_in_one_statement_on_postgresql(marketplace):
    with CaptureQueriesContext(connection) as queries:
        insert_ignoring_conflicts(
            [event(marketplace, "e-1"), event(marketplace, "e-2")], [touch(marketplace)]
        )
    assert TrackingEvent.objects.count() == 2 and VisitorTouch.objects.count() == 1
    if connection.vendor == "postgresql":
        assert len(queries) == 1


@pytest.mark.django_db
def test_a_row_that_exists_already_is_skipped_and_the_first_copy_kept(marketplace):
    insert_ignoring_conflicts([event(marketplace, "e-1", name="page_view")], [touch(marketplace)])
    insert_ignoring_conflicts(
        [event(marketplace, "e-1", name="purchase"), event(marketplace, "e-2")],
        [touch(marketplace)],
    )
    assert dict(TrackingEvent.objects.values_list("event_id", "name")) == {
        "e-1": "page_view",
        "e-2": "page_view",
    }
    assert VisitorTouch.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_nothing_is_stored_when_one_table_refuses_its_rows(marketplace):
    broken = touch(marketplace)
    broken.visitor_id = None  # NOT NULL
    with pytest.raises(IntegrityError):
        insert_ignoring_conflicts([event(marketplace, "e-1")], [broken])
    assert not TrackingEvent.objects.exists()


@pytest.mark.django_db
def test_nothing_to_insert_sends_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        insert_ignoring_conflicts([], [])


@pytest.mark.django_db(transaction=True)
def test_an_overlong_value_is_refused_not_cut_to_the_columns_length(marketplace):
    overlong = event(marketplace, "e" * 101)  # event_id is varchar(100)
    with pytest.raises(DataError):
        insert_ignoring_conflicts([event(marketplace, "e-1"), overlong])
    assert not TrackingEvent.objects.exists()


@pytest.mark.django_db
def test_fields_prepared_by_django_are_stored_as_save_would(marketplace):
    before = timezone.now()
    row = event(marketplace, "e-1")
    row.value, row.ip_address, row.content_ids = Decimal("12.345"), "::ffff:10.0.0.1", ["ü"]
    insert_ignoring_conflicts([row, event(marketplace, "e-2")])
    stored = TrackingEvent.objects.get(event_id="e-1")
    assert before <= stored.received_at <= timezone.now()  # auto_now_add, set at insert
    assert (stored.value, stored.ip_address, stored.content_ids) == (
        Decimal("12.35"),
        "::ffff:10.0.0.1",
        ["ü"],
    )
    other = TrackingEvent.objects.get(event_id="e-2")
    assert (other.value, other.ip_address, other.content_ids) == (None, None, [])
