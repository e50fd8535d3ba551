"""interaction/ws/db.py: one bounded transaction per call; database failures as errors."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

from interaction.ws.db import db_call, stream_db_settings
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


async def test_a_database_failure_is_a_retryable_stream_error() -> None:
    def broken() -> None:
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(StreamError) as failed:
        await db_call(broken)
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
