"""Privacy: audio kept only when asked, retention purges, and a learner's erasure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction
from django.utils import timezone

from interaction.models import (
    Attempt,
    PartialTranscript,
    ScoreEvent,
    Session,
    SessionEvent,
)
from telemetry.models import Dispute, StoredAudio, StreamConnection, StreamSample
from telemetry.privacy import audio_store

pytestmark = pytest.mark.django_db


def clip() -> SimpleUploadedFile:
    return SimpleUploadedFile("a.wav", b"RIFF....WAVEfmt ", content_type="audio/wav")


def test_audio_is_not_kept_by_default(played, settings) -> None:
    assert settings.STORE_AUDIO is False
    attempt = Attempt.objects.first()
    assert attempt is not None
    assert audio_store(attempt=attempt, upload=clip()) is None
    assert not StoredAudio.objects.exists()


def test_purge_audio_older_than(played, settings) -> None:
    settings.STORE_AUDIO = True
    old, new = Attempt.objects.all()[:2]
    audio_store(attempt=old, upload=clip())
    audio_store(attempt=new, upload=clip())
    StoredAudio.objects.filter(attempt=old).update(created_at=timezone.now() - timedelta(days=40))
    call_command("purge_audio", "--older-than", "30")
    assert list(StoredAudio.objects.values_list("attempt_id", flat=True)) == [new.pk]
    call_command("purge_audio", "--older-than", "0")
    assert not StoredAudio.objects.exists()


def test_purge_transcripts_keeps_the_figures(played) -> None:
    session = played.sessions["cy"]
    PartialTranscript.objects.create(
        session=session,
        turn_index=0,
        utterance="00000000-0000-0000-0000-000000000001",
        seq=1,
        transcript="je",
        confidence=0.5,
        audio_ms=100,
        latency_ms=50,
    )
    SessionEvent.objects.create(
        session=session, seq=1, type="partial", payload={"transcript": "je"}
    )
    Attempt.objects.update(evidence={"transcript": "secret", "verdict": {"rule": "x"}})
    old = timezone.now() - timedelta(days=400)
    PartialTranscript.objects.update(created_at=old)
    SessionEvent.objects.update(created_at=old)
    call_command("purge_transcripts", "--older-than", "365")
    assert not PartialTranscript.objects.exists()
    assert not SessionEvent.objects.exists()
    # Attempts in the set are from 2026-01: older than a year only if today is past it.
    call_command("purge_transcripts", "--older-than", "0")
    assert set(Attempt.objects.values_list("transcript", flat=True)) == {""}
    assert {str(e) for e in Attempt.objects.values_list("evidence", flat=True)} == {
        "{'verdict': {'rule': 'x'}}"
    }
    assert Attempt.objects.filter(outcome="correct").count() == 7


def test_delete_learner_data_leaves_no_row_behind(played, settings) -> None:
    settings.STORE_AUDIO = True
    cy = played.sessions["cy"]
    learner = cy.learner
    audio_store(attempt=cy.attempts.first(), upload=clip())
    PartialTranscript.objects.create(
        session=cy,
        turn_index=0,
        utterance="00000000-0000-0000-0000-000000000001",
        seq=1,
        transcript="je",
        confidence=0.5,
        audio_ms=100,
        latency_ms=50,
    )
    SessionEvent.objects.create(session=cy, seq=1, type="ready", payload={})
    connection = StreamConnection.objects.create(learner=learner, session=cy)
    StreamSample.objects.create(connection=connection, kind="rtt", value_ms=40, at=timezone.now())
    others = {
        "sessions": Session.objects.exclude(learner=learner).count(),
        "attempts": Attempt.objects.exclude(session__learner=learner).count(),
        "ledger": ScoreEvent.objects.exclude(session__learner=learner).count(),
    }

    call_command("delete_learner_data", learner.username)

    assert not Session.objects.filter(learner=learner).exists()
    assert not Attempt.objects.filter(session__learner=learner).exists()
    assert not ScoreEvent.objects.filter(session__learner=learner).exists()
    assert not SessionEvent.objects.filter(session__learner=learner).exists()
    assert not PartialTranscript.objects.filter(session__learner=learner).exists()
    assert not StoredAudio.objects.exists()
    assert not Dispute.objects.exists()  # the set's one dispute was cy's
    assert not StreamConnection.objects.exists()
    assert not StreamSample.objects.exists()
    assert others == {
        "sessions": Session.objects.count(),
        "attempts": Attempt.objects.count(),
        "ledger": ScoreEvent.objects.count(),
    }
    assert get_user_model().objects.filter(pk=learner.pk).exists()
    call_command("delete_learner_data", "ana", "--delete-account")
    assert not get_user_model().objects.filter(username="ana").exists()
    with pytest.raises(CommandError):
        call_command("delete_learner_data", "nobody")


def test_the_ledger_still_refuses_ordinary_deletes_and_updates(played) -> None:
    for change in (
        lambda: ScoreEvent.objects.all().delete(),
        lambda: ScoreEvent.objects.update(score_delta=99),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            change()
