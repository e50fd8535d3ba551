"""Privacy: keeping audio only when asked, retention of audio and transcripts, erasure.

docs/privacy.md describes the behaviour; the management commands `purge_audio`,
`purge_transcripts` and `delete_learner_data` call these services.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from interaction.models import (
    Attempt,
    LearnerProfile,
    PartialTranscript,
    ScoreEvent,
    Session,
    SessionEvent,
)
from interaction.vocabulary import SessionStatus
from telemetry.models import Dispute, StoredAudio, StreamConnection, StreamSample

TRANSCRIPT_EVENT_TYPES = ("partial", "penalty", "final")


def audio_store(*, attempt: Attempt, upload: Any) -> StoredAudio | None:
    """Keep a time-stop answer's uploaded clip, only when settings.STORE_AUDIO is on."""
    if not settings.STORE_AUDIO or upload is None:
        return None
    upload.seek(0)
    data = upload.read()
    return StoredAudio.objects.create(
        attempt=attempt,
        content_type=getattr(upload, "content_type", "") or "",
        data=data,
        size=len(data),
    )


def audio_purge(*, older_than_days: int) -> int:
    """Delete kept audio older than `older_than_days` days (0: all of it); how many clips."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = StoredAudio.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@transaction.atomic
def transcripts_purge(*, older_than_days: int) -> dict[str, int]:
    """Forget what learners said more than `older_than_days` days ago.

    Attempts keep their outcome, scores, confidence and timings (the figures still add up)
    but lose transcript, words and the evidence's recognised text (the verdict stays);
    partial transcripts and the stream events that carry text are deleted, except for
    sessions still active (a resume replays their events)."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    attempts = Attempt.objects.filter(created_at__lt=cutoff).exclude(
        transcript="", words=[], evidence={}
    )
    cleared = attempts.update(
        transcript="",
        words=[],
        evidence=RawSQL(
            "jsonb_strip_nulls(jsonb_build_object('verdict', evidence->'verdict'))", []
        ),
    )
    partials, _ = PartialTranscript.objects.filter(created_at__lt=cutoff).delete()
    events, _ = (
        SessionEvent.objects.filter(created_at__lt=cutoff, type__in=TRANSCRIPT_EVENT_TYPES)
        .exclude(session__status=SessionStatus.ACTIVE)
        .delete()
    )
    return {"attempts": cleared, "partials": partials, "events": events}


@transaction.atomic
def learner_data_delete(*, username: str, delete_account: bool = False) -> dict[str, int]:
    """Erase everything Parley stored about one learner; how many rows of each kind.

    Sessions with their ledger rows, stream events and partials; attempts with their kept
    audio and disputes; stream telemetry. The ledger refuses deletes except in a transaction
    that sets parley.erasure (interaction migration 0007), which this one does.
    Raises User.DoesNotExist for an unknown username."""
    user = get_user_model().objects.get(username=username)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL parley.erasure = 'on'")
    sessions = Session.objects.filter(learner=user)
    attempts = Attempt.objects.filter(session__learner=user)
    counts = {
        "stream_samples": StreamSample.objects.filter(connection__learner=user).count(),
        "stream_connections": StreamConnection.objects.filter(learner=user).delete()[0],
        "disputes": Dispute.objects.filter(learner=user).delete()[0],
        "audio": StoredAudio.objects.filter(attempt__session__learner=user).delete()[0],
        "ledger": ScoreEvent.objects.filter(session__learner=user).delete()[0],
        "partials": PartialTranscript.objects.filter(session__learner=user).delete()[0],
        "events": SessionEvent.objects.filter(session__learner=user).delete()[0],
        "attempts": attempts.delete()[0],
        "sessions": sessions.delete()[0],
        "profiles": LearnerProfile.objects.filter(user=user).delete()[0],
    }
    if delete_account:
        user.delete()
        counts["accounts"] = 1
    return counts
