"""Disputes: a learner says "my answer should count"; a designer accepts or dismisses it.

Accepting adds the attempt's transcript to the turn's accepted answers through
`scenarios.services.scenario_upsert` (the one write path of scenarios), so answers given
after it count. The attempt, its score and the ledger are never changed: they are history.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from interaction.models import Attempt
from interaction.vocabulary import Outcome
from scenarios.services import turn_answer_add
from telemetry.models import Dispute

DISPUTABLE = frozenset({Outcome.INCORRECT_ANSWER, Outcome.WRONG_LANGUAGE, Outcome.UNCLEAR})


class DisputeRefused(Exception):
    """Why a dispute cannot be opened or resolved; `code` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def dispute_open(*, learner: Any, attempt_id: int, comment: str = "") -> Dispute:
    """Open a dispute of one of `learner`'s own attempts (one per attempt).

    Raises Attempt.DoesNotExist for another learner's attempt (so it cannot be told from a
    missing one) and DisputeRefused for an answer that already counted or was disputed."""
    attempt = Attempt.objects.select_related("session").get(pk=attempt_id, session__learner=learner)
    if attempt.outcome not in DISPUTABLE:
        raise DisputeRefused(
            "not_disputable",
            f"A {attempt.get_outcome_display().lower()} answer cannot be disputed.",
        )
    if not attempt.transcript.strip():
        raise DisputeRefused("no_transcript", "Nothing was heard, so there is no answer to add.")
    with transaction.atomic():
        if Dispute.objects.filter(attempt=attempt).exists():
            raise DisputeRefused("already_disputed", "This answer is already disputed.")
        return Dispute.objects.create(attempt=attempt, learner=learner, comment=comment.strip())


@transaction.atomic
def dispute_accept(*, dispute: Dispute, by: Any) -> Dispute:
    """Add the disputed transcript to its turn's accepted answers; the score stays as it was."""
    dispute = (
        Dispute.objects.select_for_update()
        .select_related("attempt__turn__scenario")
        .get(pk=dispute.pk)
    )
    if dispute.status != Dispute.Status.OPEN:
        raise DisputeRefused("resolved", "This dispute is already resolved.")
    text = turn_answer_add(turn=dispute.attempt.turn, text=dispute.attempt.transcript)
    return _resolve(dispute, Dispute.Status.ACCEPTED, by=by, accepted_text=text)


@transaction.atomic
def dispute_dismiss(*, dispute: Dispute, by: Any) -> Dispute:
    dispute = Dispute.objects.select_for_update().get(pk=dispute.pk)
    if dispute.status != Dispute.Status.OPEN:
        raise DisputeRefused("resolved", "This dispute is already resolved.")
    return _resolve(dispute, Dispute.Status.DISMISSED, by=by)


def _resolve(dispute: Dispute, status: str, *, by: Any, accepted_text: str = "") -> Dispute:
    dispute.status = status
    dispute.resolved_at = timezone.now()
    dispute.resolved_by = by
    dispute.accepted_text = accepted_text
    dispute.save(update_fields=["status", "resolved_at", "resolved_by", "accepted_text"])
    return dispute


def dispute_for_attempt(*, attempt_id: int) -> Dispute | None:
    return Dispute.objects.filter(attempt_id=attempt_id).first()
