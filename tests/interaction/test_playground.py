"""Try an answer's pieces: the word differences and the evidence read leniently (pure), and
`answer_try`, which judges as `attempt_record` does and stores nothing."""

from __future__ import annotations

import math

import pytest

from interaction.models import Attempt, ScoreEvent, Session
from interaction.playground import (
    WordDiff,
    answer_fits,
    answer_try,
    answers_evidence,
    cost_text,
    learner_feedback,
    transcript_fit,
    word_diff,
)
from interaction.services import Answer, answer_from_text, attempt_record, session_start
from interaction.vocabulary import Source


@pytest.mark.parametrize(
    ("heard", "answer", "expected"),
    [
        (
            "Un café, s'il vous plaît",
            "un cafe s'il vous plait.",
            [
                WordDiff(
                    "equal",
                    ("Un", "café,", "s'il", "vous", "plaît"),
                    ("un", "cafe", "s'il", "vous", "plait."),
                )
            ],
        ),
        (
            "Un thé, s'il vous plaît",
            "Un café, s'il vous plaît",
            [
                WordDiff("equal", ("Un",), ("Un",)),
                WordDiff("replace", ("thé,",), ("café,",)),
                WordDiff("equal", ("s'il", "vous", "plaît"), ("s'il", "vous", "plaît")),
            ],
        ),
        (
            "Je voudrais un café",
            "Je voudrais un café, s'il vous plaît",
            [
                WordDiff(
                    "equal", ("Je", "voudrais", "un", "café"), ("Je", "voudrais", "un", "café,")
                ),
                WordDiff("missing", (), ("s'il", "vous", "plaît")),
            ],
        ),
        (
            "euh un café — merci",
            "Un café merci",
            [
                WordDiff("extra", ("euh",), ()),
                WordDiff("equal", ("un", "café", "merci"), ("Un", "café", "merci")),
            ],
        ),
        ("", "Un café", [WordDiff("missing", (), ("Un", "café"))]),
        ("2 cafés", "deux cafés", [WordDiff("equal", ("2", "cafés"), ("deux", "cafés"))]),
    ],
)
def test_word_diff(heard: str, answer: str, expected: list[WordDiff]) -> None:
    assert word_diff(heard, answer, language="fr") == expected


def test_the_evidence_is_read_leniently() -> None:
    payload = {
        "transcript_score": {"mean_logprob": -0.2},
        "answers": [
            {"answer": "Un café", "mean_logprob": -0.9},
            {"answer": "Un café", "mean_logprob": -0.4, "filler": "euh"},  # best variant kept
            {"answer": "Sur place", "mean_logprob": None},
            {"answer": "À emporter"},
            "not a mapping",
            {"mean_logprob": -1.0},
        ],
    }
    assert answer_fits(payload) == {"Un café": -0.4}
    assert transcript_fit(payload) == -0.2
    assert answer_fits({}) == {}
    assert transcript_fit({}) is None
    assert transcript_fit({"transcript_score": "renamed"}) is None
    rows = answers_evidence(
        heard="Un café",
        accepted=["Sur place", "Un café"],
        evidence=payload,
        language="fr",
    )
    assert [(r.answer, r.fit, r.best) for r in rows] == [
        ("Sur place", None, False),
        ("Un café", -0.4, True),
    ]
    assert rows[1].fit_per_token == pytest.approx(math.exp(-0.4))
    assert rows[1].similarity == 100.0
    typed = answers_evidence(
        heard="Un cafe", accepted=["Sur place", "Un café"], evidence={}, language="fr"
    )
    assert [(r.fit, r.best) for r in typed] == [(None, False), (None, True)]  # closest text


def test_cost_text() -> None:
    assert cost_text(lives=1, points=0) == "You lose 1 ♥."
    assert cost_text(lives=2, points=1) == "You lose 2 ♥ and 1 point."
    assert cost_text(lives=0, points=0) == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "outcome", "points", "hearts", "message"),
    [
        ("Un café, s'il vous plaît", "correct", 15, 0, "Correct! “Un café, s'il vous plaît” +15"),
        ("un cafe sil vous plait", "correct", 15, 0, "Correct! “un cafe sil vous plait” +15"),
        (
            "Je voudrais une bière bien fraîche",
            "incorrect_answer",
            0,
            -1,
            "Not quite. Hint: Ask for a coffee. You lose 1 ♥.",
        ),
        (
            "I would like to take it away please",
            "wrong_language",
            0,
            -1,
            "Answer in French! That sounded like English. You lose 1 ♥.",
        ),
    ],
)
def test_a_typed_answer_is_judged_as_a_learners_and_nothing_is_stored(
    scenario, learner, text, outcome, points, hearts, message
) -> None:
    from interaction.pages import language_name

    turn = scenario.turns.get(order=0)
    tried = answer_try(turn=turn, answer=answer_from_text(text=text), learner=learner)
    assert (Session.objects.count(), Attempt.objects.count(), ScoreEvent.objects.count()) == (
        0,
        0,
        0,
    )
    assert tried.judgement.verdict.outcome == outcome
    assert (tried.change.score_delta, tried.change.lives_delta) == (points, hearts)
    assert learner_feedback(tried, language_name=language_name) == message
    assert not tried.typed_refused

    session = session_start(learner=learner, scenario=scenario)
    recorded = attempt_record(session=session, answer=answer_from_text(text=text))
    assert recorded.verdict == tried.judgement.verdict
    assert (recorded.change.score_delta, recorded.change.lives_delta) == (points, hearts)


@pytest.mark.django_db
def test_a_penalty_costs_its_points_in_full_and_no_speech_changes_nothing(
    make_scenario, learner
) -> None:
    scenario = make_scenario(penalties={"incorrect_answer": {"lives": 2, "points": 5}})
    turn = scenario.turns.get(order=1)
    tried = answer_try(turn=turn, answer=answer_from_text(text="Non merci"), learner=learner)
    assert (tried.change.score_delta, tried.change.lives_delta) == (-5, -2)
    silent = Answer(source=Source.AUDIO, transcript="", no_speech=True)
    quiet = answer_try(turn=turn, answer=silent, learner=learner)
    assert (quiet.judgement.verdict.outcome, quiet.change.score_delta) == ("no_speech", 0)
    spoken_only = make_scenario(slug="spoken-only", typed_answers=False)
    refused = answer_try(
        turn=spoken_only.turns.get(order=0),
        answer=answer_from_text(text="Un café"),
        learner=learner,
    )
    assert refused.typed_refused
    assert Attempt.objects.count() == 0
