"""The scoring contract as JSON: one builder per shape, for the time-stop response and the stream.

The time-stop API returns `attempt_payload`; the stream's penalty and final events are built
from the same `AttemptResult` through `attempt_judged` and `attempt_events`, never from the
HTTP response's dict, so each side's shape is typed on its own.
"""

from __future__ import annotations

from typing import Any

from interaction.events import (
    Judged,
    PenaltyInfo,
    Standing,
    StoredEvent,
    TurnInfo,
    final_event,
    penalty_event,
    reset_event,
)
from interaction.models import Session
from interaction.services import AttemptResult
from interaction.vocabulary import PENALISED_OUTCOMES, UNCHANGED_OUTCOMES, Outcome, SessionStatus
from scenarios.models import Turn

RETRY_MESSAGES: dict[str, str] = {
    Outcome.UNCLEAR: "I couldn't quite make that out — no heart lost. Say it again?",
    Outcome.NO_SPEECH: "I didn't hear anything — try again.",
}
"""What the learner reads after an answer that changes nothing (the turn stays)."""


def outcome_message(outcome: str) -> str | None:
    """The learner-facing line for an outcome that asks them to say it again, else None."""
    return RETRY_MESSAGES.get(outcome)


def turn_payload(turn: Turn | None, *, session: Session) -> TurnInfo | None:
    """The turn now due, or None when the session has ended."""
    if turn is None:
        return None
    return {
        "index": turn.order,
        "count": session.turn_count,
        "prompt": turn.prompt,
        "language": session.scenario.language,
    }


def penalty_payload(result: AttemptResult) -> PenaltyInfo | None:
    verdict, change = result.verdict, result.change
    if verdict.outcome not in PENALISED_OUTCOMES or change.penalty is None:
        return None
    payload = PenaltyInfo(
        type=verdict.outcome,
        lives=-change.lives_delta,
        points=-change.score_delta,
    )
    if verdict.outcome == Outcome.WRONG_LANGUAGE:
        payload["expected_language"] = result.session.scenario.language
        payload["detected_language"] = verdict.suspect_language
    else:
        payload["hint"] = result.attempt.turn.hint
        payload["similarity"] = verdict.similarity
    if result.reveal:
        payload["answer"] = result.reveal  # only once due: services.attempt_record decides
    return payload


def score_fields(session: Session) -> dict[str, Any]:
    return {
        "score": session.score,
        "lives_remaining": session.lives_remaining,
        "lives_total": session.lives_total,
    }


def session_standing(session: Session) -> Standing:
    """The session, score and lives every stream event reports."""
    return Standing(
        session=str(session.pk),
        score=session.score,
        lives_remaining=session.lives_remaining,
        lives_total=session.lives_total,
    )


def attempt_payload(result: AttemptResult) -> dict[str, Any]:
    """outcome, transcript, confidence, language…, penalty, scoreDelta, livesDelta, score…"""
    attempt = result.attempt
    return {
        "attempt": attempt.pk,
        "outcome": attempt.outcome,
        "message": outcome_message(attempt.outcome),
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


def attempt_judged(result: AttemptResult) -> Judged:
    """The recorded answer as the stream's penalty and final events report it."""
    attempt = result.attempt
    return Judged(
        outcome=attempt.outcome,
        transcript=attempt.transcript,
        confidence=attempt.confidence,
        language=attempt.language or None,
        language_probability=attempt.language_probability,
        words=attempt.words,
        penalty=penalty_payload(result),
        score_delta=attempt.score_delta,
        lives_delta=attempt.lives_delta,
        turn=turn_payload(result.next_turn, session=result.session),
        status=result.session.status,
    )


def attempt_events(
    result: AttemptResult, *, next_seq: int, utterance: str, auto: bool
) -> list[StoredEvent]:
    """The events a streamed answer produces, numbered from next_seq.

    no_speech or unclear: a reset whose reason is the outcome (nothing changes, the turn
    stays). A penalised answer: a penalty. A correct answer, or any answer that ends the
    session: a final (with zero deltas after a penalty, which carried them).
    """
    judged = attempt_judged(result)
    standing = session_standing(result.session)
    events: list[StoredEvent] = []
    if judged.outcome in UNCHANGED_OUTCOMES:
        events.append(
            reset_event(seq=next_seq, standing=standing, reason=judged.outcome, utterance=utterance)
        )
    elif judged.outcome in PENALISED_OUTCOMES:
        events.append(
            penalty_event(seq=next_seq, standing=standing, judged=judged, utterance=utterance)
        )
    correct = judged.outcome == Outcome.CORRECT
    if correct or result.session.status != SessionStatus.ACTIVE:
        events.append(
            final_event(
                seq=next_seq + len(events),
                standing=standing,
                judged=judged,
                utterance=utterance,
                auto=auto,
                with_deltas=correct,
            )
        )
    return events


def session_data(session: Session, *, turn: Turn | None, detail: bool = False) -> dict[str, Any]:
    """A session as the time-stop API shows it; `turn` is the turn it waits on (a selector's)."""
    data: dict[str, Any] = {
        "id": session.pk,
        "scenario": session.scenario.slug,
        "mode": session.mode,
        "status": session.status,
        **score_fields(session),
        "turn": turn_payload(turn, session=session),
        "started_at": session.started_at,
        "ended_at": session.ended_at,
    }
    if detail:
        data["attempts"] = list(session.attempts.all())
        data["ledger"] = list(session.ledger.all())
    return data
