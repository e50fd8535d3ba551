"""The rows a change of score or lives writes, in one statement: an attempt, its ledger row
and the session's new standing (`attempt_rows_insert`); a new session and the ledger row that
grants its lives (`session_rows_insert`).

`services.attempt_record` writes three rows for every answer, under the session's row lock.
Three ORM saves are three round trips and three compiled queries: about a third of a live
answer's CPU on the socket's database threads (docs/performance.md). Here the rows are built
as model objects (their fields' own `pre_save` and database preparation, as `Model.save`
uses them) and sent as one statement of data-modifying CTEs: one round trip, nothing
compiled. Postgres runs every CTE of the statement, in one snapshot, all or nothing.

A streamed answer's statement also stores its events (`AlsoWritten`), and may run without
the session's lock: it then writes only if the session's row is as the answer was judged
from (`SessionSeen`), checked by the statement's own update of that row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, Model

from interaction.models import Attempt, LearnerProfile, ScoreEvent, Session
from interaction.prepared import prepared_cursor
from scenarios.models import Scenario


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


@dataclass(frozen=True)
class SessionSeen:
    """The session's row as an answer was judged from it without its lock: the attempt's
    rows are written only if the row is still so. Its owner (the stream connection), its
    `updated_at` (every attempt written moves it), its status, the scenario's version and
    the learner's languages (JSON text; None: no profile) as judged."""

    owner: str
    updated_at: datetime
    status: str
    scenario_version: datetime
    learner_languages: str | None


@dataclass(frozen=True)
class AlsoWritten:
    """What else the attempt's statement writes: the session's `event_seq` raised to at
    least `event_seq`, and `ctes`, more data-modifying CTEs (SQL starting with a comma) with
    their `params`; they may read `s`, the session's row as updated (no row: not updated)."""

    event_seq: int
    ctes: str
    params: Sequence[Any]


def attempt_rows_insert(
    *,
    attempt: Attempt,
    ledger: ScoreEvent | None,
    session: Session,
    session_fields: Sequence[str],
    seen: SessionSeen | None = None,
    also: AlsoWritten | None = None,
) -> bool:
    """Update `session_fields` of `session` and insert `attempt` (and `ledger`, its ledger
    row, when there is one); `attempt` gets its primary key. One statement: inside the
    transaction that holds the session's row lock, or (`seen`) in one of its own, where it
    writes nothing and returns False if the row is no longer as `seen` says."""
    columns, params = _columns(attempt, skip=("session",))
    ledger_sql, ledger_params = "", list[Any]()
    if ledger is not None:
        ledger_columns, ledger_params = _columns(ledger, skip=("session", "attempt"))
        ledger_sql = (
            f", l AS (INSERT INTO {_table(ScoreEvent)} ({', '.join(ledger_columns)}, "
            f"{_quote('session_id')}, {_quote('attempt_id')}) "
            f"SELECT {_casts(ScoreEvent, ('session', 'attempt'))}, s.id, a.id FROM s, a)"
        )
    fields, assignments = _session_assignments(tuple(session_fields))
    here = connections[DEFAULT_DB_ALIAS]
    session_params = [f.get_db_prep_save(f.pre_save(session, add=False), here) for f in fields]
    sql = [
        f"WITH s AS (UPDATE {_table(Session)} SET {assignments}",
        f", {_quote('event_seq')} = GREATEST({_quote('event_seq')}, %s)" if also else "",
        f" WHERE id = %s{_seen_sql() if seen else ''} RETURNING id), "
        f"a AS (INSERT INTO {_table(Attempt)} ({', '.join(columns)}, {_quote('session_id')}) "
        f"SELECT {_casts(Attempt, ('session',))}, s.id FROM s RETURNING id)",
        ledger_sql,
        also.ctes if also else "",
        " SELECT id FROM a",
    ]
    values = [
        *session_params,
        *([also.event_seq] if also else []),
        session.pk,
        *(_seen_params(seen) if seen else []),
        *params,
        *ledger_params,
        *(also.params if also else []),
    ]
    with prepared_cursor() as cursor:
        cursor.execute("".join(sql), values)
        row = cursor.fetchone()
    if row is None:
        return False
    (attempt.pk,) = row
    attempt._state.adding = False
    attempt._state.db = connection.alias
    return True


def _seen_params(seen: SessionSeen) -> list[Any]:
    """In `_seen_sql`'s order."""
    return [
        seen.owner,
        seen.updated_at,
        seen.status,
        seen.scenario_version,
        seen.learner_languages,
    ]


@cache
def _seen_sql() -> str:
    """The conditions `SessionSeen` puts on the session's row (`updated_at`, `status` and the
    rest are the row's own columns; the scenario's and the profile's are read beside it)."""
    return (
        f" AND {_quote('stream_owner')} = %s AND {_quote('updated_at')} = %s"
        f" AND {_quote('status')} = %s"
        f" AND (SELECT c.{_quote('updated_at')} FROM {_table(Scenario)} c"
        f" WHERE c.id = {_quote('scenario_id')}) = %s"
        f" AND (SELECT p.{_quote('other_languages')} FROM {_table(LearnerProfile)} p"
        f" WHERE p.{_quote('user_id')} = {_quote('learner_id')}) IS NOT DISTINCT FROM %s::jsonb"
    )


@cache
def _casts(model: type[Model], skip: tuple[str, ...]) -> str:
    """A `%s::type` for each column `_columns(obj, skip=skip)` gives: an INSERT from a
    SELECT types its values by what they are cast to, not by the columns they go into."""
    fields, _ = _insert_fields(model, skip)
    return ", ".join(f"%s::{f.cast_db_type(connection)}" for f in fields)


def _table(model: type[Model]) -> str:
    return _quote(model._meta.db_table)


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


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
