"""Hold a session's row lock from a connection of the test's own, as another client would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection


def _dsn() -> dict[str, Any]:
    conf = connection.settings_dict
    return {
        "dbname": conf["NAME"],
        "user": conf["USER"] or "postgres",
        "host": conf["HOST"] or "127.0.0.1",
        "port": conf["PORT"] or 5432,
        **({"password": conf["PASSWORD"]} if conf["PASSWORD"] else {}),
    }


@contextmanager
def session_row_locked(session_id: str) -> Iterator[psycopg.Connection[Any]]:
    """`BEGIN; SELECT … FOR UPDATE` on the session's row, held until the block ends."""
    with psycopg.connect(**_dsn()) as holder:
        holder.execute("SELECT 1 FROM interaction_session WHERE id = %s FOR UPDATE", [session_id])
        try:
            yield holder
        finally:
            holder.rollback()


def lock_waiters() -> int:
    """Backends of this database waiting for a lock now."""
    with psycopg.connect(**_dsn(), autocommit=True) as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return int(row[0]) if row else 0


def wait_for_lock_waiter(timeout: float = 10.0) -> None:
    """Until some backend waits on a lock (a cause, not a duration: the timeout is a guard)."""
    deadline = time.monotonic() + timeout
    while lock_waiters() == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"no backend waited on a lock within {timeout:g} s")
        time.sleep(0.05)
