"""Multi-table inserts that skip conflicts: one statement on PostgreSQL, all or nothing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import DataError, IntegrityError, connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from usher.conversions.models import ConversionDelivery, DeliveryStatus
from usher.events.models import TrackingEvent, VisitorTouch
from usher.lib.inserts import insert_ignoring_conflicts


def event(client, event_id: str, name: str = "page_view") -> dict:
    return {
        "client_id": client.pk,
        "event_id": event_id,
        "name": name,
        "occurred_at": timezone.now(),
        "consent": {},
    }


def touch(client, visitor_id: str | None = "v-1") -> dict:
    return {
        "client_id": client.pk,
        "visitor_id": visitor_id,
        "touched_at": timezone.now(),
        "touch_key": "k" * 64,
        "gclid": "Cj0K",
    }


@pytest.mark.django_db
def test_rows_of_two_tables_go_in_one_statement_on_postgresql(marketplace):
    with CaptureQueriesContext(connection) as queries:
        insert_ignoring_conflicts(
            (TrackingEvent, [event(marketplace, "e-1"), event(marketplace, "e-2")]),
            (VisitorTouch, [touch(marketplace)]),
        )
    assert TrackingEvent.objects.count() == 2 and VisitorTouch.objects.count() == 1
    if connection.vendor == "postgresql":
        assert len(queries) == 1


@pytest.mark.django_db
def test_a_row_that_exists_already_is_skipped_and_the_first_copy_kept(marketplace):
    insert_ignoring_conflicts(
        (TrackingEvent, [event(marketplace, "e-1", name="page_view")]),
        (VisitorTouch, [touch(marketplace)]),
    )
    insert_ignoring_conflicts(
        (TrackingEvent, [event(marketplace, "e-1", name="purchase"), event(marketplace, "e-2")]),
        (VisitorTouch, [touch(marketplace)]),
    )
    assert dict(TrackingEvent.objects.values_list("event_id", "name")) == {
        "e-1": "page_view",
        "e-2": "page_view",
    }
    assert VisitorTouch.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_nothing_is_stored_when_one_table_refuses_its_rows(marketplace):
    broken = touch(marketplace, visitor_id=None)  # NOT NULL
    with pytest.raises(IntegrityError):
        insert_ignoring_conflicts(
            (TrackingEvent, [event(marketplace, "e-1")]), (VisitorTouch, [broken])
        )
    assert not TrackingEvent.objects.exists()


@pytest.mark.django_db
def test_nothing_to_insert_sends_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        insert_ignoring_conflicts((TrackingEvent, []), (VisitorTouch, []))


@pytest.mark.django_db(transaction=True)
def test_an_overlong_value_is_refused_not_cut_to_the_columns_length(marketplace):
    overlong = event(marketplace, "e" * 101)  # event_id is varchar(100)
    with pytest.raises(DataError):
        insert_ignoring_conflicts((TrackingEvent, [event(marketplace, "e-1"), overlong]))
    assert not TrackingEvent.objects.exists()


def stored_as_saved(model: type[Model], row: dict, key: str, stamped: tuple[str, ...]):
    """The row stored by `insert_ignoring_conflicts` and by the ORM's `save()` under two
    values of its unique `key`, each read back as field values (the key and id aside);
    and whether the fields Django stamps at save fell within the insert's time."""
    before = timezone.now()
    insert_ignoring_conflicts((model, [{**row, key: "inserted"}]))
    after = timezone.now()
    model.objects.create(**{**row, key: "saved"})
    inserted, saved = (
        {
            field.attname: getattr(model.objects.get(**{key: copy}), field.attname)
            for field in model._meta.concrete_fields
            if field.attname not in {"id", key}
        }
        for copy in ("inserted", "saved")
    )
    stamps_in_time = all(before <= inserted[name] <= after for name in stamped)
    for name in stamped:
        inserted.pop(name), saved.pop(name)
    return inserted, saved, stamps_in_time


@pytest.mark.django_db
def test_a_row_is_stored_as_save_would_store_it(marketplace):
    """Field preparation (a value with more decimal places than the column keeps, an
    IPv4-mapped address, JSON with non-ASCII text, a time in another zone), defaults of
    the fields left out, and `auto_now_add` set at insert time. The expected values are
    whatever `save()` stores: the database rounds 12.345 (PostgreSQL half away from zero,
    12.35; SQLite keeps a float and Django rounds it half-even, 12.34)."""
    row = {
        "client_id": marketplace.pk,
        "name": "view_item",
        "occurred_at": datetime(
            2026, 3, 29, 2, 30, 15, 123456, tzinfo=ZoneInfo("Europe/Bucharest")
        ),
        "value": Decimal("12.345"),
        "currency": "RON",
        "ip_address": "::ffff:10.0.0.1",
        "content_ids": ["ü", "<'\"{}>"],
        "consent": {"ad_storage": True, "note": "é\u0001"},
        "num_items": 3,
        "visitor_id": "",
    }
    inserted, saved, stamped_at_insert = stored_as_saved(
        TrackingEvent, row, "event_id", stamped=("received_at",)
    )
    assert inserted == saved
    assert inserted["value"] in (Decimal("12.35"), Decimal("12.34"))
    assert (inserted["fanned_out_at"], inserted["utm_source"]) == (None, "")  # defaults
    assert stamped_at_insert


@pytest.mark.django_db
def test_defaults_and_auto_now_fields_are_stored_as_save_would(marketplace):
    """A delivery left to its defaults: an enum default (status), a number (attempts),
    a boolean given, both `auto_now_add` and `auto_now` stamped at insert time."""
    source = TrackingEvent.objects.create(**event(marketplace, "e-1"))
    row = {
        "tracking_event_id": source.pk,
        "client_id": marketplace.pk,
        "destination_key": "meta:1",
        "provider": "meta",
        "event_name": "purchase",
        "minimal_data": True,
        "next_attempt_at": timezone.now(),
    }
    inserted, saved, stamped_at_insert = stored_as_saved(
        ConversionDelivery, row, "event_id", stamped=("created_at", "updated_at")
    )
    assert inserted == saved
    assert (inserted["status"], inserted["attempts"]) == (DeliveryStatus.PENDING, 0)
    assert stamped_at_insert


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements of PostgreSQL")
def test_a_statement_run_again_on_a_connection_is_prepared_there(marketplace):
    """The server stops parsing and planning the insert once it has run a few times on
    the connection (`DATABASE_PREPARE_THRESHOLD`)."""
    for number in range(6):
        insert_ignoring_conflicts((TrackingEvent, [event(marketplace, f"e-{number}")]))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any("json_to_recordset" in statement for statement in prepared)


def test_only_plain_text_and_json_skip_their_fields_preparation():
    """A JSONField under its own encoder (which may turn a Decimal or a date into
    text) and a field that prepares text its own way keep their preparation."""
    from django.core.serializers.json import DjangoJSONEncoder
    from django.db import models

    from usher.lib.inserts import _types_stored_as_is

    assert _types_stored_as_is(models.JSONField()) >= {dict, list, str}
    assert _types_stored_as_is(models.JSONField(encoder=DjangoJSONEncoder)) == frozenset()
    assert _types_stored_as_is(models.CharField(max_length=5)) == {str}
    assert _types_stored_as_is(models.GenericIPAddressField()) == frozenset()
