"""Difficulty analytics, computed in Postgres: one query per report, whatever the data's size.

Every figure is an aggregate (COUNT … FILTER, AVG, PERCENTILE_CONT) over the filtered
sessions and their attempts, with one window function (LAG) for the time to answer and an
ordered ARRAY_AGG for each session's first judged attempt at a turn. Python only shapes the
rows (one per turn or scenario); it never walks attempts. docs/analytics.md defines each
figure; in short:

- sessions: sessions that reached the turn (made at least one attempt at it); for a
  scenario, the sessions started in the filter.
- rates of outcomes, auto-finalise and disputes: shares (0..1) of all attempts, no-speech and
  unclear included.
- completion rate: sessions that passed the turn (completed the scenario) / sessions;
  failure rate: sessions that lost their last life at the turn (in the scenario) / sessions.
- mean lives lost: lives the turn (scenario) cost per session.
- mean attempts to pass: attempts per (session, turn) that was passed.
- first-try pass rate: (session, turn) pairs whose first judged attempt (correct, wrong
  language or incorrect) was correct / pairs with a judged attempt.
- median time to answer (ms): from the previous attempt of the session (or its start) to
  the attempt's being recorded.
- difficulty: 1 − first-try pass rate, or None below settings.ANALYTICS_MIN_SESSIONS
  sessions ("not enough data"); the raw counts are given either way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection

from interaction.models import Attempt, Session
from interaction.vocabulary import Outcome, SessionStatus
from scenarios.models import Scenario, Turn
from telemetry.models import Dispute

JUDGED = (Outcome.CORRECT, Outcome.WRONG_LANGUAGE, Outcome.INCORRECT_ANSWER)


@dataclass(frozen=True)
class AnalyticsFilters:
    """Sessions started within [date_from, date_to] (UTC days, both inclusive), of scenarios
    in `language` / of `difficulty` / with `scenario` (slug), played in `mode`."""

    date_from: date | None = None
    date_to: date | None = None
    language: str | None = None
    difficulty: str | None = None
    mode: str | None = None
    scenario: str | None = None

    def as_query(self) -> dict[str, str]:
        return {f.name: str(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name)}


@dataclass(frozen=True)
class Figures:
    """What a turn and a scenario share. Counts are raw; rates 0..1; None where undefined."""

    sessions: int
    attempts: int
    correct: int
    wrong_language: int
    incorrect: int
    unclear: int
    no_speech: int
    auto_finalised: int
    disputed: int
    sessions_passed: int
    sessions_failed: int
    lives_lost: int
    attempts_when_passed: int
    turns_passed: int
    turns_judged: int
    turns_first_try: int
    confidence_samples: int
    mean_confidence: float | None
    median_answer_ms: float | None
    min_sessions: int

    @property
    def enough_data(self) -> bool:
        return self.sessions >= self.min_sessions

    @property
    def completion_rate(self) -> float | None:
        return _rate(self.sessions_passed, self.sessions)

    @property
    def failure_rate(self) -> float | None:
        return _rate(self.sessions_failed, self.sessions)

    @property
    def mean_lives_lost(self) -> float | None:
        return _rate(self.lives_lost, self.sessions)

    @property
    def correct_rate(self) -> float | None:
        return _rate(self.correct, self.attempts)

    @property
    def wrong_language_rate(self) -> float | None:
        return _rate(self.wrong_language, self.attempts)

    @property
    def incorrect_rate(self) -> float | None:
        return _rate(self.incorrect, self.attempts)

    @property
    def unclear_rate(self) -> float | None:
        return _rate(self.unclear, self.attempts)

    @property
    def no_speech_rate(self) -> float | None:
        return _rate(self.no_speech, self.attempts)

    @property
    def auto_finalise_rate(self) -> float | None:
        return _rate(self.auto_finalised, self.attempts)

    @property
    def dispute_rate(self) -> float | None:
        return _rate(self.disputed, self.attempts)

    @property
    def mean_attempts_to_pass(self) -> float | None:
        return _rate(self.attempts_when_passed, self.turns_passed)

    @property
    def first_try_pass_rate(self) -> float | None:
        return _rate(self.turns_first_try, self.turns_judged)

    @property
    def difficulty(self) -> float | None:
        """1 − first-try pass rate (0 easy .. 1 nobody passes at once); None without enough
        sessions or without a judged attempt."""
        rate = self.first_try_pass_rate
        if not self.enough_data or rate is None:
            return None
        return round(1.0 - rate, 4)


FIGURE_NAMES = (
    "difficulty",
    "enough_data",
    "completion_rate",
    "failure_rate",
    "mean_lives_lost",
    "correct_rate",
    "wrong_language_rate",
    "incorrect_rate",
    "unclear_rate",
    "no_speech_rate",
    "auto_finalise_rate",
    "dispute_rate",
    "mean_attempts_to_pass",
    "first_try_pass_rate",
)
"""The derived figures (properties), in the order reports list them after the counts."""


@dataclass(frozen=True)
class TurnFigures(Figures):
    turn_id: int
    turn_number: int  # 1-based, as people count
    prompt: str
    scenario_id: int
    scenario_slug: str
    scenario_title: str
    language: str
    scenario_difficulty: str


@dataclass(frozen=True)
class ScenarioFigures(Figures):
    scenario_id: int
    scenario_slug: str
    scenario_title: str
    language: str
    scenario_difficulty: str
    turn_count: int
    turn_visits: int

    @property
    def failure_per_turn_rate(self) -> float | None:
        """Sessions failed / (session, turn) pairs: the rate a turn's failure rate compares to."""
        return _rate(self.sessions_failed, self.turn_visits)


def _rate(part: float | int | None, whole: int | None) -> float | None:
    if not whole or part is None:
        return None
    return round(part / whole, 4)


def figures_row(figures: Figures) -> dict[str, Any]:
    """A flat mapping of the stored counts and the derived figures (API and CSV shape)."""
    row = {f.name: getattr(figures, f.name) for f in fields(figures)}
    row.update({name: getattr(figures, name) for name in FIGURE_NAMES})
    return row


def filters_sql(filters: AnalyticsFilters) -> tuple[str, str, list[Any], list[Any]]:
    """SQL conditions on sessions (alias s, scenario sc) and on scenarios alone, with params."""
    scenario_sql: list[str] = ["TRUE"]
    scenario_params: list[Any] = []
    for column, value in (
        ("sc.language", filters.language),
        ("sc.difficulty", filters.difficulty),
        ("sc.slug", filters.scenario),
    ):
        if value:
            scenario_sql.append(f"{column} = %s")
            scenario_params.append(value)
    session_sql, session_params = list(scenario_sql), list(scenario_params)
    if filters.mode:
        session_sql.append("s.mode = %s")
        session_params.append(filters.mode)
    if filters.date_from:
        session_sql.append("s.started_at >= %s")
        session_params.append(datetime.combine(filters.date_from, time.min, tzinfo=UTC))
    if filters.date_to:
        session_sql.append("s.started_at < %s")
        session_params.append(
            datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=UTC)
        )
    return " AND ".join(session_sql), " AND ".join(scenario_sql), session_params, scenario_params


def _base_ctes(session_where: str) -> str:
    judged = ", ".join(f"'{outcome.value}'" for outcome in JUDGED)
    return f"""
    WITH fs AS (
        SELECT s.id, s.scenario_id, s.status, s.turn_index, s.lives_total, s.lives_remaining,
               s.started_at
        FROM {Session._meta.db_table} s
        JOIN {Scenario._meta.db_table} sc ON sc.id = s.scenario_id
        WHERE {session_where}
    ),
    fa AS (
        SELECT a.id, a.session_id, a.turn_id, fs.scenario_id, a.outcome, a.confidence,
               a.lives_delta, a.auto_finalised, a.created_at,
               EXTRACT(EPOCH FROM a.created_at - COALESCE(
                   LAG(a.created_at) OVER (PARTITION BY a.session_id ORDER BY a.created_at, a.id),
                   fs.started_at)) * 1000.0 AS answer_ms,
               (d.id IS NOT NULL) AS disputed
        FROM {Attempt._meta.db_table} a
        JOIN fs ON fs.id = a.session_id
        LEFT JOIN {Dispute._meta.db_table} d ON d.attempt_id = a.id
    ),
    st AS (
        SELECT fa.session_id, fa.turn_id, fa.scenario_id,
               COUNT(*) AS attempts,
               BOOL_OR(fa.outcome = '{Outcome.CORRECT.value}') AS passed,
               -SUM(fa.lives_delta) AS lives_lost,
               (ARRAY_AGG(fa.outcome ORDER BY fa.created_at, fa.id)
                   FILTER (WHERE fa.outcome IN ({judged})))[1] AS first_judged
        FROM fa
        GROUP BY fa.session_id, fa.turn_id, fa.scenario_id
    )"""


def _attempt_aggregates(key: str) -> str:
    o = Outcome
    return f"""
        SELECT fa.{key} AS key,
               COUNT(*) AS attempts,
               COUNT(*) FILTER (WHERE fa.outcome = '{o.CORRECT.value}') AS correct,
               COUNT(*) FILTER (WHERE fa.outcome = '{o.WRONG_LANGUAGE.value}') AS wrong_language,
               COUNT(*) FILTER (WHERE fa.outcome = '{o.INCORRECT_ANSWER.value}') AS incorrect,
               COUNT(*) FILTER (WHERE fa.outcome = '{o.UNCLEAR.value}') AS unclear,
               COUNT(*) FILTER (WHERE fa.outcome = '{o.NO_SPEECH.value}') AS no_speech,
               COUNT(*) FILTER (WHERE fa.auto_finalised) AS auto_finalised,
               COUNT(*) FILTER (WHERE fa.disputed) AS disputed,
               COUNT(fa.confidence) AS confidence_samples,
               AVG(fa.confidence) AS mean_confidence,
               PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY fa.answer_ms) AS median_answer_ms
        FROM fa GROUP BY fa.{key}"""


_PAIR_AGGREGATES = """
               COUNT(*) FILTER (WHERE st.passed) AS turns_passed,
               COALESCE(SUM(st.attempts) FILTER (WHERE st.passed), 0) AS attempts_when_passed,
               COUNT(*) FILTER (WHERE st.first_judged IS NOT NULL) AS turns_judged,
               COUNT(*) FILTER (WHERE st.first_judged = 'correct') AS turns_first_try"""

_FIGURE_COLUMNS = """
           COALESCE(aa.attempts, 0) AS attempts, COALESCE(aa.correct, 0) AS correct,
           COALESCE(aa.wrong_language, 0) AS wrong_language,
           COALESCE(aa.incorrect, 0) AS incorrect, COALESCE(aa.unclear, 0) AS unclear,
           COALESCE(aa.no_speech, 0) AS no_speech,
           COALESCE(aa.auto_finalised, 0) AS auto_finalised, COALESCE(aa.disputed, 0) AS disputed,
           COALESCE(pa.sessions_passed, 0) AS sessions_passed,
           COALESCE(pa.sessions_failed, 0) AS sessions_failed,
           COALESCE(pa.lives_lost, 0) AS lives_lost,
           COALESCE(pa.attempts_when_passed, 0) AS attempts_when_passed,
           COALESCE(pa.turns_passed, 0) AS turns_passed,
           COALESCE(pa.turns_judged, 0) AS turns_judged,
           COALESCE(pa.turns_first_try, 0) AS turns_first_try,
           COALESCE(aa.confidence_samples, 0) AS confidence_samples,
           aa.mean_confidence AS mean_confidence, aa.median_answer_ms AS median_answer_ms"""
"""Every stored count of `Figures`, each named as its field: rows are read by name."""


def analytics_turns_list(*, filters: AnalyticsFilters | None = None) -> list[TurnFigures]:
    """Every turn of the filtered scenarios with its figures, by scenario slug and turn order.

    One query. Turns nobody played are listed with zero counts and no difficulty."""
    filters = filters or AnalyticsFilters()
    session_where, scenario_where, session_params, scenario_params = filters_sql(filters)
    sql = f"""{_base_ctes(session_where)},
    aa AS ({_attempt_aggregates("turn_id")}),
    pa AS (
        SELECT st.turn_id AS key,
               COUNT(*) AS sessions,
               COUNT(*) FILTER (WHERE st.passed) AS sessions_passed,
               COUNT(*) FILTER (WHERE fs.status = '{SessionStatus.FAILED.value}'
                                AND fs.turn_index = t."order") AS sessions_failed,
               COALESCE(SUM(st.lives_lost), 0) AS lives_lost,{_PAIR_AGGREGATES}
        FROM st
        JOIN fs ON fs.id = st.session_id
        JOIN {Turn._meta.db_table} t ON t.id = st.turn_id
        GROUP BY st.turn_id
    )
    SELECT COALESCE(pa.sessions, 0) AS sessions,{_FIGURE_COLUMNS},
           t.id AS turn_id, t."order" + 1 AS turn_number, t.prompt AS prompt,
           sc.id AS scenario_id, sc.slug AS scenario_slug, sc.title AS scenario_title,
           sc.language AS language, sc.difficulty AS scenario_difficulty
    FROM {Turn._meta.db_table} t
    JOIN {Scenario._meta.db_table} sc ON sc.id = t.scenario_id
    LEFT JOIN aa ON aa.key = t.id
    LEFT JOIN pa ON pa.key = t.id
    WHERE {scenario_where}
    ORDER BY sc.slug, t."order"
    """
    rows = rows_fetch(sql, [*session_params, *scenario_params])
    return [figures_build(TurnFigures, row) for row in rows]


def analytics_scenarios_list(*, filters: AnalyticsFilters | None = None) -> list[ScenarioFigures]:
    """Every filtered scenario with its figures over its sessions, by slug. One query."""
    filters = filters or AnalyticsFilters()
    session_where, scenario_where, session_params, scenario_params = filters_sql(filters)
    s = SessionStatus
    sql = f"""{_base_ctes(session_where)},
    aa AS ({_attempt_aggregates("scenario_id")}),
    ss AS (
        SELECT fs.scenario_id AS key,
               COUNT(*) AS sessions,
               COUNT(*) FILTER (WHERE fs.status = '{s.COMPLETED.value}') AS sessions_passed,
               COUNT(*) FILTER (WHERE fs.status = '{s.FAILED.value}') AS sessions_failed,
               COALESCE(SUM(fs.lives_total - fs.lives_remaining), 0) AS lives_lost
        FROM fs GROUP BY fs.scenario_id
    ),
    sp AS (
        SELECT st.scenario_id AS key, COUNT(*) AS turn_visits,{_PAIR_AGGREGATES}
        FROM st GROUP BY st.scenario_id
    ),
    pa AS (
        SELECT ss.*, COALESCE(sp.turn_visits, 0) AS turn_visits,
               COALESCE(sp.turns_passed, 0) AS turns_passed,
               COALESCE(sp.attempts_when_passed, 0) AS attempts_when_passed,
               COALESCE(sp.turns_judged, 0) AS turns_judged,
               COALESCE(sp.turns_first_try, 0) AS turns_first_try
        FROM ss LEFT JOIN sp ON sp.key = ss.key
    )
    SELECT COALESCE(pa.sessions, 0) AS sessions,{_FIGURE_COLUMNS},
           sc.id AS scenario_id, sc.slug AS scenario_slug, sc.title AS scenario_title,
           sc.language AS language, sc.difficulty AS scenario_difficulty,
           (SELECT COUNT(*) FROM {Turn._meta.db_table} t WHERE t.scenario_id = sc.id)
               AS turn_count,
           COALESCE(pa.turn_visits, 0) AS turn_visits
    FROM {Scenario._meta.db_table} sc
    LEFT JOIN aa ON aa.key = sc.id
    LEFT JOIN pa ON pa.key = sc.id
    WHERE {scenario_where}
    ORDER BY sc.slug
    """
    rows = rows_fetch(sql, [*session_params, *scenario_params])
    return [figures_build(ScenarioFigures, row) for row in rows]


class ColumnsMismatch(Exception):
    """A query's columns are not the figures' fields: a renamed or missing column."""


F = TypeVar("F", bound=Figures)


def figures_build(cls: type[F], row: Mapping[str, Any]) -> F:
    """A figures dataclass from one row read by column name (never by position).

    Every field but `min_sessions` (the setting) must be a column, and every column a field:
    a column renamed or dropped raises ColumnsMismatch instead of shifting the figures.
    Counts become ints; mean confidence is rounded to 4 places, the median to 0.1 ms."""
    wanted = {f.name for f in fields(cls)} - {"min_sessions"}
    if set(row) != wanted:
        raise ColumnsMismatch(
            f"{cls.__name__}: missing {sorted(wanted - set(row))}, "
            f"unknown {sorted(set(row) - wanted)}"
        )
    values: dict[str, Any] = dict(row)
    for name in _COUNTS:
        values[name] = int(values[name])
    mean, median = values["mean_confidence"], values["median_answer_ms"]
    values["mean_confidence"] = None if mean is None else round(float(mean), 4)
    values["median_answer_ms"] = None if median is None else round(float(median), 1)
    return cls(**values, min_sessions=settings.ANALYTICS_MIN_SESSIONS)


_COUNTS = tuple(
    f.name
    for f in fields(Figures)
    if f.name not in ("mean_confidence", "median_answer_ms", "min_sessions")
)


def rows_fetch(sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    """The rows as mappings of column name → value."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description or ()]
        if len(set(names)) != len(names):
            raise ColumnsMismatch(f"duplicate column names in {names}")
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- Tuning aid ---------------------------------------------------------------------------

FLAG_MIN_GAP = 0.15
FLAG_MIN_RATIO = 1.5
FLAG_RULE = (
    f"A turn with enough sessions is flagged when its failure rate (sessions that lost their "
    f"last life there / sessions that reached it) or its wrong-language rate (of its "
    f"attempts) is at least {FLAG_MIN_GAP * 100:.0f} percentage points above its "
    f"scenario's (failures per turn "
    f"reached; wrong-language share of all its attempts) and at least {FLAG_MIN_RATIO:g}× it."
)


@dataclass(frozen=True)
class TurnFlag:
    turn: TurnFigures
    scenario: ScenarioFigures
    reasons: tuple[str, ...]


def _stands_out(turn_rate: float | None, scenario_rate: float | None) -> bool:
    if turn_rate is None:
        return False
    base = scenario_rate or 0.0
    return turn_rate - base >= FLAG_MIN_GAP and turn_rate >= FLAG_MIN_RATIO * base


def turn_flags(
    turns: Sequence[TurnFigures], scenarios: Sequence[ScenarioFigures]
) -> list[TurnFlag]:
    """The turns FLAG_RULE flags, with why (pure: works on figures already computed)."""
    by_id = {scenario.scenario_id: scenario for scenario in scenarios}
    flagged = []
    for turn in turns:
        scenario = by_id.get(turn.scenario_id)
        if scenario is None or not turn.enough_data:
            continue
        reasons = []
        if _stands_out(turn.failure_rate, scenario.failure_per_turn_rate):
            reasons.append(
                f"failure rate {turn.failure_rate:.0%} vs "
                f"{scenario.failure_per_turn_rate or 0:.0%} per turn in the scenario"
            )
        if _stands_out(turn.wrong_language_rate, scenario.wrong_language_rate):
            reasons.append(
                f"wrong-language rate {turn.wrong_language_rate:.0%} vs "
                f"{scenario.wrong_language_rate or 0:.0%} in the scenario"
            )
        if reasons:
            flagged.append(TurnFlag(turn=turn, scenario=scenario, reasons=tuple(reasons)))
    return flagged


def analytics_flags_list(*, filters: AnalyticsFilters | None = None) -> list[TurnFlag]:
    """The flagged turns of the filtered data (two queries: turns, scenarios)."""
    return turn_flags(
        analytics_turns_list(filters=filters), analytics_scenarios_list(filters=filters)
    )
