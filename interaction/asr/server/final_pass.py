"""The final pass: one utterance's whole audio in, the `parley.final` message out.

1. Silero VAD; no speech → `no_speech: true`, nothing else runs;
2. unbiased audio language ID (Whisper's `detect_language` on the speech VAD kept), the
   evidence for the wrong-language check — never the biased transcript, which translates;
3. a transcription forced to the connection's language, with word timestamps, Silero VAD,
   and the turn's accepted answers as `initial_prompt` or `hotwords` (this pass only);
   decoding is capped (no temperature fallback, `max_new_tokens` from the audio length),
   because a wrong forced language can loop the decoder for seconds.

Self-contained on purpose: `final_pass(model, audio, options)` is the whole contract the
server (`transcription_server`) relies on, so another pass can replace this module.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

from ..types import SAMPLE_RATE
from ..wire import FINAL_TYPE, FinalMessage, FinalSegment
from .encoder import encoder_reused
from .locking import holding
from .options import FinalPassOptions

TOP_LANGUAGES = 5
FINAL_BEAM_SIZE = 5
# Decode cap for the final pass: generous for speech (~3-5 tokens/s plus timestamps), and
# far below the 448-token loop a wrong forced language can fall into. The prompt (at most
# 224 tokens of bias) plus this must stay within Whisper's 448.
TOKENS_BASE = 16
TOKENS_PER_SECOND = 10
MAX_NEW_TOKENS = 200
# With the accepted answers as prompt, base on CPU continued 3 of 8 padded espeak-ng clips
# with an invented looping sentence ("C'est la première fois que la première fois que…");
# forbidding any repeated 6-token run stopped all 3 and cut decode time. Six tokens leave
# short legitimate repeats ("un café et un thé") alone.
NO_REPEAT_NGRAM_SIZE = 6


def final_pass(
    model: Any,
    audio: np.ndarray,
    options: FinalPassOptions,
    *,
    lock: threading.Lock | None = None,
) -> FinalMessage:
    """Language ID + forced, optionally biased transcription of one utterance's audio.

    `model`: a faster-whisper `WhisperModel` (whisper-live's or stock). `lock`: the shared
    model's lock, held for the decode. Returns the `parley.final` message body
    (docs/asr.md). Times in seconds; `asr_ms` is the wall time of this pass including any
    wait for the shared model.
    """
    started = time.perf_counter()
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    payload: FinalMessage = {
        "type": FINAL_TYPE,
        "segments": [],
        "text": "",
        "language": None,
        "language_probability": None,
        "language_probabilities": {},
        "transcript_language": options.language,
        "bias_mode": options.bias_mode,
        "audio_s": round(audio.size / SAMPLE_RATE, 3),
        "speech_s": 0.0,
        "no_speech": True,
    }
    segments: list[FinalSegment] = []
    vad = VadOptions()
    speech = get_speech_timestamps(audio, vad) if audio.size else []
    if speech:
        speech_audio = np.concatenate(collect_chunks(audio, speech)[0])
        speech_s = round(speech_audio.size / SAMPLE_RATE, 3)
        payload["speech_s"] = speech_s
        max_new_tokens = min(MAX_NEW_TOKENS, TOKENS_BASE + int(TOKENS_PER_SECOND * speech_s))
        detected: str | None = None
        with holding(lock), encoder_reused(model):
            if options.detect_language and model.model.is_multilingual:
                # The same mel frames transcribe() will encode for its first window (it drops
                # the last frame), so the encoder runs once for both passes.
                features = model.feature_extractor(speech_audio)
                _, _, probabilities = model.detect_language(features=features[..., :-1])
                top = [(lang, float(p)) for lang, p in probabilities[:TOP_LANGUAGES]]
                detected, payload["language_probability"] = top[0]
                payload["language"] = detected
                payload["language_probabilities"] = {lang: round(p, 4) for lang, p in top}
            language = options.language or detected
            if not model.model.is_multilingual:
                language = "en"
            payload["transcript_language"] = language
            decoded, _info = model.transcribe(
                audio,
                language=language,
                task="transcribe",
                beam_size=FINAL_BEAM_SIZE,
                temperature=0.0,
                condition_on_previous_text=False,
                no_repeat_ngram_size=NO_REPEAT_NGRAM_SIZE,
                word_timestamps=True,
                vad_filter=True,
                vad_parameters=vad,
                max_new_tokens=max_new_tokens,
                **options.decode_bias(),
            )
            # Decode now, under the lock and with the shared encoder output: faster-whisper's
            # own transcribe() returns a lazy generator (whisper-live's returns a list).
            segments = [_segment_dict(s) for s in decoded or ()]
        payload["segments"] = segments
        payload["text"] = " ".join(s["text"] for s in segments if s["text"])
    payload["no_speech"] = not any(s["text"] for s in segments)
    payload["asr_ms"] = round((time.perf_counter() - started) * 1000)
    return payload


def _segment_dict(segment: Any) -> FinalSegment:
    return {
        "start": round(float(segment.start), 3),
        "end": round(float(segment.end), 3),
        "text": segment.text.strip(),
        "avg_logprob": round(float(segment.avg_logprob), 4),
        "no_speech_prob": round(float(segment.no_speech_prob), 4),
        "words": [
            {
                "word": w.word,
                "start": round(float(w.start), 3),
                "end": round(float(w.end), 3),
                "probability": round(float(w.probability), 4),
            }
            for w in segment.words or ()
        ],
    }
