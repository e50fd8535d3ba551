"""Scoring: (session state, outcome, rules) → deltas and the next state. Pure."""

from __future__ import annotations

from dataclasses import dataclass, replace

from interaction.vocabulary import PENALISED_OUTCOMES, UNCHANGED_OUTCOMES, Outcome, SessionStatus
from scenarios.rules import Penalty, Rules


class SessionNotActive(Exception):
    """An answer came for a session that has already ended."""

    def __init__(self, status: str) -> None:
        super().__init__(f"The session is {status}; it takes no more answers.")
        self.status = status


@dataclass(frozen=True)
class SessionState:
    score: int
    lives_remaining: int
    turn_index: int
    turn_count: int
    status: SessionStatus = SessionStatus.ACTIVE


@dataclass(frozen=True)
class Change:
    """score_delta in points, lives_delta in lives (≤ 0); penalty is what was charged."""

    score_delta: int
    lives_delta: int
    state: SessionState
    penalty: Penalty | None = None


def score_apply(*, state: SessionState, outcome: Outcome, rules: Rules) -> Change:
    """Apply one judged answer.

    A correct answer adds the turn's reward and advances; the last turn completes the session.
    A penalty costs its lives and points (the score never goes below 0) and the turn stays;
    no lives left fails the session. No speech and an unclear answer change nothing.
    """
    if state.status != SessionStatus.ACTIVE:
        raise SessionNotActive(state.status)
    if outcome in UNCHANGED_OUTCOMES:
        return Change(0, 0, state)
    if outcome == Outcome.CORRECT:
        turn_index = state.turn_index + 1
        status = SessionStatus.COMPLETED if turn_index >= state.turn_count else SessionStatus.ACTIVE
        new_state = replace(
            state, score=state.score + rules.reward, turn_index=turn_index, status=status
        )
        return Change(rules.reward, 0, new_state)
    if outcome not in PENALISED_OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    penalty = rules.penalty(outcome)
    lives_lost = min(penalty.lives, state.lives_remaining)
    points_lost = min(penalty.points, state.score)
    lives = state.lives_remaining - lives_lost
    new_state = replace(
        state,
        score=state.score - points_lost,
        lives_remaining=lives,
        status=SessionStatus.FAILED if lives == 0 else SessionStatus.ACTIVE,
    )
    return Change(-points_lost, -lives_lost, new_state, penalty)
