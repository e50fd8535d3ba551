"""The server → client events of /stream/interaction: one TypedDict and one builder each.

docs/protocol.md documents the same shapes; tests validate emitted events against
`EVENT_FIELDS`, so the code and the document cannot drift apart silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict


@dataclass(frozen=True)
class Standing:
    """What every event reports: the session and its score and lives after the event."""

    session: str | None
    score: int = 0
    lives_remaining: int = 0
    lives_total: int = 0


class Event(TypedDict):
    type: str
    seq: int
    session: str | None
    score: int
    lives_remaining: int
    lives_total: int
    scoreDelta: int
    livesDelta: int


class TurnInfo(TypedDict):
    index: int
    count: int
    prompt: str
    language: str


class ReadyEvent(Event):
    turn: TurnInfo | None
    confidence_threshold: float
    status: str
    mode: str
    resumed: bool


class PartialEvent(Event):
    utterance: str
    transcript: str
    confidence: float
    language: str
    language_probability: float | None
    intent: str | None
    similarity: float
    audio_ms: int


class PenaltyEvent(Event):
    utterance: str
    penalty: dict[str, Any]
    outcome: str
    transcript: str
    confidence: float | None
    language: str | None
    language_probability: float | None
    turn: TurnInfo | None
    status: str


class FinalEvent(Event):
    utterance: str
    transcript: str
    confidence: float | None
    outcome: str
    auto: bool
    language: str | None
    language_probability: float | None
    words: list[dict[str, Any]]
    turn: TurnInfo | None
    status: str


class ResetEvent(Event):
    reason: str
    utterance: str | None


class _ErrorFields(Event):
    code: str
    message: str
    retryable: bool


class ErrorEvent(_ErrorFields, total=False):
    fallback: str  # "http" when streaming cannot go on: switch to the time-stop POST


class PongEvent(TypedDict):
    type: str
    t: float


def _base(kind: str, seq: int, standing: Standing, score_delta: int = 0, lives_delta: int = 0):
    return {
        "type": kind,
        "seq": seq,
        "session": standing.session,
        "score": standing.score,
        "lives_remaining": standing.lives_remaining,
        "lives_total": standing.lives_total,
        "scoreDelta": score_delta,
        "livesDelta": lives_delta,
    }


def ready_event(
    *,
    seq: int,
    standing: Standing,
    turn: TurnInfo | None,
    confidence_threshold: float,
    status: str,
    mode: str,
    resumed: bool,
) -> ReadyEvent:
    return ReadyEvent(
        **_base("ready", seq, standing),
        turn=turn,
        confidence_threshold=confidence_threshold,
        status=status,
        mode=mode,
        resumed=resumed,
    )


def partial_event(
    *,
    seq: int,
    standing: Standing,
    utterance: str,
    transcript: str,
    confidence: float,
    language: str,
    language_probability: float | None,
    intent: str | None,
    similarity: float,
    audio_ms: int,
) -> PartialEvent:
    return PartialEvent(
        **_base("partial", seq, standing),
        utterance=utterance,
        transcript=transcript,
        confidence=confidence,
        language=language,
        language_probability=language_probability,
        intent=intent,
        similarity=similarity,
        audio_ms=audio_ms,
    )


def penalty_event(
    *, seq: int, standing: Standing, attempt: dict[str, Any], utterance: str
) -> PenaltyEvent:
    """From the time-stop response payload (`interaction.payloads.attempt_payload`)."""
    return PenaltyEvent(
        **_base("penalty", seq, standing, attempt["scoreDelta"], attempt["livesDelta"]),
        utterance=utterance,
        penalty=attempt["penalty"],
        outcome=attempt["outcome"],
        transcript=attempt["transcript"],
        confidence=attempt["confidence"],
        language=attempt["language"],
        language_probability=attempt["language_probability"],
        turn=attempt["turn"],
        status=attempt["status"],
    )


def final_event(
    *, seq: int, standing: Standing, attempt: dict[str, Any], utterance: str, auto: bool
) -> FinalEvent:
    return FinalEvent(
        **_base("final", seq, standing, attempt["scoreDelta"], attempt["livesDelta"]),
        utterance=utterance,
        transcript=attempt["transcript"],
        confidence=attempt["confidence"],
        outcome=attempt["outcome"],
        auto=auto,
        language=attempt["language"],
        language_probability=attempt["language_probability"],
        words=attempt["words"],
        turn=attempt["turn"],
        status=attempt["status"],
    )


def reset_event(*, seq: int, standing: Standing, reason: str, utterance: str | None) -> ResetEvent:
    return ResetEvent(**_base("reset", seq, standing), reason=reason, utterance=utterance)


def error_event(
    *,
    seq: int,
    standing: Standing,
    code: str,
    message: str,
    retryable: bool,
    fallback: str | None = None,
) -> ErrorEvent:
    event = ErrorEvent(
        **_base("error", seq, standing), code=code, message=message, retryable=retryable
    )
    if fallback:
        event["fallback"] = fallback
    return event


def pong_event(*, t: float) -> PongEvent:
    return PongEvent(type="pong", t=t)


EVENT_TYPES: dict[str, type] = {
    "ready": ReadyEvent,
    "partial": PartialEvent,
    "penalty": PenaltyEvent,
    "final": FinalEvent,
    "reset": ResetEvent,
    "error": ErrorEvent,
    "pong": PongEvent,
}
