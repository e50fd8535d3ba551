"""Reads behind the analysts' pages that are not figures: sessions, one session's review,
the attempts export. (The figures are in telemetry.analytics.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Count, Max, Min, Q, QuerySet

from interaction.models import Attempt, PartialTranscript, ScoreEvent, Session
from telemetry.access import learner_pseudonym
from telemetry.analytics import AnalyticsFilters
from telemetry.models import StreamConnection, StreamSample


def _sessions_filtered(filters: AnalyticsFilters) -> QuerySet[Session]:
    sessions = Session.objects.all()
    if filters.scenario:
        sessions = sessions.filter(scenario__slug=filters.scenario)
    if filters.language:
        sessions = sessions.filter(scenario__language=filters.language)
    if filters.difficulty:
        sessions = sessions.filter(scenario__difficulty=filters.difficulty)
    if filters.mode:
        sessions = sessions.filter(mode=filters.mode)
    if filters.date_from:
        sessions = sessions.filter(
            started_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=UTC)
        )
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=UTC)
        sessions = sessions.filter(started_at__lt=end)
    return sessions


def analytics_sessions_list(*, filters: AnalyticsFilters) -> QuerySet[Session]:
    """The filtered sessions, newest first, with their attempt counts (one query a page)."""
    return (
        _sessions_filtered(filters)
        .select_related("scenario")
        .annotate(attempt_count=Count("attempts"))
        .order_by("-started_at")
    )


@dataclass(frozen=True)
class SessionReview:
    session: Session
    attempts: list[Attempt]
    partials: dict[int, list[PartialTranscript]]  # by turn index
    ledger: list[ScoreEvent]
    connections: list[dict[str, Any]]


def analytics_session_review(*, session_id: Any) -> SessionReview:
    """Everything stored about one session, read-only. Raises Session.DoesNotExist."""
    session = Session.objects.select_related("scenario", "learner").get(pk=session_id)
    attempts = list(session.attempts.select_related("turn").order_by("created_at", "id"))
    partials: dict[int, list[PartialTranscript]] = {}
    for partial in session.partials.order_by("seq"):
        partials.setdefault(partial.turn_index, []).append(partial)
    ledger = list(session.ledger.order_by("created_at", "id"))
    connections = [
        dict(row)
        for row in StreamConnection.objects.filter(session=session)
        .annotate(
            rtt_samples=Count("samples", filter=Q(samples__kind=StreamSample.Kind.RTT)),
            rtt_mean_ms=Avg("samples__value_ms", filter=Q(samples__kind=StreamSample.Kind.RTT)),
            rtt_max_ms=Max("samples__value_ms", filter=Q(samples__kind=StreamSample.Kind.RTT)),
            asr_mean_ms=Avg("samples__value_ms", filter=Q(samples__kind=StreamSample.Kind.ASR)),
            asr_min_ms=Min("samples__value_ms", filter=Q(samples__kind=StreamSample.Kind.ASR)),
            errors=Count("samples", filter=Q(samples__kind=StreamSample.Kind.ERROR)),
        )
        .order_by("opened_at")
        .values(
            "id",
            "opened_at",
            "closed_at",
            "close_code",
            "resumed",
            "rtt_samples",
            "rtt_mean_ms",
            "rtt_max_ms",
            "asr_mean_ms",
            "asr_min_ms",
            "errors",
        )
    ]
    return SessionReview(
        session=session,
        attempts=attempts,
        partials=partials,
        ledger=ledger,
        connections=connections,
    )


# CSV column → the attempt's field it comes from.
ATTEMPT_EXPORT_FIELDS = {
    "attempt": "pk",
    "session": "session_id",
    "learner": "session__learner_id",
    "scenario": "session__scenario__slug",
    "mode": "session__mode",
    "turn": "turn_index",
    "source": "source",
    "transcript": "transcript",
    "confidence": "confidence",
    "language": "language",
    "language_probability": "language_probability",
    "outcome": "outcome",
    "similarity": "similarity",
    "score_delta": "score_delta",
    "lives_delta": "lives_delta",
    "auto_finalised": "auto_finalised",
    "audio_ms": "audio_ms",
    "asr_ms": "asr_ms",
    "created_at": "created_at",
}
ATTEMPT_COLUMNS = list(ATTEMPT_EXPORT_FIELDS)


def attempt_export_rows(*, filters: AnalyticsFilters) -> Iterator[list[Any]]:
    """Every attempt of the filtered sessions, oldest first, as CSV rows (header first),
    streamed. Learners appear as their pseudonym (telemetry.access.learner_pseudonym)."""
    attempts = (
        Attempt.objects.filter(session__in=_sessions_filtered(filters))
        .order_by("created_at", "id")
        .values_list(*ATTEMPT_EXPORT_FIELDS.values())
    )
    yield list(ATTEMPT_COLUMNS)
    pseudonyms: dict[int, str] = {}
    for row in attempts.iterator(chunk_size=2000):
        values: list[Any] = list(row)
        learner_id = values[2]
        if learner_id not in pseudonyms:
            pseudonyms[learner_id] = learner_pseudonym(learner_id)
        values[2] = pseudonyms[learner_id]
        values[5] = values[5] + 1  # turns count from 1 for people
        values[-1] = values[-1].isoformat()
        yield values
