"""The WhisperLive server Parley runs (`manage.py run_asr_server`), with a final pass.

Stock WhisperLive streams revised segments while audio arrives, but on `END_OF_AUDIO` it
closes at once and drops whatever it had not yet marked completed. We keep its protocol and
use its own extension hook, `transcript_finalizer`, which runs once when `END_OF_AUDIO`
arrives while the socket is still open: for a client that sent a `"parley"` key in its
options, the finalizer stops the client's streaming loop and runs a **final pass over the
whole utterance's audio**:

1. unbiased audio language ID (Whisper's `detect_language` on the speech VAD kept), the
   evidence for the wrong-language check — never the biased transcript, which translates;
2. a transcription forced to the connection's language, with word timestamps, Silero VAD,
   and the turn's accepted answers as `initial_prompt` or `hotwords` (this pass only);
   decoding is capped (no temperature fallback, `max_new_tokens` from the audio length),
   because a wrong forced language can loop the decoder for seconds.

The result goes back as one `{"type": "parley.final", ...}` message (docs/asr.md), then the
server closes the connection as usual. Clients without the `"parley"` key get stock
behaviour.

One model is loaded and warmed before the socket opens (`single_model`), shared by every
connection behind WhisperLive's `SINGLE_MODEL_LOCK`; CPU int8 by default, CUDA float16
when CTranslate2 sees a GPU. Nothing is downloaded: `HF_HUB_OFFLINE=1` is set before the
Hugging Face libraries load.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps
from whisper_live.backend.faster_whisper_backend import ServeClientFasterWhisper
from whisper_live.server import TranscriptionServer
from whisper_live.transcriber.transcriber_faster_whisper import WhisperModel

from .models import ensure_model
from .types import SAMPLE_RATE
from .whisperlive import BIAS_MODES, FINAL_TYPE, PARLEY_OPTIONS_KEY

logger = logging.getLogger(__name__)

READY_MARKER = "parley-asr ready"
"""Printed (stdout) once the socket listens, with the ws:// URL: test fixtures wait for it."""

TOP_LANGUAGES = 5
MAX_BIAS_PHRASES = 32
MAX_BIAS_CHARS = 800
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
STREAM_JOIN_TIMEOUT_S = 10.0
# Streaming passes only feed partials (the verdict comes from the final pass): greedy, no
# temperature fallback. WhisperLive's defaults (beam 5 with fallback re-decodes) make each
# pass slower, which delays both the next partial and the final pass that waits for it.
PARTIAL_DECODE = {"beam_size": 1, "best_of": 1, "temperature": 0.0}
MODEL_LOCK_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class FinalPassOptions:
    """The `"parley"` connection options, validated leniently (never reject a connection)."""

    language: str | None
    bias_phrases: tuple[str, ...] = ()
    bias_mode: str = "none"
    detect_language: bool = True
    streaming: bool = True

    @classmethod
    def from_connection(cls, options: Mapping[str, Any]) -> FinalPassOptions | None:
        """None when the client did not ask for a final pass (a stock WhisperLive client)."""
        raw = options.get(PARLEY_OPTIONS_KEY)
        if not isinstance(raw, Mapping):
            return None
        language = options.get("language")
        phrases: list[str] = []
        budget = MAX_BIAS_CHARS
        raw_phrases = raw.get("bias_phrases")
        for phrase in raw_phrases if isinstance(raw_phrases, list | tuple) else ():
            text = str(phrase).strip()
            if not text or len(phrases) >= MAX_BIAS_PHRASES or len(text) > budget:
                continue
            phrases.append(text)
            budget -= len(text)
        bias_mode = raw.get("bias_mode", "none")
        if bias_mode not in BIAS_MODES or not phrases:
            bias_mode = "none"
        return cls(
            language=language if isinstance(language, str) and language else None,
            bias_phrases=tuple(phrases) if bias_mode != "none" else (),
            bias_mode=bias_mode,
            detect_language=bool(raw.get("detect_language", True)),
            streaming=bool(raw.get("streaming", True)),
        )

    def decode_bias(self) -> dict[str, str]:
        """faster-whisper keyword arguments carrying the bias phrases, if any."""
        if self.bias_mode == "none" or not self.bias_phrases:
            return {}
        joined = " ".join(p if p[-1] in ".!?…" else p + "." for p in self.bias_phrases)
        return {self.bias_mode: joined}


def final_pass(
    model: WhisperModel,
    audio: np.ndarray,
    options: FinalPassOptions,
    *,
    lock: threading.Lock | None = None,
) -> dict[str, Any]:
    """Language ID + forced, optionally biased transcription of one utterance's audio.

    Returns the `parley.final` message body (docs/asr.md). Times in seconds; `asr_ms` is
    the wall time of this pass including any wait for the shared model.
    """
    started = time.perf_counter()
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    payload: dict[str, Any] = {
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
    vad = VadOptions()
    speech = get_speech_timestamps(audio, vad) if audio.size else []
    if speech:
        speech_audio = np.concatenate(collect_chunks(audio, speech)[0])
        payload["speech_s"] = round(speech_audio.size / SAMPLE_RATE, 3)
        max_new_tokens = min(
            MAX_NEW_TOKENS, TOKENS_BASE + int(TOKENS_PER_SECOND * payload["speech_s"])
        )
        with _holding(lock), _encoder_reused(model):
            if options.detect_language and model.model.is_multilingual:
                # The same mel frames transcribe() will encode for its first window (it drops
                # the last frame), so the encoder runs once for both passes.
                features = model.feature_extractor(speech_audio)
                _, _, probabilities = model.detect_language(features=features[..., :-1])
                top = [(lang, float(p)) for lang, p in probabilities[:TOP_LANGUAGES]]
                payload["language"], payload["language_probability"] = top[0]
                payload["language_probabilities"] = {lang: round(p, 4) for lang, p in top}
            language = options.language or payload["language"]
            if not model.model.is_multilingual:
                language = "en"
            payload["transcript_language"] = language
            segments, _info = model.transcribe(
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
            segments = list(segments or ())
        payload["segments"] = [_segment_dict(s) for s in segments or ()]
        payload["text"] = " ".join(s["text"] for s in payload["segments"] if s["text"])
    payload["no_speech"] = not any(s["text"] for s in payload["segments"])
    payload["asr_ms"] = round((time.perf_counter() - started) * 1000)
    return payload


def _segment_dict(segment: Any) -> dict[str, Any]:
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


@contextlib.contextmanager
def _holding(lock: threading.Lock | None) -> Iterator[None]:
    if lock is None:
        yield
        return
    if not lock.acquire(timeout=MODEL_LOCK_TIMEOUT_S):
        raise TimeoutError(f"the shared model stayed busy for {MODEL_LOCK_TIMEOUT_S:g} s")
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _encoder_reused(model: WhisperModel) -> Iterator[None]:
    """Let language ID and transcription share one encoder run over identical features.

    The encoder is most of a short utterance's cost (~0.6 s of ~1.5 s for base on 2 CPU
    cores). Only valid while the caller holds the model (the shared-model lock).
    """
    encode = model.encode
    last: list[tuple[np.ndarray, Any]] = []

    def encode_once(features: np.ndarray) -> Any:
        if last and last[0][0].shape == features.shape and np.array_equal(last[0][0], features):
            return last[0][1]
        output = encode(features)
        last[:] = [(np.array(features, copy=True), output)]
        return output

    model.encode = encode_once  # type: ignore[method-assign]
    try:
        yield
    finally:
        del model.encode  # back to the class's method


class ParleyTranscriptionServer(TranscriptionServer):
    """WhisperLive's server, plus a final pass per Parley connection at END_OF_AUDIO."""

    def initialize_client(self, websocket, options, *args, **kwargs):  # type: ignore[override]
        super().initialize_client(websocket, options, *args, **kwargs)
        client = self.client_manager.get_client(websocket)
        final_options = FinalPassOptions.from_connection(options)
        if not client or final_options is None:
            return
        if not final_options.streaming:
            # A whole clip (time-stop): partial decodes would only delay the final pass.
            client.exit = True
            client.frames_ready.set()
        else:
            client.transcribe_audio = functools.partial(_partial_pass, client)
        client.transcript_finalizer = functools.partial(
            self._finalize_client, client, final_options
        )

    def _finalize_client(
        self, client: ServeClientFasterWhisper, options: FinalPassOptions, _transcript: list
    ) -> dict[str, Any]:
        client.exit = True
        client.frames_ready.set()
        thread = getattr(client, "trans_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STREAM_JOIN_TIMEOUT_S)
        with client.lock:
            audio = client.frames_np.copy() if client.frames_np is not None else None
        if audio is None:
            audio = np.zeros(0, dtype=np.float32)
        lock = ServeClientFasterWhisper.SINGLE_MODEL_LOCK if self.single_model else None
        try:
            payload = final_pass(client.transcriber, audio, options, lock=lock)
        except Exception as exc:
            logger.exception("final pass failed for client %s", client.client_uid)
            return {"type": FINAL_TYPE, "error": f"final pass failed: {exc}"}
        logger.info(
            "final pass %s: %.1f s audio, %d ms, language %s, no_speech=%s",
            client.client_uid,
            payload["audio_s"],
            payload["asr_ms"],
            payload["language"],
            payload["no_speech"],
        )
        return payload


def _partial_pass(client: ServeClientFasterWhisper, input_sample: np.ndarray) -> list[Any]:
    """WhisperLive's streaming decode (ServeClientFasterWhisper.transcribe_audio, lock path)
    with PARTIAL_DECODE options."""
    lock = (
        ServeClientFasterWhisper.SINGLE_MODEL_LOCK
        if ServeClientFasterWhisper.SINGLE_MODEL
        else None
    )
    with _holding(lock):
        segments, info = client.transcriber.transcribe(
            input_sample,
            initial_prompt=client.initial_prompt,
            language=client.language,
            task=client.task,
            vad_filter=client.use_vad,
            vad_parameters=client.vad_parameters if client.use_vad else None,
            hotwords=client.hotwords,
            word_timestamps=client.word_timestamps,
            **PARTIAL_DECODE,
        )
        segments = list(segments or ())
    if client.language is None and info is not None:
        client.set_language(info)
    return segments


def pick_device(device: str = "auto") -> tuple[str, str]:
    """(device, compute_type): CUDA float16 when CTranslate2 sees a GPU, else CPU int8."""
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    return device, "float16" if device == "cuda" else "int8"


def load_model(path: Path, *, device: str, compute_type: str, cpu_threads: int = 0) -> WhisperModel:
    """Load the model from a local directory and run it once, so no client pays for that."""
    if cpu_threads <= 0:
        cpu_threads = min(os.cpu_count() or 1, 8)
    model = WhisperModel(
        str(path),
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        local_files_only=True,
    )
    rng = np.random.default_rng(0)
    noise = (0.01 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)
    get_speech_timestamps(noise, VadOptions())  # loads Silero
    if model.model.is_multilingual:
        model.detect_language(audio=noise)
    model.transcribe(noise, language="en", beam_size=1, temperature=0.0, word_timestamps=True)
    return model


def run(
    host: str = "127.0.0.1",
    port: int = 9090,
    model: str = "base",
    max_clients: int = 4,
    *,
    model_dir: Path | None = None,
    device: str = "auto",
    cpu_threads: int = 0,
    max_connection_time: int = 600,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Load and warm the model, then serve WhisperLive's protocol until interrupted.

    `announce` gets the READY_MARKER line once the socket listens (default: stdout).
    """
    announce = announce or functools.partial(print, flush=True)
    started = time.perf_counter()
    path = ensure_model(model, model_dir)
    device, compute_type = pick_device(device)
    transcriber = load_model(
        path, device=device, compute_type=compute_type, cpu_threads=cpu_threads
    )
    ServeClientFasterWhisper.SINGLE_MODEL = transcriber
    load_s = time.perf_counter() - started
    url = f"ws://{host}:{port}"
    _announce_when_listening(
        lambda: announce(
            f"{READY_MARKER} {url} model={model} device={device} "
            f"compute={compute_type} load_s={load_s:.1f}"
        )
    )
    ParleyTranscriptionServer().run(
        host,
        port=port,
        backend="faster_whisper",
        faster_whisper_custom_model_path=str(path),
        single_model=True,
        max_clients=max_clients,
        max_connection_time=max_connection_time,
    )


def _announce_when_listening(callback: Callable[[], None]) -> None:
    """Call `callback` once the websockets server logs that it listens (i.e. after bind)."""

    class _Listening(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("server listening on"):
                server_logger.removeHandler(self)
                callback()

    server_logger = logging.getLogger("websockets.server")
    if server_logger.getEffectiveLevel() > logging.INFO:
        server_logger.setLevel(logging.INFO)
    server_logger.addHandler(_Listening(level=logging.INFO))
