"""The final pass: one utterance's audio in, the `parley.final` (or `parley.evidence`) body out.

It is the fair judge's evidence pass (`interaction.asr.server.evidence.answer_evidence`): Silero
VAD, one encoder pass on a short window, language probabilities restricted to the target
and the learner's other languages, a free transcript decoded **without any prompt or
hotwords**, and the teacher-forced scores of the accepted answers (the connection's
`candidates`). The candidates are only scored: no pass whose output decides a verdict is
ever told what the answer should be (docs/fair-judge.md).

Self-contained on purpose: `final_pass(model, audio, options)` is the whole contract the
server (`transcription_server`) relies on, for the final and for mid-stream evaluations.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from ..wire import FINAL_TYPE, FinalMessage
from .evidence import answer_evidence
from .options import FinalPassOptions

FALLBACK_LANGUAGE = "en"
"""The target when a client named none (the English-only model's language, too)."""


def final_pass(
    model: Any,
    audio: np.ndarray,
    options: FinalPassOptions,
    *,
    lock: threading.Lock | None = None,
    message_type: str = FINAL_TYPE,
) -> FinalMessage:
    """The evidence for one utterance's audio (16 kHz mono float32), as a wire message.

    `model`: a faster-whisper `WhisperModel` (whisper-live's or stock). `lock`: the shared
    model's lock, held for the model work only. `asr_ms` is the wall time of this pass,
    including any wait for the shared model.
    """
    started = time.perf_counter()
    evidence = answer_evidence(
        model,
        np.asarray(audio, dtype=np.float32).reshape(-1),
        target_language=options.target_language or FALLBACK_LANGUAGE,
        other_languages=options.other_languages,
        accepted_answers=options.candidates,
        lock=lock,
    )
    return {
        "type": message_type,
        "evidence": evidence,
        "asr_ms": round((time.perf_counter() - started) * 1000),
    }
