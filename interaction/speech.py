"""Spoken time-stop answers: decode the upload, recognise it, turn it into an `Answer`.

The recognition runs before the session lock (the evidence pass, a few hundred ms) and scores
the accepted answers of the turn due when it started against the audio (never as a prompt);
`attempt_record` then judges the turn that is due under the lock, exactly as for streamed
answers.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.conf import settings

from interaction.asr import get_provider
from interaction.asr.audio import decode_upload
from interaction.asr.types import SAMPLE_RATE, RecognitionOptions
from interaction.models import Session
from interaction.selectors import learner_other_languages_get
from interaction.services import Answer, answer_from_hypothesis
from scenarios.selectors import turn_answer_texts
from telemetry import metrics


def recognition_options(*, session: Session) -> RecognitionOptions:
    """Forced to the target language, suspecting the learner's other languages; the turn's
    accepted answers are the candidates the evidence pass scores."""
    return RecognitionOptions(
        language=session.scenario.language,
        other_languages=learner_other_languages_get(learner=session.learner),
        candidates=turn_answer_texts(scenario_id=session.scenario_id, order=session.turn_index),
    )


def answer_from_audio(
    *, session: Session, data: bytes, content_type: str | None, filename: str | None
) -> Answer:
    """Decode (AudioError: 400/413/415) and recognise (AsrError) one uploaded answer."""
    samples = decode_upload(
        data,
        content_type=content_type,
        filename=filename,
        max_bytes=settings.ASR_MAX_UPLOAD_BYTES,
        max_seconds=settings.ASR_MAX_CLIP_SECONDS,
    )
    hypothesis = async_to_sync(get_provider().transcribe)(
        samples.tobytes(), recognition_options(session=session)
    )
    metrics.ASR_SECONDS.labels("time_stop").observe(hypothesis.asr_ms / 1000)
    return answer_from_hypothesis(hypothesis, audio_ms=round(samples.size * 1000 / SAMPLE_RATE))
