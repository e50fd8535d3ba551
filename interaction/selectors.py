"""Reads for the learner's world."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet, Sum

from interaction.models import Session


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
