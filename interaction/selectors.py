"""Reads for the learner's world."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Count, Max, Q, QuerySet, Sum
from rest_framework.authtoken.models import Token

from interaction.models import Attempt, LearnerProfile, Session
from interaction.vocabulary import SessionStatus
from scenarios.models import Turn

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # the configured AUTH_USER_MODEL


@dataclass(frozen=True)
class BestResult:
    """A learner's best session of one scenario: score in points, whether any was completed."""

    score: int
    completed: bool
    sessions: int


def session_list_for_learner(*, learner: Any) -> QuerySet[Session]:
    return Session.objects.filter(learner=learner).select_related("scenario")


def session_get_for_learner(*, session_id: Any, learner: Any) -> Session:
    """The learner's own session; another learner's is Session.DoesNotExist, like a missing one."""
    return (
        Session.objects.select_related("scenario")
        .prefetch_related("attempts", "ledger")
        .get(pk=session_id, learner=learner)
    )


def session_ledger_totals(*, session: Session) -> tuple[int, int]:
    """(score, lives) as the sum of the session's ledger rows."""
    totals = session.ledger.aggregate(score=Sum("score_delta"), lives=Sum("lives_delta"))
    return totals["score"] or 0, totals["lives"] or 0


def session_turn_due_get(*, session: Session) -> Turn | None:
    """The turn an active session waits on; None once it has ended."""
    if not session.is_active:
        return None
    return Turn.objects.get(scenario_id=session.scenario_id, order=session.turn_index)


def session_turns_due(*, sessions: Iterable[Session]) -> dict[tuple[int, int], Turn]:
    """(scenario id, order) → Turn for the active sessions' scenarios, in one query."""
    scenario_ids = {session.scenario_id for session in sessions if session.is_active}
    return {
        (turn.scenario_id, turn.order): turn
        for turn in Turn.objects.filter(scenario_id__in=scenario_ids)
    }


def session_attempts_for_review(*, session: Session) -> QuerySet[Attempt]:
    """The session's attempts, oldest first, each with its turn."""
    return session.attempts.select_related("turn").order_by("created_at", "id")


def learner_best_results(*, learner: Any) -> dict[int, BestResult]:
    """scenario id → the learner's best result there (the best completed session wins)."""
    rows = (
        Session.objects.filter(learner=learner)
        .values("scenario_id")
        .annotate(
            best=Max("score"),
            best_completed=Max("score", filter=Q(status=SessionStatus.COMPLETED)),
            sessions=Count("id"),
        )
    )
    return {
        row["scenario_id"]: BestResult(
            score=row["best_completed"] if row["best_completed"] is not None else row["best"],
            completed=row["best_completed"] is not None,
            sessions=row["sessions"],
        )
        for row in rows
    }


def learner_for_token_get(*, key: str) -> User | None:
    """The active learner whose API token is `key`, else None."""
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


def learner_other_languages_get(*, learner: Any) -> tuple[str, ...]:
    """The languages a learner may slip into: their setting, else the global default."""
    profile = LearnerProfile.objects.filter(user=learner).first()
    if profile and profile.other_languages:
        return tuple(profile.other_languages)
    return tuple(settings.PARLEY_JUDGING["other_languages"])
