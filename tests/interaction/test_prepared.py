"""interaction/prepared.py: the answer's statements bound on the server and prepared, with
Django's error wrapping and query hooks kept. Real Postgres."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from interaction.prepared import prepared_cursor

pytestmark = pytest.mark.django_db(transaction=True)

STATEMENT = "SELECT %s::int + 1"


def _prepared_here() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_is_prepared_once_and_its_result_read_as_usual() -> None:
    with prepared_cursor() as cursor:
        cursor.execute(STATEMENT, [41])
        assert cursor.fetchone() == (42,)
    prepared = [text for text in _prepared_here() if "::int + 1" in text]
    assert len(prepared) == 1
    assert "$1" in prepared[0]  # bound on the server, not quoted into the text
    with prepared_cursor() as cursor:
        cursor.execute(STATEMENT, [1])
        assert cursor.fetchone() == (2,)
    assert len([text for text in _prepared_here() if "::int + 1" in text]) == 1  # reused


def test_database_errors_arrive_as_djangos_and_the_transaction_rolls_back() -> None:
    with pytest.raises(IntegrityError), transaction.atomic(), prepared_cursor() as cursor:
        cursor.execute(
            "INSERT INTO auth_user (id, password, is_superuser, username, first_name, "
            "last_name, email, is_staff, is_active, date_joined) "
            "VALUES (%s, '', false, 'x', '', '', '', false, true, now()), "
            "(%s, '', false, 'y', '', '', '', false, true, now())",
            [7, 7],
        )
    with prepared_cursor() as cursor:  # the connection is usable again
        cursor.execute(STATEMENT, [2])
        assert cursor.fetchone() == (3,)


def test_query_hooks_see_the_statement() -> None:
    seen: list[str] = []

    def hook(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(hook), prepared_cursor() as cursor:
        cursor.execute(STATEMENT, [3])
    assert seen == [STATEMENT]


def test_without_prepared_statements_the_statement_still_runs(monkeypatch) -> None:
    """DB_PREPARED_STATEMENTS=false (a pooler in transaction mode): bound on the server,
    never prepared."""
    connection.close()
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "prepare_threshold", None)
    try:
        with prepared_cursor() as cursor:
            cursor.execute(STATEMENT, [4])
            assert cursor.fetchone() == (5,)
        assert not [text for text in _prepared_here() if "::int + 1" in text]
    finally:
        connection.close()  # the next test connects with the settings as they were
