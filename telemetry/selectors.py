"""Difficulty analytics: which turns are too hard, from the stored attempts and sessions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

from django.db.models import Avg, Count, Q, QuerySet

from interaction.models import Attempt, Session
from interaction.vocabulary import Outcome, SessionStatus
from scenarios.models import Turn


@dataclass(frozen=True)
class TurnDifficulty:
    """One turn's record. Rates are 0..1 of judged attempts (no-speech excluded)."""

    scenario: str
    language: str
    turn_index: int
    prompt: str
    sessions_reached: int
    sessions_passed: int
    sessions_failed_here: int
    attempts: int
    correct_rate: float
    wrong_language_rate: float
    incorrect_rate: float
    no_speech: int
    first_try_pass_rate: float
    mean_attempts_to_pass: float | None
    mean_confidence: float | None
    mean_similarity: float | None

    @property
    def difficulty(self) -> float:
        """0 (everyone passes first time) .. 1 (nobody passes): 1 − first-try pass rate."""
        return round(1.0 - self.first_try_pass_rate, 3)


def turn_difficulty_list(*, scenario_slug: str | None = None) -> list[TurnDifficulty]:
    """Every turn with its attempts' statistics, hardest first within each scenario."""
    turns = Turn.objects.select_related("scenario").order_by("scenario__slug", "order")
    if scenario_slug:
        turns = turns.filter(scenario__slug=scenario_slug)
    judged = ~Q(attempts__outcome=Outcome.NO_SPEECH)
    turns = turns.annotate(
        attempt_count=Count("attempts", filter=judged),
        correct=Count("attempts", filter=Q(attempts__outcome=Outcome.CORRECT)),
        wrong_language=Count("attempts", filter=Q(attempts__outcome=Outcome.WRONG_LANGUAGE)),
        incorrect=Count("attempts", filter=Q(attempts__outcome=Outcome.INCORRECT_ANSWER)),
        no_speech=Count("attempts", filter=Q(attempts__outcome=Outcome.NO_SPEECH)),
        reached=Count("attempts__session", filter=judged, distinct=True),
        mean_confidence=Avg("attempts__confidence", filter=judged),
        mean_similarity=Avg("attempts__similarity", filter=judged),
    )
    first_tries = _first_try_outcomes()
    failed_here = _failed_counts()
    rows = []
    for turn in turns:
        attempts = turn.attempt_count
        firsts = first_tries.get(turn.pk, [])
        passed = turn.correct
        rows.append(
            TurnDifficulty(
                scenario=turn.scenario.slug,
                language=turn.scenario.language,
                turn_index=turn.order,
                prompt=turn.prompt,
                sessions_reached=turn.reached,
                sessions_passed=passed,
                sessions_failed_here=failed_here.get((turn.scenario_id, turn.order), 0),
                attempts=attempts,
                correct_rate=_rate(turn.correct, attempts),
                wrong_language_rate=_rate(turn.wrong_language, attempts),
                incorrect_rate=_rate(turn.incorrect, attempts),
                no_speech=turn.no_speech,
                first_try_pass_rate=_rate(
                    sum(1 for o in firsts if o == Outcome.CORRECT), len(firsts)
                ),
                mean_attempts_to_pass=round(attempts / passed, 2) if passed else None,
                mean_confidence=_round(turn.mean_confidence),
                mean_similarity=_round(turn.mean_similarity),
            )
        )
    return rows


def _failed_counts() -> dict[tuple[int, int], int]:
    return {
        (row["scenario_id"], row["turn_index"]): row["n"]
        for row in Session.objects.filter(status=SessionStatus.FAILED)
        .values("scenario_id", "turn_index")
        .annotate(n=Count("id"))
    }


def _first_try_outcomes() -> dict[int, list[str]]:
    """turn id → the outcome of each session's first judged attempt at it."""
    seen: set[tuple[UUID, int]] = set()
    outcomes: dict[int, list[str]] = {}
    attempts = (
        Attempt.objects.exclude(outcome=Outcome.NO_SPEECH)
        .order_by("session_id", "turn_id", "created_at", "id")
        .values_list("session_id", "turn_id", "outcome")
    )
    for session_id, turn_id, outcome in attempts.iterator(chunk_size=2000):
        if (session_id, turn_id) in seen:
            continue
        seen.add((session_id, turn_id))
        outcomes.setdefault(turn_id, []).append(outcome)
    return outcomes


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def attempt_export_rows(*, scenario_slug: str | None = None) -> Iterator[list[object]]:
    """Every stored attempt, oldest first, as CSV rows (header first), streamed."""
    attempts: QuerySet[Attempt] = Attempt.objects.select_related("session__scenario").order_by(
        "created_at", "id"
    )
    if scenario_slug:
        attempts = attempts.filter(session__scenario__slug=scenario_slug)
    yield [
        "attempt",
        "session",
        "learner",
        "scenario",
        "mode",
        "turn_index",
        "source",
        "transcript",
        "confidence",
        "language",
        "language_probability",
        "outcome",
        "similarity",
        "score_delta",
        "lives_delta",
        "auto_finalised",
        "audio_ms",
        "asr_ms",
        "created_at",
    ]
    for attempt in attempts.iterator(chunk_size=2000):
        session = attempt.session
        yield [
            attempt.pk,
            session.pk,
            session.learner_id,
            session.scenario.slug,
            session.mode,
            attempt.turn_index,
            attempt.source,
            attempt.transcript,
            attempt.confidence,
            attempt.language,
            attempt.language_probability,
            attempt.outcome,
            attempt.similarity,
            attempt.score_delta,
            attempt.lives_delta,
            attempt.auto_finalised,
            attempt.audio_ms,
            attempt.asr_ms,
            attempt.created_at.isoformat(),
        ]
