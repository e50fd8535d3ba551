"""The rows a change of score or lives writes, in one statement: an attempt, its ledger row
and the session's new standing (`attempt_rows_insert`); a new session and the ledger row that
grants its lives (`session_rows_insert`).

`services.attempt_record` writes three rows for every answer, under the session's row lock.
Three ORM saves are three round trips and three compiled queries: about a third of a live
answer's CPU on the socket's database threads (docs/performance.md). Here the rows are built
as model objects (their fields' own `pre_save` and database preparation, as `Model.save`
uses them) and sent as one statement of data-modifying CTEs: one round trip, nothing
compiled. Postgres runs every CTE of the statement, in one snapshot, all or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

from interaction.models import Attempt, ScoreEvent, Session
from interaction.prepared import prepared_cursor


def _columns(obj: Model, *, skip: tuple[str, ...] = ()) -> tuple[list[str], list[Any]]:
    """An insert's columns and values for `obj` (no primary key), as `Model.save` makes them."""
    fields, columns = _insert_fields(type(obj), skip)
    here = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy costs
    return list(columns), [f.get_db_prep_save(f.pre_save(obj, add=True), here) for f in fields]


@cache
def _insert_fields(
    model: type[Model], skip: tuple[str, ...]
) -> tuple[tuple[Field[Any, Any], ...], tuple[str, ...]]:
    """A model's inserted fields and their quoted columns: found once per process."""
    fields = tuple(
        f for f in model._meta.concrete_fields if not f.primary_key and f.name not in skip
    )
    return fields, tuple(column_quoted(f) for f in fields)


def column_quoted(field: Field[Any, Any]) -> str:
    """A concrete field's column, quoted for SQL written by hand."""
    column = field.column
    assert column is not None  # concrete fields have columns
    return connection.ops.quote_name(column)


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def attempt_rows_insert(
    *, attempt: Attempt, ledger: ScoreEvent | None, session: Session, session_fields: Sequence[str]
) -> None:
    """Insert `attempt` (and `ledger`, its ledger row, when there is one) and update
    `session_fields` of `session`; `attempt` gets its primary key. Inside a transaction."""
    quote = connection.ops.quote_name
    columns, params = _columns(attempt)
    sql = [
        f"WITH a AS (INSERT INTO {quote(Attempt._meta.db_table)} ({', '.join(columns)}) "
        f"VALUES ({_marks(params)}) RETURNING id)"
    ]
    if ledger is not None:
        ledger_columns, ledger_values = _columns(ledger, skip=("attempt",))
        sql.append(
            f", l AS (INSERT INTO {quote(ScoreEvent._meta.db_table)} "
            f"({', '.join(ledger_columns)}, {quote('attempt_id')}) "
            f"VALUES ({_marks(ledger_values)}, (SELECT id FROM a)))"
        )
        params += ledger_values
    fields, assignments = _session_assignments(tuple(session_fields))
    here = connections[DEFAULT_DB_ALIAS]
    params += [f.get_db_prep_save(f.pre_save(session, add=False), here) for f in fields]
    sql.append(
        f", s AS (UPDATE {quote(Session._meta.db_table)} SET {assignments} "
        f"WHERE id = %s) SELECT id FROM a"
    )
    params.append(session.pk)
    with prepared_cursor() as cursor:
        cursor.execute("".join(sql), params)
        (attempt.pk,) = cursor.fetchone()
    attempt._state.adding = False
    attempt._state.db = connection.alias


@cache
def _session_assignments(names: tuple[str, ...]) -> tuple[tuple[Field[Any, Any], ...], str]:
    """The session's fields named, and their `SET` list: found once per process."""
    fields = tuple(Session._meta.get_field(name) for name in names)
    assert all(isinstance(f, Field) for f in fields)  # columns of the session's own
    concrete = cast("tuple[Field[Any, Any], ...]", fields)
    return concrete, ", ".join(f"{column_quoted(f)} = %s" for f in concrete)


def session_rows_insert(*, session: Session, ledger: ScoreEvent) -> None:
    """Insert `session` (its key made in Python) and `ledger`, its first ledger row."""
    quote = connection.ops.quote_name
    columns, params = _columns(session)
    key = Session._meta.pk
    assert key is not None
    columns.insert(0, column_quoted(key))
    params.insert(0, key.get_db_prep_save(session.pk, connection))
    ledger_columns, ledger_values = _columns(ledger)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"WITH s AS (INSERT INTO {quote(Session._meta.db_table)} ({', '.join(columns)}) "
            f"VALUES ({_marks(params)})) "
            f"INSERT INTO {quote(ScoreEvent._meta.db_table)} ({', '.join(ledger_columns)}) "
            f"VALUES ({_marks(ledger_values)})",
            [*params, *ledger_values],
        )
    session._state.adding = False
    session._state.db = connection.alias
