"""Scoring is pure: every outcome's deltas and the state it leads to."""

from __future__ import annotations

from typing import Any

import pytest

from interaction.scoring import SessionNotActive, SessionState, score_apply
from interaction.vocabulary import Outcome, SessionStatus
from scenarios.rules import Penalty, Rules

RULES = Rules(
    reward=10,
    lives=3,
    answer_similarity=85,
    wrong_language_probability=0.6,
    penalties={
        "wrong_language": Penalty(lives=2, points=0),
        "incorrect_answer": Penalty(lives=1, points=5),
    },
)


def state(**changes: Any) -> SessionState:
    values: dict[str, Any] = {"score": 20, "lives_remaining": 3, "turn_index": 1, "turn_count": 3}
    values.update(changes)
    return SessionState(**values)


@pytest.mark.parametrize(
    ("before", "outcome", "deltas", "after"),
    [
        (state(), Outcome.CORRECT, (10, 0), state(score=30, turn_index=2)),
        (
            state(turn_index=2),
            Outcome.CORRECT,
            (10, 0),
            state(score=30, turn_index=3, status=SessionStatus.COMPLETED),
        ),
        (state(), Outcome.WRONG_LANGUAGE, (0, -2), state(lives_remaining=1)),
        (state(), Outcome.INCORRECT_ANSWER, (-5, -1), state(score=15, lives_remaining=2)),
        (state(score=3), Outcome.INCORRECT_ANSWER, (-3, -1), state(score=0, lives_remaining=2)),
        (
            state(lives_remaining=1),
            Outcome.INCORRECT_ANSWER,
            (-5, -1),
            state(score=15, lives_remaining=0, status=SessionStatus.FAILED),
        ),
        (
            state(lives_remaining=1),
            Outcome.WRONG_LANGUAGE,
            (0, -1),
            state(lives_remaining=0, status=SessionStatus.FAILED),
        ),
        (state(), Outcome.NO_SPEECH, (0, 0), state()),
        # unclear: no points, no lives, the turn stays (the learner says it again)
        (state(lives_remaining=1), Outcome.UNCLEAR, (0, 0), state(lives_remaining=1)),
    ],
)
def test_score_apply(before, outcome, deltas, after) -> None:
    change = score_apply(state=before, outcome=outcome, rules=RULES)
    assert (change.score_delta, change.lives_delta) == deltas
    assert change.state == after
    assert (change.penalty is not None) == (
        outcome in (Outcome.WRONG_LANGUAGE, Outcome.INCORRECT_ANSWER)
    )


@pytest.mark.parametrize("status", [SessionStatus.COMPLETED, SessionStatus.FAILED, "abandoned"])
def test_an_ended_session_takes_no_answer(status: str) -> None:
    with pytest.raises(SessionNotActive, match=status):
        score_apply(state=state(status=status), outcome=Outcome.CORRECT, rules=RULES)


def test_unknown_outcome_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown outcome"):
        score_apply(
            state=state(status=SessionStatus.ACTIVE),
            outcome="maybe",  # type: ignore[arg-type]  # an unknown outcome, on purpose
            rules=RULES,
        )
