"""Spoken time-stop answers: decode the upload, recognise it, turn it into an `Answer`.

The recognition runs before the session lock (the evidence pass, a few hundred ms) and scores
the accepted answers of the turn due when it started against the audio (never as a prompt);
`attempt_record` then judges the turn that is due under the lock, exactly as for streamed
answers.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings

from interaction.asr import get_provider
from interaction.asr.audio import decode_upload
from interaction.asr.types import SAMPLE_RATE, RecognitionOptions
from interaction.models import Session
from interaction.selectors import learner_other_languages_get
from interaction.services import Answer, answer_from_hypothesis
from scenarios.models import Scenario
from scenarios.selectors import turn_answer_texts
from telemetry import metrics


def recognition_options(*, session: Session) -> RecognitionOptions:
    """Forced to the target language, suspecting the learner's other languages; the turn's
    accepted answers are the candidates the evidence pass scores."""
    return turn_recognition_options(
        scenario=session.scenario, order=session.turn_index, learner=session.learner
    )


def turn_recognition_options(*, scenario: Scenario, order: int, learner: Any) -> RecognitionOptions:
    """`recognition_options` for the scenario's turn at `order` (0-based) and `learner`."""
    return RecognitionOptions(
        language=scenario.language,
        other_languages=learner_other_languages_get(learner=learner),
        candidates=turn_answer_texts(scenario_id=scenario.pk, order=order),
    )


def answer_from_audio(
    *, session: Session, data: bytes, content_type: str | None, filename: str | None
) -> Answer:
    """Decode (AudioError: 400/413/415) and recognise (AsrError) one uploaded answer."""
    answer = answer_from_upload(
        options=recognition_options(session=session),
        data=data,
        content_type=content_type,
        filename=filename,
    )
    metrics.ASR_SECONDS.labels("time_stop").observe((answer.asr_ms or 0) / 1000)
    return answer


def answer_from_upload(
    *, options: RecognitionOptions, data: bytes, content_type: str | None, filename: str | None
) -> Answer:
    """Decode (AudioError) and recognise (AsrError) one clip with `options`."""
    samples = decode_upload(
        data,
        content_type=content_type,
        filename=filename,
        max_bytes=settings.ASR_MAX_UPLOAD_BYTES,
        max_seconds=settings.ASR_MAX_CLIP_SECONDS,
    )
    hypothesis = async_to_sync(get_provider().transcribe)(samples.tobytes(), options)
    return answer_from_hypothesis(hypothesis, audio_ms=round(samples.size * 1000 / SAMPLE_RATE))
