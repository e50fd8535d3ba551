"""The scoring contract as JSON: one builder for the time-stop response and the stream events."""

from __future__ import annotations

from typing import Any

from interaction.judging import INCORRECT_ANSWER, WRONG_LANGUAGE
from interaction.models import Session
from interaction.services import AttemptResult
from scenarios.models import Turn


def turn_payload(turn: Turn | None, *, session: Session) -> dict[str, Any] | None:
    """The turn now due, or None when the session has ended."""
    if turn is None:
        return None
    return {
        "index": turn.order,
        "count": session.turn_count,
        "prompt": turn.prompt,
        "language": session.scenario.language,
    }


def penalty_payload(result: AttemptResult) -> dict[str, Any] | None:
    verdict, change = result.verdict, result.change
    if verdict.outcome not in (WRONG_LANGUAGE, INCORRECT_ANSWER) or change.penalty is None:
        return None
    payload: dict[str, Any] = {
        "type": verdict.outcome,
        "lives": -change.lives_delta,
        "points": -change.score_delta,
    }
    if verdict.outcome == WRONG_LANGUAGE:
        payload["expected_language"] = result.session.scenario.language
        payload["detected_language"] = verdict.suspect_language
    else:
        payload["hint"] = result.attempt.turn.hint
        payload["similarity"] = verdict.similarity
    return payload


def score_fields(session: Session) -> dict[str, Any]:
    return {
        "score": session.score,
        "lives_remaining": session.lives_remaining,
        "lives_total": session.lives_total,
    }


def attempt_payload(result: AttemptResult) -> dict[str, Any]:
    """outcome, transcript, confidence, language…, penalty, scoreDelta, livesDelta, score…"""
    attempt = result.attempt
    return {
        "attempt": attempt.pk,
        "outcome": attempt.outcome,
        "transcript": attempt.transcript,
        "confidence": attempt.confidence,
        "language": attempt.language or None,
        "language_probability": attempt.language_probability,
        "similarity": attempt.similarity,
        "words": attempt.words,
        "asr_ms": attempt.asr_ms,
        "audio_ms": attempt.audio_ms,
        "penalty": penalty_payload(result),
        "scoreDelta": attempt.score_delta,
        "livesDelta": attempt.lives_delta,
        **score_fields(result.session),
        "turn": turn_payload(result.next_turn, session=result.session),
        "status": result.session.status,
    }
