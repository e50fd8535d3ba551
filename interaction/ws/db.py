"""The socket's database calls: a bounded pool of threads, one transaction per call, timeouts.

Channels' `database_sync_to_async` is thread-sensitive: outside a `ThreadSensitiveContext`
every socket of the process shares one worker thread, so one call waiting on a row lock
stalls every other socket (their pings included). Here each call runs on one of
`STREAM_DB["threads"]` threads of its own, each with its own connection (Django's
connections are per thread; `CONN_MAX_AGE` keeps them, `CONN_HEALTH_CHECKS` drops dead
ones, though not one that committed within the last second), inside one transaction (a
call of one statement, `db_statement`, in autocommit); the connection's lock waits and
statements are bounded (`lock_timeout_ms`, `statement_timeout_ms`, set once per
connection). A call that fails in the database becomes a retryable `database_unavailable`
StreamError: the client hears of it at once, never silence.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.db import Error, connection, transaction

from interaction.ws.errors import StreamError

logger = logging.getLogger(__name__)

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def stream_db_settings() -> dict[str, int]:
    """STREAM_DB with its defaults: threads, lock_timeout_ms, statement_timeout_ms."""
    return {"threads": 8, "lock_timeout_ms": 1000, "statement_timeout_ms": 1500} | dict(
        getattr(settings, "STREAM_DB", {})
    )


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=stream_db_settings()["threads"], thread_name_prefix="stream-db"
            )
        return _executor


HEALTHY_FOR_S = 1.0
"""A pool connection used without error this recently is not health-checked again."""


def _bounded_transaction(function: Callable[..., T], kwargs: dict[str, Any]) -> T:
    """Run `function(**kwargs)` in one transaction whose lock waits and statements time out."""
    with _bounded(), transaction.atomic():
        return function(**kwargs)


def _bounded_statement(function: Callable[..., T], kwargs: dict[str, Any]) -> T:
    """Run `function(**kwargs)`, one statement, in autocommit: its lock waits and its
    statement time out as a transaction's do."""
    with _bounded():
        return function(**kwargs)


@contextmanager
def _bounded() -> Iterator[None]:
    """This thread's connection bounded and trusted if just used; marked used once the call
    inside (its transaction committed, if any) succeeds."""
    _bound_connection()
    _trust_if_just_used()
    yield
    connection._stream_used_at = time.monotonic()  # type: ignore[attr-defined]


def _trust_if_just_used() -> None:
    """Skip Django's health check (a `SELECT 1` round trip before every call, with
    CONN_HEALTH_CHECKS) on a connection that committed less than HEALTHY_FOR_S ago: under
    load that is every call. A connection that fails is checked before its next use (Django
    checks one whose last statement raised); one lost in that second fails one call with a
    retryable `database_unavailable`, as any outage does."""
    used_at = getattr(connection, "_stream_used_at", None)
    if used_at is not None and time.monotonic() - used_at < HEALTHY_FOR_S:
        connection.health_check_done = True  # type: ignore[attr-defined]  # (not in the stubs)


def _bound_connection() -> None:
    """This thread's connection with the stream's lock and statement timeouts.

    Set for the connection's session (not per transaction: a round trip less on every call),
    once per connection and whenever STREAM_DB changes. The connection is this thread's
    alone (the pool's threads do nothing else)."""
    bounds = stream_db_settings()
    wanted = (f"{bounds['lock_timeout_ms']}ms", f"{bounds['statement_timeout_ms']}ms")
    connection.ensure_connection()
    if getattr(connection, "_stream_bounds", None) == (connection.connection, wanted):
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, false), "
            "set_config('statement_timeout', %s, false)",
            list(wanted),
        )
    connection._stream_bounds = (connection.connection, wanted)  # type: ignore[attr-defined]


async def db_call(function: Callable[..., T], **kwargs: Any) -> T:
    """`function(**kwargs)` on the socket DB pool; a database failure as a StreamError.

    Exceptions the function raises on purpose (StreamSuperseded, StreamRefused…) pass
    through; its transaction is rolled back either way."""
    return await _on_pool(_bounded_transaction, function, kwargs)


async def db_statement(function: Callable[..., T], **kwargs: Any) -> T:
    """`db_call` for a function that writes in a single statement (and reads nothing that
    must stay locked until it writes): in autocommit, without a transaction of its own. A
    statement is atomic by itself, and the transaction's `BEGIN` and `COMMIT` were two round
    trips more: measured alone, 0.33-0.52 ms of the process's CPU a call against 0.56-0.72
    ms (docs/performance.md, issue 19's ninth round)."""
    return await _on_pool(_bounded_statement, function, kwargs)


async def _on_pool(
    bounded: Callable[[Callable[..., T], dict[str, Any]], T],
    function: Callable[..., T],
    kwargs: dict[str, Any],
) -> T:
    call = DatabaseSyncToAsync(bounded, thread_sensitive=False, executor=_pool())
    try:
        return await call(function, kwargs)
    except Error as failed:  # OperationalError (timeouts, a lost server), InterfaceError…
        logger.warning("stream database call %s failed: %s", function.__name__, failed)
        raise StreamError(
            "database_unavailable",
            "The server could not save this just now; please try again in a moment.",
            retryable=True,
        ) from failed
