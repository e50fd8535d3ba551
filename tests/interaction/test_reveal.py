"""The closest accepted answer is revealed once earned: after `reveal_after` wrong answers on
a turn, or with the answer that ends the game; never earlier (interaction/selectors.py)."""

from __future__ import annotations

import pytest

from interaction.presenters import attempt_events, attempt_payload
from interaction.services import answer_from_text, attempt_record, session_start

pytestmark = pytest.mark.django_db

WRONG = "Une pizza"


def _penalty(session, text: str = WRONG) -> dict:
    return attempt_payload(attempt_record(session=session, answer=answer_from_text(text=text)))


def test_the_answer_is_shown_from_the_reveal_after_th_wrong_answer(learner, scenario) -> None:
    session = session_start(learner=learner, scenario=scenario)
    first = _penalty(session)
    assert first["outcome"] == "incorrect_answer"
    assert "answer" not in first["penalty"]  # one wrong try: nothing given away
    second = _penalty(session)
    # The judge's closest accepted answer ("Une pizza" is nearer the short one).
    assert second["penalty"]["answer"] in {
        "Je voudrais un café, s'il vous plaît",
        "Un café, s'il vous plaît",
    }
    assert second["status"] == "active"


def test_a_scenarios_reveal_after_is_its_own(learner, make_scenario) -> None:
    scenario = make_scenario(reveal_after=1, lives=5)
    assert scenario.reveal_after == 1
    session = session_start(learner=learner, scenario=scenario)
    assert "answer" in _penalty(session)["penalty"]


def test_the_answer_that_ends_the_game_reveals_it(learner, make_scenario) -> None:
    scenario = make_scenario(lives=1, reveal_after=3)
    session = session_start(learner=learner, scenario=scenario)
    result = attempt_record(session=session, answer=answer_from_text(text=WRONG))
    payload = attempt_payload(result)
    assert payload["status"] == "failed"
    assert payload["penalty"]["answer"]
    # The stream's penalty event carries the same.
    penalty: dict = dict(attempt_events(result, next_seq=5, utterance="u", auto=False)[0])
    assert penalty["type"] == "penalty"
    assert penalty["penalty"]["answer"] == payload["penalty"]["answer"]


def test_a_correct_answer_or_the_next_turn_reveals_nothing(learner, scenario) -> None:
    session = session_start(learner=learner, scenario=scenario)
    _penalty(session)
    correct = _penalty(session, "Un café, s'il vous plaît")
    assert correct["penalty"] is None
    assert "answer" not in _penalty(session)["penalty"]  # turn 2's first wrong try


def test_the_api_response_carries_the_revealed_answer(learner_client, scenario) -> None:
    session = learner_client.post("/api/sessions/", {"scenario": scenario.slug}, format="json")
    url = f"/api/sessions/{session.json()['id']}/attempts/"
    assert "answer" not in learner_client.post(url, {"transcript": WRONG}).json()["penalty"]
    assert learner_client.post(url, {"transcript": WRONG}).json()["penalty"]["answer"]
