"""Difficulty analytics and exports for analysts, computed from real stored attempts."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from interaction.services import answer_from_text, attempt_record, session_start
from telemetry.selectors import turn_difficulty_list

pytestmark = pytest.mark.django_db

RIGHT = ["Un café, s'il vous plaît", "Sur place, s'il vous plaît"]
WRONG = "Je voudrais une bière bien fraîche"
ENGLISH = "I would like to take it away please"


def play(learner, scenario, answers: list[str]) -> None:
    session = session_start(learner=learner, scenario=scenario)
    for text in answers:
        attempt_record(session=session, answer=answer_from_text(text=text))


@pytest.fixture
def played(make_learner, scenario):
    """Three learners: one sails through, one struggles on turn 1, one fails on turn 1."""
    play(make_learner("ana"), scenario, [RIGHT[0], RIGHT[1]])
    play(make_learner("bo"), scenario, [RIGHT[0], WRONG, RIGHT[1]])
    play(make_learner("cy"), scenario, [WRONG, RIGHT[0], ENGLISH, WRONG])
    return scenario


def test_turn_difficulty(played) -> None:
    first, second = turn_difficulty_list(scenario_slug="cafe-test")
    assert (first.turn_index, first.sessions_reached, first.attempts) == (0, 3, 4)
    assert first.first_try_pass_rate == pytest.approx(2 / 3, abs=0.001)
    assert first.correct_rate == 0.75
    assert first.mean_attempts_to_pass == pytest.approx(4 / 3, abs=0.01)
    assert first.sessions_failed_here == 0

    assert (second.turn_index, second.sessions_reached, second.attempts) == (1, 3, 5)
    assert second.first_try_pass_rate == pytest.approx(1 / 3, abs=0.001)
    assert (second.wrong_language_rate, second.incorrect_rate) == (0.2, 0.4)
    assert second.sessions_failed_here == 1
    assert second.difficulty > first.difficulty


@pytest.fixture
def analyst_client() -> Client:
    analyst = get_user_model().objects.create_user("analyst", password="pw", is_staff=True)
    client = Client()
    client.force_login(analyst)
    return client


def test_report_and_csv_exports(played, analyst_client: Client) -> None:
    page = analyst_client.get("/analytics/difficulty/?scenario=cafe-test")
    assert page.status_code == 200
    assert "Sur place ou à emporter ?" in page.content.decode()

    difficulty = analyst_client.get("/analytics/difficulty/?format=csv")
    rows = list(csv.DictReader(io.StringIO(difficulty.getvalue().decode())))
    assert [(row["turn_index"], row["attempts"]) for row in rows] == [("0", "4"), ("1", "5")]

    attempts = analyst_client.get("/analytics/attempts.csv?scenario=cafe-test")
    exported = list(csv.DictReader(io.StringIO(attempts.getvalue().decode())))
    assert len(exported) == 9
    assert {row["outcome"] for row in exported} == {"correct", "incorrect_answer", "wrong_language"}
    assert exported[0]["transcript"] == RIGHT[0]


def test_metrics_count_judged_answers_once_committed(
    make_learner, scenario, analyst_client: Client, django_capture_on_commit_callbacks
) -> None:
    from telemetry.metrics import ATTEMPTS

    counter = ATTEMPTS.labels("correct", "typed", "time_stop")
    before = counter._value.get()
    with django_capture_on_commit_callbacks(execute=True):
        play(make_learner("dee"), scenario, [RIGHT[0], RIGHT[1]])
    assert counter._value.get() == before + 2
    text = analyst_client.get("/metrics").content.decode()
    assert 'parley_attempts_total{mode="time_stop",outcome="correct",source="typed"}' in text


@pytest.mark.parametrize("path", ["/analytics/difficulty/", "/analytics/attempts.csv", "/metrics"])
def test_learners_cannot_see_analytics(path: str, learner) -> None:
    client = Client()
    client.force_login(learner)
    response = client.get(path)
    assert response.status_code == 302
    assert "login" in response["Location"]
