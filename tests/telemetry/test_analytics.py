"""Every figure of the difficulty analytics against the hand-computed data set (conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from datetime import date

import pytest

from interaction.vocabulary import Outcome
from telemetry import analytics
from telemetry.analytics import (
    AnalyticsFilters,
    ColumnsMismatch,
    TurnFigures,
    analytics_flags_list,
    analytics_scenarios_list,
    analytics_turns_list,
)

pytestmark = pytest.mark.django_db

TURN_ONE = {
    "turn_number": 1,
    "sessions": 5,
    "attempts": 8,
    "correct": 5,
    "wrong_language": 0,
    "incorrect": 1,
    "unclear": 1,
    "no_speech": 1,
    "auto_finalised": 1,
    "disputed": 0,
    "sessions_passed": 5,
    "sessions_failed": 0,
    "lives_lost": 1,
    "attempts_when_passed": 8,
    "turns_passed": 5,
    "turns_judged": 5,
    "turns_first_try": 4,
    "confidence_samples": 3,
    "mean_confidence": 0.6667,  # (0.9 + 0.3 + 0.8) / 3
    "median_answer_ms": 6000.0,  # 4 4 5 6 | 6 6 8 10 s
    "enough_data": True,
    "completion_rate": 1.0,
    "failure_rate": 0.0,
    "mean_lives_lost": 0.2,
    "correct_rate": 0.625,
    "wrong_language_rate": 0.0,
    "incorrect_rate": 0.125,
    "unclear_rate": 0.125,
    "no_speech_rate": 0.125,
    "auto_finalise_rate": 0.125,
    "dispute_rate": 0.0,
    "mean_attempts_to_pass": 1.6,
    "first_try_pass_rate": 0.8,
    "difficulty": 0.2,
}

TURN_TWO = {
    "turn_number": 2,
    "sessions": 3,
    "attempts": 5,
    "correct": 2,
    "wrong_language": 1,
    "incorrect": 2,
    "unclear": 0,
    "no_speech": 0,
    "auto_finalised": 0,
    "disputed": 1,
    "sessions_passed": 2,
    "sessions_failed": 1,
    "lives_lost": 3,
    "attempts_when_passed": 3,
    "turns_passed": 2,
    "turns_judged": 3,
    "turns_first_try": 1,
    "confidence_samples": 1,
    "mean_confidence": 0.4,
    "median_answer_ms": 10000.0,  # 5 10 10 18 20 s
    "enough_data": False,  # 3 sessions < 5
    "completion_rate": 0.6667,
    "failure_rate": 0.3333,
    "mean_lives_lost": 1.0,
    "correct_rate": 0.4,
    "wrong_language_rate": 0.2,
    "incorrect_rate": 0.4,
    "unclear_rate": 0.0,
    "no_speech_rate": 0.0,
    "auto_finalise_rate": 0.0,
    "dispute_rate": 0.2,
    "mean_attempts_to_pass": 1.5,
    "first_try_pass_rate": 0.3333,
    "difficulty": None,  # not enough data: no ranking, raw counts above still given
}

SCENARIO = {
    "sessions": 5,
    "attempts": 13,
    "correct": 7,
    "wrong_language": 1,
    "incorrect": 3,
    "unclear": 1,
    "no_speech": 1,
    "auto_finalised": 1,
    "disputed": 1,
    "sessions_passed": 2,  # completed
    "sessions_failed": 1,
    "lives_lost": 4,  # 0 + 1 + 3 + 0 + 0
    "attempts_when_passed": 11,
    "turns_passed": 7,
    "turns_judged": 8,
    "turns_first_try": 5,
    "confidence_samples": 4,
    "mean_confidence": 0.6,
    "median_answer_ms": 6000.0,  # the 7th of 13
    "turn_count": 2,
    "turn_visits": 8,
    "enough_data": True,
    "completion_rate": 0.4,
    "failure_rate": 0.2,
    "mean_lives_lost": 0.8,
    "correct_rate": 0.5385,
    "wrong_language_rate": 0.0769,
    "incorrect_rate": 0.2308,
    "unclear_rate": 0.0769,
    "no_speech_rate": 0.0769,
    "auto_finalise_rate": 0.0769,
    "dispute_rate": 0.0769,
    "mean_attempts_to_pass": 1.5714,
    "first_try_pass_rate": 0.625,
    "difficulty": 0.375,
    "failure_per_turn_rate": 0.125,
}


def figures(row: object, expected: Mapping[str, object]) -> dict[str, object]:
    return {name: getattr(row, name) for name in expected}


def test_the_data_set_is_what_the_table_says(played) -> None:
    outcomes = [a.outcome for a in played.sessions["cy"].attempts.order_by("created_at")]
    assert outcomes == [
        Outcome.INCORRECT_ANSWER,
        Outcome.CORRECT,
        Outcome.WRONG_LANGUAGE,
        Outcome.INCORRECT_ANSWER,
    ]
    assert played.sessions["cy"].status == "failed"
    assert played.sessions["bo"].attempts.filter(confidence=0.4).get().outcome == "correct"


def test_every_turn_figure(played) -> None:
    first, second = analytics_turns_list()
    assert figures(first, TURN_ONE) == TURN_ONE
    assert figures(second, TURN_TWO) == TURN_TWO


def test_every_scenario_figure(played) -> None:
    (scenario,) = analytics_scenarios_list()
    assert figures(scenario, SCENARIO) == SCENARIO


def test_reordered_columns_change_no_figure(played, monkeypatch) -> None:
    # Rows are read by column name: the SELECT's counts in reverse order give the same figures
    # (read by position, every count would have shifted into its neighbour's field).
    columns = re.findall(r"(?:COALESCE\([^)]*\)|aa\.\w+) AS \w+", analytics._FIGURE_COLUMNS)
    assert len(columns) == 18
    monkeypatch.setattr(analytics, "_FIGURE_COLUMNS", "\n" + ",\n".join(reversed(columns)))
    first, second = analytics_turns_list()
    assert figures(first, TURN_ONE) == TURN_ONE
    assert figures(second, TURN_TWO) == TURN_TWO
    (scenario,) = analytics_scenarios_list()
    assert figures(scenario, SCENARIO) == SCENARIO


def test_a_renamed_or_missing_column_is_an_error_not_a_shift(played, monkeypatch) -> None:
    renamed = analytics._FIGURE_COLUMNS.replace("AS unclear", "AS unclear_count")
    monkeypatch.setattr(analytics, "_FIGURE_COLUMNS", renamed)
    with pytest.raises(ColumnsMismatch, match="unclear"):
        analytics_turns_list()


def test_figures_are_built_by_name_in_any_order() -> None:
    row: dict[str, object] = {
        f.name: n for n, f in enumerate(fields(TurnFigures)) if f.name != "min_sessions"
    }
    row.update(prompt="?", scenario_slug="s", scenario_title="S", language="fr")
    row["scenario_difficulty"] = "normal"
    built = analytics.figures_build(TurnFigures, dict(reversed(list(row.items()))))
    assert (built.attempts, built.correct, built.turn_number) == (
        row["attempts"],
        row["correct"],
        row["turn_number"],
    )
    with pytest.raises(ColumnsMismatch, match="missing"):
        analytics.figures_build(TurnFigures, {k: v for k, v in row.items() if k != "correct"})


def test_unplayed_turns_are_not_ranked(scenario) -> None:
    first, second = analytics_turns_list()
    assert (first.sessions, first.attempts, first.difficulty, first.enough_data) == (
        0,
        0,
        None,
        False,
    )
    assert second.difficulty is None
    (only,) = analytics_scenarios_list()
    assert (only.sessions, only.difficulty, only.completion_rate) == (0, None, None)


def test_min_sample_is_a_setting(played, settings) -> None:
    settings.ANALYTICS_MIN_SESSIONS = 3
    _, second = analytics_turns_list()
    assert (second.enough_data, second.difficulty) == (True, 0.6667)


@pytest.mark.parametrize(
    ("filters", "scenario_sessions", "turn_sessions"),
    [
        (AnalyticsFilters(mode="streaming"), 1, (1, 0)),
        (AnalyticsFilters(mode="time_stop"), 4, (4, 3)),
        (AnalyticsFilters(date_from=date(2026, 1, 2)), 1, (1, 0)),
        (AnalyticsFilters(date_to=date(2026, 1, 1)), 4, (4, 3)),
        (AnalyticsFilters(date_from=date(2026, 1, 3)), 0, (0, 0)),
        (AnalyticsFilters(language="fr", difficulty="normal", scenario="cafe-test"), 5, (5, 3)),
    ],
)
def test_filters(played, filters, scenario_sessions, turn_sessions) -> None:
    (scenario,) = analytics_scenarios_list(filters=filters)
    assert scenario.sessions == scenario_sessions
    assert tuple(turn.sessions for turn in analytics_turns_list(filters=filters)) == turn_sessions


@pytest.mark.parametrize(
    "filters",
    [
        AnalyticsFilters(language="es"),
        AnalyticsFilters(difficulty="hard"),
        AnalyticsFilters(scenario="x"),
    ],
)
def test_filters_that_exclude_the_scenario(played, filters) -> None:
    assert analytics_scenarios_list(filters=filters) == []
    assert analytics_turns_list(filters=filters) == []


def test_streaming_only_figures(played) -> None:
    first, _ = analytics_turns_list(filters=AnalyticsFilters(mode="streaming"))
    assert (first.auto_finalise_rate, first.mean_confidence, first.median_answer_ms) == (
        1.0,
        0.8,
        6000.0,
    )


def test_flagged_turns(played, settings) -> None:
    assert analytics_flags_list() == []  # turn 2 has too few sessions to be judged
    settings.ANALYTICS_MIN_SESSIONS = 3
    (flag,) = analytics_flags_list()
    assert flag.turn.turn_number == 2
    assert flag.reasons == ("failure rate 33% vs 12% per turn in the scenario",)


def test_bounded_queries(played, django_assert_max_num_queries) -> None:
    with django_assert_max_num_queries(2):
        analytics_turns_list()
        analytics_scenarios_list()
