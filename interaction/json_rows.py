"""Many rows as one statement parameter: a JSON array that Postgres unpacks.

An array parameter (`%s::text[]`, one list per column) costs psycopg's client-side binding
a Python quoting step for every element: about 120 µs for each stored event (600 bytes of
JSON), most of a streamed answer's statement building (docs/performance.md, issue 19's
fourth round). One JSON string is quoted once, in C: the same six events cost 22 µs.
`json_rows_sql` unpacks it with `json_to_recordset`, each column cast to its SQL type.
(Those figures are for client-side binding; the statements that use this are now bound on
the server and prepared, `interaction.prepared`, where the one string is sent as it is.)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

Columns = Sequence[tuple[str, str]]
"""(name, SQL type) pairs: what `json_rows` names and `json_rows_sql` types."""


def json_rows(columns: Columns, rows: Iterable[Sequence[Any]]) -> str:
    """`rows` (values in `columns`' order: str, int, float, bool, None or datetime) as one
    JSON array of objects, the parameter of `json_rows_sql(columns)`. JSON has no NaN or
    infinity: such a float is stored as NULL (unknown)."""
    names = [name for name, _ in columns]
    return json.dumps(
        [{c: _finite(v) for c, v in zip(names, row, strict=True)} for row in rows],
        default=_encode,
        allow_nan=False,
        separators=(",", ":"),
    )


def json_rows_sql(columns: Columns, *, alias: str = "x") -> str:
    """`json_to_recordset(%s::json) AS alias(column type, …)`: a FROM item whose rows are
    the JSON parameter's objects, typed column by column."""
    typed = ", ".join(f"{name} {sql_type}" for name, sql_type in columns)
    return f"json_to_recordset(%s::json) AS {alias}({typed})"


def _finite(value: Any) -> Any:
    return None if type(value) is float and not math.isfinite(value) else value


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a JSON row value")
