"""Durable multi-table inserts in one round trip.

`QuerySet.bulk_create` opens a transaction of its own, so storing rows in two tables
costs BEGIN, two INSERTs and COMMIT: four round trips to the database before a hot
endpoint may answer. `insert_ignoring_conflicts` sends the INSERTs as one statement on
PostgreSQL, chained in a WITH, which in autocommit is its own transaction: every row or
none is committed when the one round trip returns.

On PostgreSQL each table's rows travel as one array per column, unnested by the server
(`INSERT ... SELECT * FROM UNNEST(%s::varchar[], ...)`), and the parameters are bound
server-side. The statement's text depends only on the tables, not on how many rows they
hold, and psycopg sends the arrays as they are instead of quoting every value into the
SQL text: the collector spent half of its CPU in Django's insert compiler and that
quoting (bench/README.md, "Hot paths side by side"). Values still pass through each
field's own preparation (`pre_save`, `get_db_prep_save`), so a row is stored exactly as
`bulk_create` would store it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

# `varchar(200)` -> `varchar`: an explicit cast to a length would truncate an overlong
# value silently, where the INSERT's own assignment to the column refuses it.
TYPE_MODIFIER = re.compile(r"\(.*?\)")


def _inserted_fields(model: type[models.Model]) -> list[models.Field]:
    """The columns an INSERT of a new row names: all but a generated primary key."""
    return [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and not field.generated
    ]


def _compiled_statements(rows: Sequence[models.Model], using: str) -> list[tuple[str, tuple]]:
    """The INSERT ... ON CONFLICT DO NOTHING statements Django's compiler builds for
    unsaved instances of one model, in as few statements as the database's parameter
    limit allows."""
    model = type(rows[0])
    fields = _inserted_fields(model)
    connection = connections[using]
    size = max(1, connection.ops.bulk_batch_size(fields, rows))
    statements: list[tuple[str, tuple]] = []
    for start in range(0, len(rows), size):
        query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
        query.insert_values(fields, rows[start : start + size])
        statements.extend(query.get_compiler(using=using).as_sql())
    return statements


@cache
def _reads_attribute(kind: type[models.Field]) -> bool:
    """Whether the field's value before saving is its attribute as it is (no `auto_now`
    and the like): Django's own `Field.pre_save`."""
    return kind.pre_save is models.Field.pre_save


@cache
def _stores_text_as_is(kind: type[models.Field]) -> bool:
    """Whether the field prepares a `str` for the database by returning it unchanged:
    CharField's preparation (`to_python` of a `str`), not overridden."""
    return (
        kind.get_prep_value is models.CharField.get_prep_value
        and kind.get_db_prep_value is models.Field.get_db_prep_value
        and kind.get_db_prep_save is models.Field.get_db_prep_save
    )


def _column(field: models.Field, rows: Sequence[models.Model], connection) -> list:
    """The rows' values of one field, as Django's insert would send them. Text that
    Django would pass through unchanged is not run through its preparation one value
    at a time (most of the collector's columns, and most of their values empty)."""
    kind = type(field)
    if _reads_attribute(kind):
        values = [getattr(row, field.attname) for row in rows]
    else:
        values = [field.pre_save(row, True) for row in rows]
    if _stores_text_as_is(kind) and all(type(value) is str for value in values):
        return values
    return [field.get_db_prep_save(value, connection) for value in values]


def _unnested_statement(
    rows: Sequence[models.Model], connection: BaseDatabaseWrapper
) -> tuple[str, list[list]]:
    """One PostgreSQL INSERT ... SELECT FROM UNNEST of unsaved instances of one model,
    skipping conflicts, and its parameters: one array per column, whatever the rows."""
    model = type(rows[0])
    columns = [_column(field, rows, connection) for field in _inserted_fields(model)]
    return _unnest_sql(model, connection.alias), columns


@cache
def _unnest_sql(model: type[models.Model], alias: str) -> str:
    """The statement of `_unnested_statement`: the same for every batch of the model."""
    connection = connections[alias]
    fields = _inserted_fields(model)
    quote = connection.ops.quote_name
    arrays = ", ".join(
        f"%b::{TYPE_MODIFIER.sub('', field.db_type(connection))}[]" for field in fields
    )
    return (
        f"INSERT INTO {quote(model._meta.db_table)} "
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"SELECT * FROM UNNEST({arrays}) ON CONFLICT DO NOTHING"
    )


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
    *tables: Sequence[models.Model], using: str = DEFAULT_DB_ALIAS
) -> None:
    """Insert each sequence of unsaved instances (one model per sequence), skipping rows
    that conflict with a unique constraint; all or nothing. One statement (one round
    trip, committed on return in autocommit) on PostgreSQL, or when the rows fit one;
    otherwise one transaction."""
    filled = [rows for rows in tables if rows]
    if not filled:
        return
    connection = connections[using]
    if connection.vendor == "postgresql":
        # A data-modifying WITH: every INSERT runs, in one statement and one snapshot.
        *leading, (last_sql, last_params) = [
            _unnested_statement(rows, connection) for rows in filled
        ]
        ctes = ", ".join(f"stored_{index} AS ({sql})" for index, (sql, _) in enumerate(leading))
        params = [array for _, arrays in leading for array in arrays] + last_params
        with server_bound_cursor(connection) as cursor:
            cursor.execute(f"WITH {ctes} {last_sql}" if ctes else last_sql, params)
        return
    statements = [statement for rows in filled for statement in _compiled_statements(rows, using)]
    if len(statements) == 1:
        with connection.cursor() as cursor:
            cursor.execute(*statements[0])
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
