"""The answers learners give: the most frequent wrong or unclear transcripts per turn, grouped
loosely, in one query, bounded; its API and CSV; accepting one into the turn's answers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from rest_framework.test import APIClient

from interaction.models import Attempt, Session
from interaction.services import answer_from_text, attempt_record, session_start
from interaction.vocabulary import Mode, Outcome, Source
from telemetry.analytics import AnalyticsFilters
from telemetry.answers import frequent_answers_list

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def answered(scenario, make_learner) -> dict[str, Any]:
    """Turn 1 of cafe-test answered wrongly in several spellings by three learners."""
    turn_one, turn_two = scenario.turns.order_by("order")
    learners = [make_learner(name) for name in ("ana", "bo", "cy")]
    sessions = [session_start(learner=learner, scenario=scenario) for learner in learners]
    streaming = session_start(learner=learners[0], scenario=scenario, mode=Mode.STREAMING)
    rows = [
        # (session, turn, outcome, transcript)
        (0, turn_one, Outcome.INCORRECT_ANSWER, "Un thé, s'il vous plaît"),
        (1, turn_one, Outcome.INCORRECT_ANSWER, "un thé s'il vous plait"),
        (1, turn_one, Outcome.UNCLEAR, "UN THE, S'IL VOUS PLAIT."),
        (2, turn_one, Outcome.INCORRECT_ANSWER, "Un thé, s'il vous plaît"),
        (2, turn_one, Outcome.UNCLEAR, "euh"),
        (0, turn_one, Outcome.INCORRECT_ANSWER, "Une bière"),
        (1, turn_one, Outcome.INCORRECT_ANSWER, "une bière !"),
        (2, turn_one, Outcome.INCORRECT_ANSWER, "Un croissant"),
        (0, turn_one, Outcome.CORRECT, "Un café, s'il vous plaît"),  # counted nowhere
        (1, turn_one, Outcome.WRONG_LANGUAGE, "A tea please"),  # not wrong words
        (2, turn_one, Outcome.NO_SPEECH, ""),
        (2, turn_one, Outcome.UNCLEAR, ""),  # nothing heard: nothing to add
        (0, turn_two, Outcome.INCORRECT_ANSWER, "Sur plage"),
        (3, turn_one, Outcome.INCORRECT_ANSWER, "Un chocolat"),  # the streaming session
    ]
    everyone = [*sessions, streaming]
    for n, (who, turn, outcome, transcript) in enumerate(rows):
        attempt = Attempt.objects.create(
            session=everyone[who],
            turn=turn,
            turn_index=turn.order,
            source=Source.AUDIO,
            transcript=transcript,
            outcome=outcome,
        )
        Attempt.objects.filter(pk=attempt.pk).update(created_at=START + timedelta(minutes=n))
    return {"scenario": scenario, "turns": (turn_one, turn_two)}


def groups(answers: list[Any]) -> list[tuple[int, int, str, int, int, int, int]]:
    return [
        (a.turn_number, a.rank, a.transcript, a.attempts, a.incorrect, a.unclear, a.learners)
        for a in answers
    ]


def test_the_most_frequent_wrong_answers_grouped_loosely(answered) -> None:
    assert groups(frequent_answers_list()) == [
        (1, 1, "Un thé, s'il vous plaît", 4, 3, 1, 3),  # case, punctuation, accents folded
        (1, 2, "Une bière", 2, 2, 0, 2),  # a tie of spellings: the first in order
        (1, 3, "euh", 1, 0, 1, 1),  # a tie of groups: by their folded text
        (1, 4, "Un chocolat", 1, 1, 0, 1),
        (1, 5, "Un croissant", 1, 1, 0, 1),
        (2, 1, "Sur plage", 1, 1, 0, 1),
    ]


def test_per_turn_filters_and_bound(answered) -> None:
    assert groups(frequent_answers_list(per_turn=1)) == [
        (1, 1, "Un thé, s'il vous plaît", 4, 3, 1, 3),
        (2, 1, "Sur plage", 1, 1, 0, 1),
    ]
    streamed = frequent_answers_list(filters=AnalyticsFilters(mode="streaming"))
    assert groups(streamed) == [(1, 1, "Un chocolat", 1, 1, 0, 1)]
    # Only the newest `bound` wrong or unclear attempts are read: the last three rows.
    assert groups(frequent_answers_list(bound=3)) == [
        (1, 1, "Un chocolat", 1, 1, 0, 1),
        (1, 2, "Un croissant", 1, 1, 0, 1),
        (2, 1, "Sur plage", 1, 1, 0, 1),
    ]
    assert frequent_answers_list(filters=AnalyticsFilters(language="es")) == []


def test_one_query_whatever_the_turns(answered, django_assert_num_queries) -> None:
    with django_assert_num_queries(1):
        frequent_answers_list()


def test_the_api_in_json_and_csv(answered, analyst) -> None:
    client = APIClient()
    client.force_authenticate(analyst)
    body = client.get("/api/analytics/frequent-answers/?per_turn=2&scenario=cafe-test").json()
    assert [(row["turn_number"], row["transcript"], row["attempts"]) for row in body] == [
        (1, "Un thé, s'il vous plaît", 4),
        (1, "Une bière", 2),
        (2, "Sur plage", 1),
    ]
    assert set(body[0]) == {
        "scenario_id",
        "scenario_slug",
        "turn_id",
        "turn_number",
        "prompt",
        "rank",
        "transcript",
        "attempts",
        "incorrect",
        "unclear",
        "learners",
    }
    response = client.get("/api/analytics/frequent-answers/?format=csv&per_turn=1")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["turn_number"], r["transcript"], r["learners"]) for r in rows] == [
        ("1", "Un thé, s'il vous plaît", "3"),
        ("2", "Sur plage", "1"),
    ]
    assert "learner" not in rows[0]  # counted, never named
    for bad in ("0", "51", "many"):
        refused = client.get(f"/api/analytics/frequent-answers/?per_turn={bad}")
        assert refused.status_code == 400
        assert "per_turn" in refused.json()["errors"]
    schema = client.get("/api/schema/?format=json").json()
    assert "per_turn" in str(schema["paths"]["/api/analytics/frequent-answers/"])


def test_the_scenario_page_lists_them(answered, analyst_client: Client) -> None:
    html = analyst_client.get("/analytics/scenarios/cafe-test/").content.decode()
    assert "<q>Un thé, s&#x27;il vous plaît</q> — 4 attempts" in html
    assert "(3 incorrect, 1 unclear) by 3 learners" in html
    assert "Accept</button>" not in html  # analysts change nothing


@pytest.fixture
def designer(db: None) -> Any:
    user = get_user_model().objects.create_user("designer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="change_scenario"))
    return user


def test_a_designer_accepts_an_answer_and_it_counts_from_then_on(
    answered, designer, learner
) -> None:
    client = Client()
    client.force_login(designer)
    page = client.get("/analytics/scenarios/cafe-test/").content.decode()
    turn_one = answered["turns"][0]
    assert f'action="/analytics/turns/{turn_one.pk}/answers/"' in page
    response = client.post(
        f"/analytics/turns/{turn_one.pk}/answers/",
        {"transcript": "Un thé, s'il vous plaît", "next": "/analytics/scenarios/cafe-test/"},
    )
    assert (response.status_code, response["Location"]) == (302, "/analytics/scenarios/cafe-test/")
    assert "Un thé, s'il vous plaît" in [a.text for a in turn_one.answers.all()]
    again = client.post(
        f"/analytics/turns/{turn_one.pk}/answers/", {"transcript": "Un thé, s'il vous plaît"}
    )
    assert again.status_code == 302
    assert [a.text for a in turn_one.answers.all()].count("Un thé, s'il vous plaît") == 1
    followed = client.get(again["Location"]).content.decode()
    assert "is now an accepted answer of turn 1" in followed

    session = session_start(learner=learner, scenario=answered["scenario"])
    result = attempt_record(
        session=session, answer=answer_from_text(text="Un thé, s'il vous plaît")
    )
    assert result.verdict.outcome == Outcome.CORRECT
    assert Session.objects.get(pk=session.pk).turn_index == 1


def test_empty_answers_are_not_added_and_others_are_refused(answered, designer) -> None:
    turn_one = answered["turns"][0]
    client = Client()
    client.force_login(designer)
    before = [a.text for a in turn_one.answers.all()]
    response = client.post(f"/analytics/turns/{turn_one.pk}/answers/", {"transcript": "  "})
    assert response.status_code == 302
    assert [a.text for a in turn_one.answers.all()] == before
    assert "Not added" in client.get(response["Location"]).content.decode()
    staff = get_user_model().objects.create_user("staff-only", is_staff=True)
    client.force_login(staff)  # staff without the permission to change scenarios
    assert (
        client.post(f"/analytics/turns/{turn_one.pk}/answers/", {"transcript": "x"}).status_code
        == 403
    )
    assert client.get(f"/analytics/turns/{turn_one.pk}/answers/").status_code == 405
