"""interaction/ws/db.py: one bounded transaction per call (or one statement in autocommit);
database failures as errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, connection

from interaction.ws import db
from interaction.ws.db import db_call, db_statement, stream_db_settings
from interaction.ws.errors import StreamError

pytestmark = pytest.mark.django_db(transaction=True)


def inside() -> tuple[bool, str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')"
        )
        lock, statement = cursor.fetchone()
    return connection.in_atomic_block, lock, statement


async def test_each_call_is_one_transaction_with_bounded_waits(settings) -> None:
    settings.STREAM_DB = {"lock_timeout_ms": 700, "statement_timeout_ms": 900}
    assert await db_call(inside) == (True, "700ms", "900ms")


async def test_a_single_statement_runs_in_autocommit_with_bounded_waits(settings) -> None:
    settings.STREAM_DB = {"lock_timeout_ms": 700, "statement_timeout_ms": 900}
    assert await db_statement(inside) == (False, "700ms", "900ms")


@pytest.mark.parametrize("call", [db_call, db_statement])
async def test_a_database_failure_is_a_retryable_stream_error(call) -> None:
    def broken() -> None:
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(StreamError) as failed:
        await call(broken)
    assert (failed.value.code, failed.value.retryable) == ("database_unavailable", True)


async def test_other_exceptions_pass_through() -> None:
    def refuses() -> None:
        raise LookupError("no such session")

    with pytest.raises(LookupError):
        await db_call(refuses)


def test_settings_fill_in_the_defaults(settings) -> None:
    settings.STREAM_DB = {"threads": 2}
    assert stream_db_settings() == {
        "threads": 2,
        "lock_timeout_ms": 1000,
        "statement_timeout_ms": 1500,
    }


def usable_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count Django's health checks (`is_usable`: a `SELECT 1` round trip)."""
    checks: list[int] = []
    wrapper = type(connection._connections[connection._alias])  # type: ignore[attr-defined]
    original = wrapper.is_usable

    def counted(self: Any) -> bool:
        checks.append(1)
        return original(self)

    monkeypatch.setattr(wrapper, "is_usable", counted)
    return checks


async def test_a_connection_used_a_moment_ago_is_not_checked_again(monkeypatch, one_thread) -> None:
    await db_call(inside)
    checks = usable_checks(monkeypatch)
    for _ in range(5):
        await db_call(inside)
    assert checks == []
    monkeypatch.setattr(db, "HEALTHY_FOR_S", 0.0)  # idle longer than that: checked again
    await db_call(inside)
    assert checks == [1]


async def test_a_connection_lost_just_after_use_fails_one_call_then_reconnects(
    one_thread,
) -> None:
    pid = await db_call(backend_pid)
    await sync_to_async(terminate)(pid)  # from another connection, as a restart would
    with pytest.raises(StreamError) as failed:
        await db_call(backend_pid)  # used a moment ago: not checked, so it fails
    assert (failed.value.code, failed.value.retryable) == ("database_unavailable", True)
    assert await db_call(backend_pid) != pid  # the failure had it checked: a new connection


@pytest.fixture
def one_thread(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[None]:
    """One pool thread, so every call runs on the same connection."""
    settings.STREAM_DB = {"threads": 1}
    monkeypatch.setattr(db, "_executor", None)
    yield
    if db._executor is not None:
        db._executor.submit(close_thread_connection).result()
        db._executor.shutdown()


def close_thread_connection() -> None:
    connection.close()


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return int(pid)


def terminate(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
