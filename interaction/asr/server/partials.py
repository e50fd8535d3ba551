"""Fast, honest partials for Parley's streaming clients: short-window greedy decodes.

WhisperLive's streaming loop waits for a second of audio, then decodes it through
`transcribe()` on a 30 s padded window (beam 5 by default), over and over. For a Parley
streaming client this module replaces that loop with its own thread:

- the first partial as soon as `first_s` (0.5 s) of speech is in (Silero VAD), then one
  every `every_s` (0.3 s) of new audio;
- the encoder on the speech only, padded to a *short* window (`window_s`, 5 s: partials
  decide nothing, the evidence pass does, on its own 10 s window), with the evidence pass's
  own helpers (`interaction.asr.server.evidence`: window, features, loop cut);
- one greedy decode forced to the connection's language, **no prompt, no hotwords**,
  capped in tokens by the speech's length; a loop guard cuts a run of repeats ("À emporter.
  À emporter. À emporter.…"), so a looping partial is never shown;
- the same segment message WhisperLive sends (`{"uid", "segments": [{start, end, text,
  completed, words}]}`), plus the decode's `no_speech_prob`, so the client's partial parsing
  stays as it is.

The shared model: every decode takes the model lock with `ModelLock.acquire_yielding`, which
lets any other waiter (an evaluate, a final pass, another connection's stock decode) go
first, and releases it between decodes: a verdict waits at most for one short decode.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper.audio import pad_or_trim
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_suppressed_tokens
from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

from .evidence import (
    MAX_FRAMES,
    MAX_NEW_TOKENS,
    SAMPLE_RATE,
    TOKENS_BASE,
    TOKENS_PER_SECOND,
    cut_loop,
    window_frames,
)
from .locking import MODEL_LOCK_TIMEOUT_S, ModelLock

logger = logging.getLogger(__name__)

STOCK_THREAD_JOIN_S = 2.0
POLL_S = 0.05
REPEAT_MIN_PERIOD = 4
NEW_SPEECH_S = 0.1
RECHECK_S = 0.1
"""A decode needs this much more speech (VAD) than the last one: none during a pause."""


@dataclass(frozen=True)
class PartialTimings:
    """Seconds: speech before the first partial, new audio between two, encoder window."""

    first_s: float = 0.5
    every_s: float = 0.3
    window_s: float = 5.0


@dataclass(frozen=True)
class Decoded:
    """One partial decode: text, word probabilities (0..1), and what it cost (ms)."""

    text: str
    words: list[dict[str, Any]]
    no_speech_prob: float
    looped: bool
    speech_s: float
    decode_ms: float
    lock_wait_ms: float


def start_partials(
    client: Any, *, lock: Any, timings: PartialTimings | None = None
) -> threading.Thread:
    """Stop WhisperLive's streaming loop for `client` and start Parley's in its place.

    `client` is WhisperLive's ServeClientFasterWhisper, its stock thread just started and
    idle (no audio has arrived yet). `lock`: the shared model's lock (None: no sharing).
    The new thread becomes `client.trans_thread`, so the finalizer's join still works.
    """
    stock = getattr(client, "trans_thread", None)
    client.exit = True
    client.frames_ready.set()
    if stock is not None and stock is not threading.current_thread():
        stock.join(timeout=STOCK_THREAD_JOIN_S)
    client.exit = False
    client.frames_ready.clear()
    streamer = PartialStreamer(client, lock=lock, timings=timings or PartialTimings())
    thread = threading.Thread(
        target=streamer.run, name=f"parley-partials {client.client_uid}", daemon=True
    )
    client.trans_thread = thread
    thread.start()
    return thread


class PartialStreamer:
    """The partial loop of one connection (one utterance)."""

    def __init__(self, client: Any, *, lock: Any, timings: PartialTimings) -> None:
        self.client = client
        self.lock = lock
        self.timings = timings
        self.vad = VadOptions()
        self._next_check = round(timings.first_s * SAMPLE_RATE)  # samples of audio
        self._decoded_speech = 0

    def run(self) -> None:
        client = self.client
        while not client.exit:
            client.frames_ready.wait(timeout=POLL_S)
            client.frames_ready.clear()
            if client.exit:
                break
            audio = self._audio()
            if audio is None or not self._due(audio.size):
                continue
            try:
                decoded = self.decode(audio)
            except TimeoutError as exc:
                logger.warning("partial skipped for %s: %s", client.client_uid, exc)
                continue
            except Exception:
                logger.exception("partial decode failed for %s", client.client_uid)
                time.sleep(self.timings.every_s)
                continue
            if decoded is None:
                # Not enough speech yet: look again soon; a pause: at the partial pace.
                wait = self.timings.every_s if self._decoded_speech else RECHECK_S
                self._next_check = audio.size + round(wait * SAMPLE_RATE)
                continue
            self._next_check = audio.size + round(self.timings.every_s * SAMPLE_RATE)
            if decoded.text and decoded.no_speech_prob <= client.no_speech_thresh:
                client.send_transcription_to_client([self._segment(decoded, audio.size)])

    def _audio(self) -> np.ndarray | None:
        with self.client.lock:
            frames = self.client.frames_np
            return None if frames is None else frames.copy()

    def _due(self, samples: int) -> bool:
        return samples >= self._next_check

    def decode(self, audio: np.ndarray) -> Decoded | None:
        """A greedy, unprompted decode of the speech in `audio`; None: not enough speech yet."""
        started = time.perf_counter()
        chunks = get_speech_timestamps(audio, self.vad)
        speech_samples = sum(c["end"] - c["start"] for c in chunks)
        if speech_samples < self.timings.first_s * SAMPLE_RATE:
            return None
        if speech_samples - self._decoded_speech < NEW_SPEECH_S * SAMPLE_RATE:
            return None  # trailing silence: nothing new to say, and a verdict may be due
        self._decoded_speech = speech_samples
        speech = np.concatenate(collect_chunks(audio, chunks)[0])
        speech_s = speech.size / SAMPLE_RATE
        model = self.client.transcriber
        features = model.feature_extractor(speech)[..., :-1]
        window = window_frames(min(int(features.shape[-1]), MAX_FRAMES), self.timings.window_s)
        batch = np.ascontiguousarray(pad_or_trim(features, window)[np.newaxis], dtype=np.float32)
        whisper: ctranslate2.models.Whisper = model.model
        multilingual = bool(whisper.is_multilingual)
        language = (self.client.language or "en") if multilingual else "en"
        tokenizer = Tokenizer(
            model.hf_tokenizer, multilingual, task="transcribe", language=language
        )
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        max_new = min(MAX_NEW_TOKENS, TOKENS_BASE + math.ceil(TOKENS_PER_SECOND * speech_s))
        waited = time.perf_counter()
        with yielding(self.lock):
            lock_wait_ms = (time.perf_counter() - waited) * 1000
            result = whisper.generate(
                ctranslate2.StorageView.from_array(batch),
                [prompt],
                beam_size=1,
                max_length=len(prompt) + max_new,
                return_no_speech_prob=True,
                return_logits_vocab=True,
                suppress_blank=True,
                suppress_tokens=list(get_suppressed_tokens(tokenizer, [-1]) or ()),
            )[0]
        sequence = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        tokens, looped = cut_loop(sequence)
        tokens, repeated = cut_repeat(tokens)
        looped = looped or repeated
        if len(result.sequences_ids[0]) >= max_new and not looped:
            looped = True  # ran to the cap: the tail is the decoder's, not the learner's
            tokens = tokens[: max(0, len(tokens) - 1)]
        probabilities = _token_probabilities(result, sequence)[: len(tokens)]
        return Decoded(
            text=tokenizer.decode(tokens).strip(),
            words=_words(tokenizer, tokens, probabilities, speech_s),
            no_speech_prob=float(result.no_speech_prob),
            looped=looped,
            speech_s=round(speech_s, 3),
            decode_ms=round((time.perf_counter() - started) * 1000, 1),
            lock_wait_ms=round(lock_wait_ms, 1),
        )

    def _segment(self, decoded: Decoded, samples: int) -> dict[str, Any]:
        end = samples / SAMPLE_RATE
        segment = self.client.format_segment(0.0, end, decoded.text, completed=False)
        segment["words"] = decoded.words
        segment["no_speech_prob"] = round(decoded.no_speech_prob, 4)
        return dict(segment)


def cut_repeat(tokens: list[int], *, min_period: int = REPEAT_MIN_PERIOD) -> tuple[list[int], bool]:
    """`tokens` cut after the first copy of a block (at least `min_period` tokens) said twice
    in a row ("Nach München, bitte. Nach München, bitte."): on a short window the decoder
    restarts the sentence; the evidence pass's `cut_loop` only cuts three copies or more."""
    for start in range(len(tokens)):
        for period in range(min_period, (len(tokens) - start) // 2 + 1):
            block = tokens[start : start + period]
            if tokens[start + period : start + 2 * period] == block:
                return tokens[: start + period], True
    return tokens, False


@contextlib.contextmanager
def yielding(lock: Any) -> Iterator[None]:
    """Hold the model lock for one partial decode, behind any other waiter."""
    if lock is None:
        yield
        return
    if isinstance(lock, ModelLock):
        acquired = lock.acquire_yielding(timeout=MODEL_LOCK_TIMEOUT_S)
    else:
        acquired = lock.acquire(timeout=MODEL_LOCK_TIMEOUT_S)
    if not acquired:
        raise TimeoutError(f"the shared model stayed busy for {MODEL_LOCK_TIMEOUT_S:g} s")
    try:
        yield
    finally:
        lock.release()


def _token_probabilities(result: Any, sequence: list[int]) -> list[float]:
    """Probability (0..1) of each chosen token, from the greedy decode's per-step logits."""
    steps = getattr(result, "logits", None) or ()
    out: list[float] = []
    rows = steps[0] if steps and isinstance(steps[0], list) else steps
    for token, logits in zip(sequence, rows, strict=False):
        values = np.asarray(logits, dtype=np.float64).reshape(-1)
        top = float(values.max())
        log_total = top + math.log(float(np.exp(values - top).sum()))
        out.append(math.exp(float(values[token]) - log_total))
    return out


def _words(
    tokenizer: Tokenizer, tokens: list[int], probabilities: list[float], speech_s: float
) -> list[dict[str, Any]]:
    """Words with their probability (product of their tokens', as faster-whisper's) and
    times spread evenly over the speech (a partial has no alignment; the final has one)."""
    if not tokens:
        return []
    words, word_tokens = tokenizer.split_to_word_tokens([*tokens, tokenizer.eot])
    spoken: list[tuple[str, float]] = []
    index = 0
    for word, pieces in zip(words, word_tokens, strict=True):
        chunk = probabilities[index : index + len(pieces)]
        index += len(pieces)
        if not word.strip() or any(t >= tokenizer.eot for t in pieces):
            continue
        spoken.append((word, float(np.prod(chunk)) if len(chunk) == len(pieces) else 0.0))
    step = speech_s / len(spoken) if spoken else 0.0
    return [
        {
            "word": word,
            "start": round(step * number, 3),
            "end": round(step * (number + 1), 3),
            "probability": round(probability, 4),
        }
        for number, (word, probability) in enumerate(spoken)
    ]


__all__ = ["PartialStreamer", "PartialTimings", "cut_repeat", "start_partials"]
