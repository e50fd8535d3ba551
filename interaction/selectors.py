"""Reads for the learner's world."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, Max, Q, QuerySet, Sum
from rest_framework.authtoken.models import Token

from interaction.models import Attempt, LearnerProfile, Session
from interaction.vocabulary import PENALISED_OUTCOMES, SessionStatus
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


def session_resumable_get(*, learner: Any, scenario: Any, session_id: Any = None) -> Session | None:
    """The learner's active session of `scenario` to resume: `session_id` when it is one of
    theirs and still active, else their latest active one; None when there is none."""
    active = Session.objects.select_related("scenario").filter(
        learner=learner, scenario=scenario, status=SessionStatus.ACTIVE
    )
    if session_id is not None:
        try:
            chosen = active.filter(pk=session_id).first()
        except (ValueError, DjangoValidationError):
            chosen = None  # not a session id: the latest one
        if chosen is not None:
            return chosen
    return active.order_by("-updated_at", "-started_at").first()


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


def answer_to_reveal(*, accepted: Sequence[str], closest: str | None) -> str | None:
    """The accepted answer to show a learner: the judge's closest one, else the first."""
    if closest and closest in accepted:
        return closest
    return accepted[0] if accepted else None


def turn_reveal_get(*, session: Session, turn: Turn, unsaved: Attempt | None = None) -> str | None:
    """The answer the learner has earned the right to see on `turn`, or None.

    Due once `turn.scenario.reveal_after` wrong answers (wrong language or incorrect) were
    given on it in this session, or when the session ended on it (game over, abandoned);
    never before, so an answer is not given away early. A passed turn was answered
    correctly: its answers are no secret any more. `unsaved`: a wrong answer on `turn`
    about to be written with the session's new standing, counted as the newest.
    """
    if turn.order < session.turn_index or session.status == SessionStatus.COMPLETED:
        wrong: list[Attempt] = []
        due = True
    else:
        wrong = list(
            session.attempts.filter(turn_index=turn.order, outcome__in=PENALISED_OUTCOMES)
            .order_by("-created_at", "-id")
            .only("matched_answer")
        )
        if unsaved is not None:
            wrong.insert(0, unsaved)
        due = not session.is_active or len(wrong) >= session.scenario.reveal_after
        if turn.order > session.turn_index:
            due = False  # a turn never reached
    if not due:
        return None
    accepted = [answer.text for answer in turn.answers.all()]
    return answer_to_reveal(accepted=accepted, closest=wrong[0].matched_answer if wrong else None)


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


def learner_languages_get(*, learner: Any) -> tuple[str, ...]:
    """The languages a learner named (empty when none: then the global default applies)."""
    profiles = LearnerProfile.objects.filter(user=learner)
    return tuple(profiles.values_list("other_languages", flat=True).first() or ())


def learner_other_languages_get(*, learner: Any) -> tuple[str, ...]:
    """The languages the judge suspects a learner's spoken answers of: the ones they named,
    else (none named) the global default `PARLEY_JUDGING["other_languages"]`. The scenario's
    own language is dropped where the suspects are used (any pair: an English target too)."""
    return _named_or_default(learner_languages_get(learner=learner))


def session_learner_languages_get(*, session: Session) -> tuple[str, ...]:
    """`learner_other_languages_get` for the session's learner; no query when the session was
    read with them (`services.session_lock`: once per live answer, with the row lock)."""
    if hasattr(session, LEARNER_LANGUAGES):
        return _named_or_default(getattr(session, LEARNER_LANGUAGES))
    return learner_other_languages_get(learner=session.learner)


def session_learner_languages_attach(*, session: Session, named: str | None) -> Session:
    """`session`, carrying its learner's languages as read with it in the same statement
    (the profile's JSON text; None: no profile), for `session_learner_languages_get`."""
    setattr(session, LEARNER_LANGUAGES, json.loads(named) if named is not None else None)
    return session


LEARNER_LANGUAGES = "learner_languages"
"""The annotation of a session read with its learner's languages (None: no profile)."""


def _named_or_default(named: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(named or ()) or tuple(settings.PARLEY_JUDGING["other_languages"])
