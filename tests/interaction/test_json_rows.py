"""interaction.json_rows: many rows as one JSON parameter, unpacked by Postgres as typed."""

from __future__ import annotations

import math
import uuid
from dataclasses import fields
from datetime import UTC, datetime

import pytest
from django.db import connection

from interaction.json_rows import json_rows, json_rows_sql
from interaction.prepared import prepared_cursor
from interaction.stream_services import PARTIAL_COLUMNS, PartialRow

COLUMNS = (("id", "uuid"), ("n", "int"), ("text", "text"), ("x", "float8"), ("at", "timestamptz"))
AWKWARD = 'quote " backslash \\ brace {a,b} newline \n tab \t é ß 中文 😀 NULL'


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cursor_of", [lambda: connection.cursor(), prepared_cursor], ids=["client-bound", "prepared"]
)
def test_rows_come_back_from_postgres_as_they_went_in(cursor_of) -> None:
    at = datetime(2026, 12, 7, 12, 30, 1, 123456, tzinfo=UTC)
    rows = [
        (str(uuid.uuid4()), 7, AWKWARD, 0.1 + 0.2, at),
        (str(uuid.uuid4()), -1, "", None, None),
        (str(uuid.uuid4()), 2**31 - 1, "{}", 1e-300, at),
    ]
    with cursor_of() as cursor:
        cursor.execute(
            f"SELECT id::text, n, text, x, at FROM {json_rows_sql(COLUMNS)}",
            [json_rows(COLUMNS, rows)],
        )
        back = cursor.fetchall()
    assert back == rows


@pytest.mark.django_db
def test_nan_and_infinity_are_stored_as_unknown() -> None:
    text = json_rows([("x", "float8")], [(math.nan,), (math.inf,), (1.5,)])
    assert text == '[{"x":null},{"x":null},{"x":1.5}]'
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT x FROM {json_rows_sql([('x', 'float8')])}", [text])
        assert cursor.fetchall() == [(None,), (None,), (1.5,)]


def test_a_value_json_cannot_carry_is_refused() -> None:
    with pytest.raises(TypeError, match="bytes is not a JSON row value"):
        json_rows([("b", "bytea")], [(b"raw",)])
    with pytest.raises(ValueError, match="zip"):
        json_rows([("a", "int"), ("b", "int")], [(1,)])  # a row shorter than its columns


def test_the_stored_partials_columns_are_partial_rows_fields_in_order() -> None:
    assert [name for name, _ in PARTIAL_COLUMNS[1:]] == [f.name for f in fields(PartialRow)]
