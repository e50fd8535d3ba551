"""The answers learners give: per turn, the most frequent transcripts judged wrong or unclear.

One Postgres query, whatever the data's size: the newest ANSWERS_BOUND attempts judged
`incorrect_answer` or `unclear` (with words heard) of the filtered sessions are grouped by a
loose key (lower case, accents folded, punctuation dropped, spaces collapsed), counted per
turn, and ranked with a window function; Python only shapes the rows. Learners are never
named: a group says how many attempts and how many distinct learners gave it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from interaction.models import Attempt, Session
from interaction.vocabulary import Outcome
from scenarios.models import Scenario, Turn
from telemetry.analytics import AnalyticsFilters, filters_sql, rows_fetch

ANSWERS_BOUND = 10_000
"""How many of the newest wrong or unclear attempts are grouped (the query's cost bound)."""
ANSWERS_PER_TURN = 5
MISSED = (Outcome.INCORRECT_ANSWER, Outcome.UNCLEAR)

# Folded by Postgres' translate(): one character for one (œ, ß and the like stay).
_ACCENTED = "àáâãäåāăąçćčďèéêëēėęěğìíîïīįıłñńňòóôõöøōőŕřśşšţťùúûüūůűųýÿźżž"
_PLAIN = "aaaaaaaaacccdeeeeeeeegiiiiiiilnnnoooooooorrssstuuuuuuuuuyyzzz"
assert len(_ACCENTED) == len(_PLAIN)


@dataclass(frozen=True)
class FrequentAnswer:
    """One loose group of answers to a turn. transcript: its most frequent spelling;
    attempts: how many attempts gave it (incorrect + unclear); learners: distinct learners;
    rank: 1 for the turn's most frequent."""

    scenario_id: int
    scenario_slug: str
    turn_id: int
    turn_number: int  # 1-based
    prompt: str
    rank: int
    transcript: str
    attempts: int
    incorrect: int
    unclear: int
    learners: int


def frequent_answers_list(
    *,
    filters: AnalyticsFilters | None = None,
    per_turn: int = ANSWERS_PER_TURN,
    bound: int = ANSWERS_BOUND,
) -> list[FrequentAnswer]:
    """The `per_turn` most frequent wrong or unclear answers of each turn of the filtered
    sessions, among their newest `bound` such attempts; by scenario slug, turn, rank. One
    query."""
    filters = filters or AnalyticsFilters()
    session_where, _scenario_where, session_params, _ = filters_sql(filters)
    missed = ", ".join(f"'{outcome.value}'" for outcome in MISSED)
    sql = f"""
    WITH recent AS (
        SELECT a.turn_id, a.outcome, a.transcript, s.learner_id
        FROM {Attempt._meta.db_table} a
        JOIN {Session._meta.db_table} s ON s.id = a.session_id
        JOIN {Scenario._meta.db_table} sc ON sc.id = s.scenario_id
        WHERE {session_where} AND a.outcome IN ({missed}) AND a.transcript <> ''
        ORDER BY a.created_at DESC, a.id DESC
        LIMIT %s
    ),
    keyed AS MATERIALIZED (
        SELECT recent.*,
               BTRIM(REGEXP_REPLACE(REGEXP_REPLACE(
                   TRANSLATE(LOWER(recent.transcript), %s, %s),
                   '[^[:alnum:][:space:]]+', '', 'g'), '[[:space:]]+', ' ', 'g')) AS key
        FROM recent
    ),
    grouped AS (
        SELECT keyed.turn_id, keyed.key,
               MODE() WITHIN GROUP (ORDER BY keyed.transcript) AS transcript,
               COUNT(*) AS attempts,
               COUNT(*) FILTER (WHERE keyed.outcome = '{Outcome.INCORRECT_ANSWER.value}')
                   AS incorrect,
               COUNT(*) FILTER (WHERE keyed.outcome = '{Outcome.UNCLEAR.value}') AS unclear,
               COUNT(DISTINCT keyed.learner_id) AS learners
        FROM keyed WHERE keyed.key <> ''
        GROUP BY keyed.turn_id, keyed.key
    ),
    ranked AS (
        SELECT grouped.*, ROW_NUMBER() OVER (
            PARTITION BY grouped.turn_id ORDER BY grouped.attempts DESC, grouped.key
        ) AS rank
        FROM grouped
    )
    SELECT sc.id AS scenario_id, sc.slug AS scenario_slug, t.id AS turn_id,
           t."order" + 1 AS turn_number, t.prompt AS prompt, ranked.rank AS rank,
           ranked.transcript AS transcript, ranked.attempts AS attempts,
           ranked.incorrect AS incorrect, ranked.unclear AS unclear,
           ranked.learners AS learners
    FROM ranked
    JOIN {Turn._meta.db_table} t ON t.id = ranked.turn_id
    JOIN {Scenario._meta.db_table} sc ON sc.id = t.scenario_id
    WHERE ranked.rank <= %s
    ORDER BY sc.slug, t."order", ranked.rank
    """
    rows = rows_fetch(sql, [*session_params, bound, _ACCENTED, _PLAIN, per_turn])
    return [FrequentAnswer(**_ints(row)) for row in rows]


def _ints(row: dict[str, Any]) -> dict[str, Any]:
    return {name: int(value) if name in _COUNT_FIELDS else value for name, value in row.items()}


_COUNT_FIELDS = frozenset({"rank", "attempts", "incorrect", "unclear", "learners", "turn_number"})


def frequent_answers_by_turn(answers: list[FrequentAnswer]) -> dict[int, list[FrequentAnswer]]:
    """The groups per turn id, ranked (pure)."""
    by_turn: dict[int, list[FrequentAnswer]] = {}
    for answer in answers:
        by_turn.setdefault(answer.turn_id, []).append(answer)
    return by_turn
