"""Durable multi-table inserts in one round trip.

`QuerySet.bulk_create` opens a transaction of its own, so storing rows in two tables
costs BEGIN, two INSERTs and COMMIT: four round trips to the database before a hot
endpoint may answer. `insert_ignoring_conflicts` sends the same INSERTs (Django builds
them) as one statement on PostgreSQL, chained in a WITH, which in autocommit is its own
transaction: every row or none is committed when the one round trip returns.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery


def _insert_statements(rows: Sequence[models.Model], using: str) -> list[tuple[str, tuple]]:
    """The INSERT ... ON CONFLICT DO NOTHING statements for unsaved instances of one
    model without a preset primary key, in as few statements as the database's
    parameter limit allows."""
    model = type(rows[0])
    fields = [
        field
        for field in model._meta.concrete_fields
        if not field.primary_key and not field.generated
    ]
    connection = connections[using]
    size = max(1, connection.ops.bulk_batch_size(fields, rows))
    statements: list[tuple[str, tuple]] = []
    for start in range(0, len(rows), size):
        query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
        query.insert_values(fields, rows[start : start + size])
        statements.extend(query.get_compiler(using=using).as_sql())
    return statements


def insert_ignoring_conflicts(
    *tables: Sequence[models.Model], using: str = DEFAULT_DB_ALIAS
) -> None:
    """Insert each sequence of unsaved instances (one model per sequence), skipping rows
    that conflict with a unique constraint; all or nothing. One statement (one round
    trip, committed on return in autocommit) when the rows fit one, or on PostgreSQL;
    otherwise one transaction."""
    statements = [
        statement for rows in tables if rows for statement in _insert_statements(rows, using)
    ]
    if not statements:
        return
    connection = connections[using]
    if len(statements) > 1 and connection.vendor == "postgresql":
        # A data-modifying WITH: every INSERT runs, in one statement and one snapshot.
        *leading, (last_sql, _) = statements
        ctes = ", ".join(f"stored_{index} AS ({sql})" for index, (sql, _) in enumerate(leading))
        params = tuple(param for _, statement_params in statements for param in statement_params)
        statements = [(f"WITH {ctes} {last_sql}", params)]
    if len(statements) == 1:
        with connection.cursor() as cursor:
            cursor.execute(*statements[0])
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
