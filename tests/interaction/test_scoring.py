"""Scoring is pure: every outcome's deltas and the state it leads to."""

from __future__ import annotations

import pytest

from interaction.judging import CORRECT, INCORRECT_ANSWER, NO_SPEECH, WRONG_LANGUAGE
from interaction.scoring import (
    ACTIVE,
    COMPLETED,
    FAILED,
    SessionNotActive,
    SessionState,
    score_apply,
)
from scenarios.rules import Penalty, Rules

RULES = Rules(
    reward=10,
    lives=3,
    confidence_threshold=0.8,
    answer_similarity=85,
    wrong_language_probability=0.6,
    penalties={
        "wrong_language": Penalty(lives=2, points=0),
        "incorrect_answer": Penalty(lives=1, points=5),
    },
)


def state(**changes) -> SessionState:
    values = {"score": 20, "lives_remaining": 3, "turn_index": 1, "turn_count": 3}
    values.update(changes)
    return SessionState(**values)


@pytest.mark.parametrize(
    ("before", "outcome", "deltas", "after"),
    [
        (state(), CORRECT, (10, 0), state(score=30, turn_index=2)),
        (state(turn_index=2), CORRECT, (10, 0), state(score=30, turn_index=3, status=COMPLETED)),
        (state(), WRONG_LANGUAGE, (0, -2), state(lives_remaining=1)),
        (state(), INCORRECT_ANSWER, (-5, -1), state(score=15, lives_remaining=2)),
        (state(score=3), INCORRECT_ANSWER, (-3, -1), state(score=0, lives_remaining=2)),
        (
            state(lives_remaining=1),
            INCORRECT_ANSWER,
            (-5, -1),
            state(score=15, lives_remaining=0, status=FAILED),
        ),
        (
            state(lives_remaining=1),
            WRONG_LANGUAGE,
            (0, -1),
            state(lives_remaining=0, status=FAILED),
        ),
        (state(), NO_SPEECH, (0, 0), state()),
    ],
)
def test_score_apply(before, outcome, deltas, after) -> None:
    change = score_apply(state=before, outcome=outcome, rules=RULES)
    assert (change.score_delta, change.lives_delta) == deltas
    assert change.state == after
    assert (change.penalty is not None) == (outcome in (WRONG_LANGUAGE, INCORRECT_ANSWER))


@pytest.mark.parametrize("status", [COMPLETED, FAILED, "abandoned"])
def test_an_ended_session_takes_no_answer(status: str) -> None:
    with pytest.raises(SessionNotActive, match=status):
        score_apply(state=state(status=status), outcome=CORRECT, rules=RULES)


def test_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        score_apply(state=state(status=ACTIVE), outcome="maybe", rules=RULES)
