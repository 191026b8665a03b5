"""Durable multi-table inserts in one round trip.

`QuerySet.bulk_create` opens a transaction of its own, so storing rows in two tables
costs BEGIN, two INSERTs and COMMIT: four round trips to the database before a hot
endpoint may answer. `insert_ignoring_conflicts` sends the INSERTs as one statement on
PostgreSQL, chained in a WITH, which in autocommit is its own transaction: every row or
none is committed when the one round trip returns.

Rows are mappings of a model's attribute names to values (`client_id`, not `client`),
not model instances: building a Django instance cost more than storing it (a collector
batch of 50 spent a third of its CPU in `Model.__init__`, bench/README.md, "Hot paths
side by side"). On PostgreSQL each table's rows travel as one JSON document, bound
server-side and read by the server (`INSERT ... SELECT ... FROM json_to_recordset(%s)`):
the statement's text depends only on the tables, so it is built once per process and
prepared once per connection (`prepare_threshold` in settings), and the client encodes
the rows with one call of the C JSON encoder, instead of psycopg's Python array dumper
walking one array per column. Values still pass through each field's own preparation
(`get_db_prep_save`), except text, JSON and NULLs that it would pass through unchanged;
a missing value takes the field's default, and `auto_now`/`auto_now_add` fields the
time of the batch, so a row is stored as `bulk_create` would store it.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.utils import timezone
from psycopg.types.json import Json, Jsonb

# A model's attribute names (a foreign key by its `_id`) to the values to store.
Row = Mapping[str, Any]
# `varchar(200)` -> `varchar`: the rows are declared without lengths, so that the
# INSERT's assignment to the column refuses an overlong value with the column's own
# error, as Django's INSERT does.
TYPE_MODIFIER = re.compile(r"\(.*?\)")
# What a prepared value (`get_db_prep_save`) becomes in the JSON document: the text the
# column's input function reads back to the same value.
TEXT_FORM: tuple[tuple[type | tuple[type, ...], Callable[[Any], Any]], ...] = (
    ((datetime.datetime, datetime.date, datetime.time), lambda value: value.isoformat()),
    ((Decimal, uuid.UUID, ipaddress.IPv4Address, ipaddress.IPv6Address), str),
)
# Immutable values whose preparation a batch can remember (a list or dict could change).
REMEMBERED_TYPES = frozenset({bool, int, str, Decimal, datetime.datetime, datetime.date, uuid.UUID})


def _inserted_fields(model: type[models.Model]) -> list[models.Field]:
    """The columns an INSERT of a new row names: all but a generated primary key."""
    return [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and not field.generated
    ]


def _compiled_statements(
    model: type[models.Model], rows: Sequence[Row], using: str
) -> list[tuple[str, tuple]]:
    """The INSERT ... ON CONFLICT DO NOTHING statements Django's compiler builds for the
    rows (as unsaved instances), in as few statements as the database's parameter limit
    allows."""
    instances = [model(**row) for row in rows]
    fields = _inserted_fields(model)
    connection = connections[using]
    size = max(1, connection.ops.bulk_batch_size(fields, instances))
    statements: list[tuple[str, tuple]] = []
    for start in range(0, len(instances), size):
        query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
        query.insert_values(fields, instances[start : start + size])
        statements.extend(query.get_compiler(using=using).as_sql())
    return statements


# Python values that are already their own JSON document.
JSON_VALUE_TYPES = frozenset({dict, list, str, int, float, bool})


def _types_stored_as_is(field: models.Field) -> frozenset[type]:
    """The types of value whose text form in the JSON document is the value itself, so
    that the field's preparation can be skipped: a `str` for a field that prepares one
    by returning it unchanged (CharField's preparation, not overridden); any JSON value
    for a JSONField under the standard encoder (its preparation wraps the value for
    psycopg, and `_text_form` unwraps it again)."""
    kind = type(field)
    if isinstance(field, models.JSONField):
        plain = (
            kind.get_db_prep_save is models.JSONField.get_db_prep_save
            and kind.get_db_prep_value is models.JSONField.get_db_prep_value
            and field.encoder is None
        )
        return JSON_VALUE_TYPES if plain else frozenset()
    text_as_is = (
        kind.get_prep_value is models.CharField.get_prep_value
        and kind.get_db_prep_value is models.Field.get_db_prep_value
        and kind.get_db_prep_save is models.Field.get_db_prep_save
    )
    return frozenset({str}) if text_as_is else frozenset()


def _stamped_at_save(field: models.Field) -> bool:
    """Whether Django sets the field's value itself when a row is added (`auto_now`,
    `auto_now_add`): the given value, if any, is replaced by the time of the save."""
    if isinstance(field, models.DateField):
        return field.auto_now or field.auto_now_add
    if type(field).pre_save is not models.Field.pre_save:
        raise TypeError(f"{field} computes its value when saved; insert its rows with the ORM")
    return False


def _text_form(prepared: Any) -> Any:
    """A value prepared by its field for psycopg, as the JSON the server reads it from."""
    if prepared is None or isinstance(prepared, str | int | float):
        return prepared
    if isinstance(prepared, Json | Jsonb):  # a JSONField's value, under its encoder
        dumps = prepared.dumps
        return prepared.obj if dumps in (None, json.dumps) else json.loads(dumps(prepared.obj))
    for kinds, form in TEXT_FORM:
        if isinstance(prepared, kinds):
            return form(prepared)
    raise TypeError(f"cannot insert {type(prepared).__name__} values from JSON")


@cache
def _plan(model: type[models.Model]) -> tuple[list[tuple], list[models.Field]]:
    """The model's inserted fields, split into those a row gives (field, attribute
    name, column, the types of value stored as they are) and those stamped at save."""
    given, stamped = [], []
    for field in _inserted_fields(model):
        if _stamped_at_save(field):
            stamped.append(field)
        else:
            given.append((field, field.attname, field.column, _types_stored_as_is(field)))
    return given, stamped


def json_rows(
    model: type[models.Model], rows: Sequence[Row], connection: BaseDatabaseWrapper
) -> str:
    """The rows as one JSON array of objects keyed by column, each value prepared by its
    field as Django's INSERT would prepare it (read back by `recordset_columns`' types,
    here and by statements of their own). NULLs are left out (a missing key reads
    as NULL). A value that recurs in a column (the batch's client, page, address, time)
    is prepared once per batch: preparing it again would give the same."""
    given, stamped = _plan(model)
    now = timezone.now()
    stamps = {
        field.column: _text_form(
            field.get_db_prep_save(
                now if isinstance(field, models.DateTimeField) else datetime.date.today(),
                connection,
            )
        )
        for field in stamped
    }
    prepared: dict[tuple, Any] = {}
    documents = []
    for row in rows:
        document = dict(stamps)
        for field, attname, column, as_is in given:
            value = row[attname] if attname in row else field.get_default()
            if value is None:
                continue
            if type(value) in as_is:
                document[column] = value
            elif type(value) in REMEMBERED_TYPES:
                key = (column, type(value), value)
                if key not in prepared:
                    prepared[key] = _text_form(field.get_db_prep_save(value, connection))
                document[column] = prepared[key]
            else:
                document[column] = _text_form(field.get_db_prep_save(value, connection))
        documents.append(document)
    return json.dumps(documents, allow_nan=False)


@cache
def recordset_columns(model: type[models.Model], alias: str) -> tuple[str, str]:
    """The columns a new row of `model` names (all but a generated primary key), quoted
    and joined, and the same declared with their types for `json_to_recordset(...) AS
    (...)` over `json_rows`' document: lengths dropped, so an overlong value is refused by
    the column itself."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = _inserted_fields(model)
    columns = ", ".join(quote(field.column) for field in fields)
    declared = ", ".join(
        f"{quote(field.column)} {TYPE_MODIFIER.sub('', field.db_type(connection))}"
        for field in fields
    )
    return columns, declared


@cache
def _insert_sql(model: type[models.Model], alias: str) -> str:
    """One table's INSERT from a JSON array of rows, skipping conflicts: the same text
    for every batch of the model."""
    quote = connections[alias].ops.quote_name
    columns, declared = recordset_columns(model, alias)
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "
        f"SELECT {columns} FROM json_to_recordset(%s::json) AS given({declared}) "
        "ON CONFLICT DO NOTHING"
    )


@cache
def _chained_sql(tables: tuple[type[models.Model], ...], alias: str) -> str:
    """The INSERTs of several tables as one data-modifying WITH: every INSERT runs, in
    one statement and one snapshot."""
    *leading, last = (_insert_sql(model, alias) for model in tables)
    ctes = ", ".join(f"stored_{index} AS ({sql})" for index, sql in enumerate(leading))
    return f"WITH {ctes} {last}" if ctes else last


def server_bound_cursor(connection: BaseDatabaseWrapper):
    """A cursor of Django's connection that binds parameters on the server (Django's own
    quote them into the SQL text), wrapped as Django wraps its cursors: errors
    translated, execute wrappers and the query log (tests count statements) applied."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


def insert_ignoring_conflicts(
    *tables: tuple[type[models.Model], Sequence[Row]], using: str = DEFAULT_DB_ALIAS
) -> None:
    """Insert each model's rows, skipping rows that conflict with a unique constraint;
    all or nothing. One statement (one round trip, committed on return in autocommit)
    on PostgreSQL, or when the rows fit one; otherwise one transaction."""
    filled = [(model, rows) for model, rows in tables if rows]
    if not filled:
        return
    connection = connections[using]
    if connection.vendor == "postgresql":
        sql = _chained_sql(tuple(model for model, _ in filled), connection.alias)
        params = [json_rows(model, rows, connection) for model, rows in filled]
        with server_bound_cursor(connection) as cursor:
            cursor.execute(sql, params)
        return
    statements = [
        statement
        for model, rows in filled
        for statement in _compiled_statements(model, rows, using)
    ]
    if len(statements) == 1:
        with connection.cursor() as cursor:
            cursor.execute(*statements[0])
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
