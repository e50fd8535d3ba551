"""The server → client events of /stream/interaction: one TypedDict and one builder each.

docs/protocol.md documents the same shapes; tests validate emitted events against
`EVENT_FIELDS`, so the code and the document cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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


class _PenaltyFields(TypedDict):
    type: str
    lives: int
    points: int


class PenaltyInfo(_PenaltyFields, total=False):
    """What a penalty cost and why: the languages for wrong_language, the hint otherwise;
    `answer`, the closest accepted answer, once the learner may see it (the scenario's
    `reveal_after`-th wrong answer on the turn, or the answer that ended the game)."""

    answer: str
    expected_language: str
    detected_language: str | None
    hint: str
    similarity: float | None


class PenaltyEvent(Event):
    utterance: str
    penalty: PenaltyInfo | None
    outcome: str
    transcript: str
    confidence: float | None
    language: str | None
    language_probability: float | None
    words: list[dict[str, Any]]
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


StoredEvent = ReadyEvent | PartialEvent | PenaltyEvent | FinalEvent | ResetEvent | ErrorEvent
"""The numbered events: stored with the session and replayed on resume."""

ServerEvent = StoredEvent | PongEvent
"""Everything the server sends on /stream/interaction."""

Send = Callable[[ServerEvent], Awaitable[None]]
"""Delivers one event to the client (the consumer's send, in the end)."""


def _base(
    kind: str, seq: int, standing: Standing, score_delta: int = 0, lives_delta: int = 0
) -> Event:
    return Event(
        type=kind,
        seq=seq,
        session=standing.session,
        score=standing.score,
        lives_remaining=standing.lives_remaining,
        lives_total=standing.lives_total,
        scoreDelta=score_delta,
        livesDelta=lives_delta,
    )


def ready_event(
    *,
    seq: int,
    standing: Standing,
    turn: TurnInfo | None,
    status: str,
    mode: str,
    resumed: bool,
) -> ReadyEvent:
    return ReadyEvent(
        **_base("ready", seq, standing),
        turn=turn,
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


@dataclass(frozen=True)
class Judged:
    """A recorded answer as the stream reports it (built by `presenters.attempt_judged`)."""

    outcome: str
    transcript: str
    confidence: float | None
    language: str | None
    language_probability: float | None
    words: list[dict[str, Any]]
    penalty: PenaltyInfo | None
    score_delta: int
    lives_delta: int
    turn: TurnInfo | None
    status: str


def penalty_event(*, seq: int, standing: Standing, judged: Judged, utterance: str) -> PenaltyEvent:
    return PenaltyEvent(
        **_base("penalty", seq, standing, judged.score_delta, judged.lives_delta),
        utterance=utterance,
        penalty=judged.penalty,
        outcome=judged.outcome,
        transcript=judged.transcript,
        confidence=judged.confidence,
        language=judged.language,
        language_probability=judged.language_probability,
        words=judged.words,
        turn=judged.turn,
        status=judged.status,
    )


def final_event(
    *,
    seq: int,
    standing: Standing,
    judged: Judged,
    utterance: str,
    auto: bool,
    with_deltas: bool = True,
) -> FinalEvent:
    """`with_deltas=False` when a penalty event already carried the answer's deltas."""
    return FinalEvent(
        **_base(
            "final",
            seq,
            standing,
            judged.score_delta if with_deltas else 0,
            judged.lives_delta if with_deltas else 0,
        ),
        utterance=utterance,
        transcript=judged.transcript,
        confidence=judged.confidence,
        outcome=judged.outcome,
        auto=auto,
        language=judged.language,
        language_probability=judged.language_probability,
        words=judged.words,
        turn=judged.turn,
        status=judged.status,
    )


RESET_REASONS = (
    "asked",
    "no_speech",
    "unclear",
    "too_long",
    "asr_unavailable",
    "database_unavailable",
)
"""Why an utterance was discarded: the client's reset, nothing said, the fair judge not
sure (no points, no lives, the turn stays), too long, no recogniser, or the verdict not
recorded (the database failed). docs/protocol.md
lists the same (a test keeps them in step)."""


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
