"""A cursor for the few statements every answer runs: bound on the server, prepared once.

Django's psycopg cursors bind parameters in Python (client-side binding) and never prepare,
so Postgres parses and plans each statement anew. The statements every streamed answer runs
(the session's lock, the attempt's rows, the events' store, the connection's telemetry) are
long CTEs whose planning cost more than their execution: measured alone, binding them on the
server and preparing them once per connection took a recorded answer's wall time from
3.9–4.5 ms to 3.1–3.4 ms and its client CPU down by 5–10 % (docs/performance.md, issue 19's
fifth round). Their SQL is fixed text made once per process, so each connection holds a
handful of prepared statements.

The cursor is Django's own wrapper around a psycopg server-binding cursor: database errors
arrive as Django's, and query logging and `execute_wrapper` see every statement.
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from psycopg.pq import Format

_TIMESTAMPTZ_OID = 1184


class _PreparedCursor(psycopg.Cursor[Any]):
    """Every statement prepared on its first run (psycopg keeps it per connection)."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, **kwargs: Any
    ) -> _PreparedCursor:
        super().execute(query, params, prepare=True if prepare is None else prepare, **kwargs)
        return self


def prepared_cursor() -> CursorWrapper:
    """A cursor on the default connection, as `connection.cursor()` makes one, whose
    statements are bound on the server and prepared. For fixed SQL only: each distinct text
    is prepared (psycopg keeps at most `prepared_max` per connection)."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = connection.connection
        cursor = _PreparedCursor(raw)
        # As Django's `create_cursor`: its time zone only where the connection's differs.
        loader = raw.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
        if connection.timezone != getattr(loader, "timezone", None):
            register_tzloader(connection.timezone, cursor)
        connection.validate_thread_sharing()
        wrapper = CursorDebugWrapper if connection.queries_logged else CursorWrapper
        return wrapper(cursor, connection)
