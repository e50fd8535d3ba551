"""StreamingSession: one learner's live stream, behind the thin /stream/interaction consumer.

Audio goes to the ASR as it arrives, from a task of its own (the consumer's receive path only
converts and enqueues). Partial hypotheses become throttled `partial` events; an utterance
ends by the stop gesture, by trailing silence, or by auto-finalise (a partial at the
scenario's confidence threshold that matches an accepted answer). Judging and recording go
through `attempt_record`, the time-stop path, and the resulting events are stored in the same
transaction before they are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from channels.db import database_sync_to_async
from django.conf import settings

from interaction import stream_services
from interaction.asr.audio import PcmResampler
from interaction.asr.stream_audio import ContainerStreamDecoder
from interaction.asr.types import (
    AsrError,
    AsrProvider,
    Hypothesis,
    RecognitionOptions,
)
from interaction.events import (
    Standing,
    error_event,
    partial_event,
    ready_event,
    reset_event,
)
from interaction.judging import answer_match
from interaction.services import answer_from_hypothesis
from interaction.stream_selectors import StreamContext
from interaction.stream_services import PartialRow, StreamRefused
from telemetry import metrics

logger = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]

ENCODINGS = ("pcm_s16le", "webm_opus")
SAMPLE_RATE = 16_000
PREROLL_SAMPLES = int(0.3 * SAMPLE_RATE)
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8_000, 48_000


@dataclass(frozen=True)
class StreamLimits:
    """Bounds of one stream; seconds unless named otherwise."""

    max_utterance_s: float = 30.0
    silence_end_s: float = 1.2
    min_speech_s: float = 0.3
    voice_rms: float = 0.01
    partial_interval_s: float = 0.25
    flush_interval_s: float = 1.0
    max_backlog_s: float = 10.0

    @classmethod
    def from_settings(cls) -> StreamLimits:
        return cls(**getattr(settings, "STREAM_LIMITS", {}))


class StreamError(Exception):
    """A client mistake answered with an `error` event; the stream goes on unless `fatal`."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool = False,
        fatal: bool = False,
        fallback: bool = False,
    ) -> None:
        super().__init__(message)
        self.code, self.retryable, self.fatal, self.fallback = code, retryable, fatal, fallback


@dataclass
class Utterance:
    id: str
    started: float
    audio: asyncio.Queue[bytes | None]
    sender: asyncio.Task[None] | None = None
    reader: asyncio.Task[None] | None = None
    stream: Any = None
    samples: int = 0
    voiced_samples: int = 0
    trailing_silence: int = 0
    queued_samples: int = 0  # converted audio waiting for the ASR task
    last_partial_at: float = 0.0
    last_partial_text: str = ""
    closed: bool = False
    pending_partial: Hypothesis | None = field(default=None)


class StreamingSession:
    """State and behaviour of one connection. `send` delivers an event to the client."""

    def __init__(
        self,
        *,
        learner: Any,
        provider: AsrProvider,
        send: Send,
        limits: StreamLimits | None = None,
        bias_mode: str = "none",
    ) -> None:
        self.learner = learner
        self.provider = provider
        self.send = send
        self.limits = limits or StreamLimits.from_settings()
        self.bias_mode = bias_mode
        self.owner = uuid.uuid4().hex
        self.context: StreamContext | None = None
        self.seq = 0
        self.sample_rate = 16_000
        self.encoding = "pcm_s16le"
        self.utterance: Utterance | None = None
        self._pending_events: list[dict[str, Any]] = []
        self._pending_partials: list[PartialRow] = []
        self._finalising = asyncio.Lock()
        self._emitting = asyncio.Lock()
        self._preroll: list[np.ndarray] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._finished_reported = False
        self._flusher: asyncio.Task[None] | None = None
        self._resampler: PcmResampler | ContainerStreamDecoder | None = None
        self.superseded = False

    # --- control messages -------------------------------------------------------------
    async def start(
        self,
        *,
        scenario: str | None,
        session: str | None,
        last_seq: int,
        sample_rate: int,
        encoding: str,
    ) -> None:
        if self.context is not None:
            raise StreamError("already_started", "This connection already has a session.")
        if encoding not in ENCODINGS:
            raise StreamError("bad_encoding", f"encoding must be one of {', '.join(ENCODINGS)}.")
        if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
            raise StreamError(
                "bad_sample_rate",
                f"sample_rate must be between {MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE} Hz.",
            )
        self.sample_rate, self.encoding = sample_rate, encoding
        missed: list[dict[str, Any]] = []
        try:
            if session is not None:
                self.context, missed = await database_sync_to_async(
                    stream_services.stream_session_resume
                )(learner=self.learner, session_id=session, last_seq=last_seq, owner=self.owner)
            else:
                self.context = await database_sync_to_async(stream_services.stream_session_open)(
                    learner=self.learner, scenario_slug=scenario or "", owner=self.owner
                )
        except StreamRefused as refused:
            raise StreamError(refused.code, str(refused), fallback=refused.fallback) from refused
        self.seq = self.context.event_seq
        for event in missed:
            await self.send(event)
        if not self.context.active:
            raise StreamError("session_finished", f"The session is {self.context.status}.")
        context = self.context
        await self._emit(
            lambda seq, standing: ready_event(
                seq=seq,
                standing=standing,
                turn=context.turn,
                confidence_threshold=context.confidence_threshold,
                status=context.status,
                mode=context.mode,
                resumed=session is not None,
            )
        )
        self._flusher = asyncio.create_task(self._flush_periodically(), name="stream-flush")

    async def stop(self) -> None:
        self._require_started()
        if self.utterance is None and self._finalising.locked():
            return  # the utterance is being judged already (auto-finalise or silence)
        if self.utterance is None:
            self._preroll.clear()
            await self._emit(
                lambda seq, standing: reset_event(
                    seq=seq, standing=standing, reason="no_speech", utterance=None
                )
            )
            return
        # Judging waits for the recogniser's final pass: off the receive path.
        self._spawn(self.finalise(auto=False, expected=self.utterance))

    async def reset(self, reason: str = "asked") -> None:
        self._require_started()
        utterance, self.utterance = self.utterance, None
        self._preroll.clear()
        if utterance is not None:
            await self._abandon(utterance)
        await self._emit(
            lambda seq, standing: reset_event(
                seq=seq,
                standing=standing,
                reason=reason,
                utterance=utterance.id if utterance else None,
            )
        )

    async def close(self) -> None:
        """The connection is gone: abandon the utterance, store what is pending, let go."""
        if self._flusher is not None:
            self._flusher.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self.utterance is not None:
            utterance, self.utterance = self.utterance, None
            await self._abandon(utterance)
        if self.context is not None and not self.superseded:
            with contextlib.suppress(stream_services.StreamSuperseded):
                await self._flush()
                await database_sync_to_async(stream_services.stream_session_release)(
                    session_id=self.context.session_id, owner=self.owner
                )

    # --- audio --------------------------------------------------------------------------
    async def audio(self, chunk: bytes) -> None:
        """Convert a chunk to 16 kHz float32 and queue it for the ASR task (never waits on it)."""
        context = self._require_started()
        if not context.active:
            if self._finished_reported:
                return  # said once; the rest of the microphone's audio is dropped quietly
            self._finished_reported = True
            raise StreamError("session_finished", f"The session is {context.status}.")
        if self._resampler is None:
            self._resampler = (
                PcmResampler(self.sample_rate)
                if self.encoding == "pcm_s16le"
                else ContainerStreamDecoder()
            )
        if self.encoding == "pcm_s16le" and len(chunk) % 2:
            raise StreamError("bad_audio", "pcm_s16le frames need an even number of bytes.")
        try:
            if isinstance(self._resampler, ContainerStreamDecoder):
                # Demuxing the WebM stream so far is real CPU work: off the event loop.
                samples = await asyncio.to_thread(self._resampler.push, chunk)
            else:
                samples = self._resampler.push(chunk)
        except ValueError as undecodable:
            raise StreamError("bad_audio", f"Cannot decode the audio: {undecodable}") from None
        if samples.size == 0:
            return
        voiced = self._voiced(samples)
        if self.utterance is None:
            # An utterance (and its ASR connection) starts at the first voiced chunk; a short
            # pre-roll keeps the onset that came just before it.
            self._preroll.append(samples)
            if not voiced:
                while sum(part.size for part in self._preroll) > PREROLL_SAMPLES:
                    self._preroll.pop(0)
                return
            samples = np.concatenate(self._preroll)
            self._preroll.clear()
            self.utterance = self._open_utterance()
        utterance = self.utterance
        utterance.samples += samples.size
        if voiced:
            utterance.voiced_samples += samples.size
            utterance.trailing_silence = 0
        else:
            utterance.trailing_silence += samples.size
        if utterance.samples > self.limits.max_utterance_s * SAMPLE_RATE:
            self.utterance = None
            await self._abandon(utterance)
            await self._emit_error(
                "utterance_too_long",
                f"An answer may last at most {self.limits.max_utterance_s:g} s; it was discarded.",
                retryable=True,
            )
            await self._emit(
                lambda seq, standing: reset_event(
                    seq=seq, standing=standing, reason="too_long", utterance=utterance.id
                )
            )
            return
        if utterance.queued_samples > self.limits.max_backlog_s * SAMPLE_RATE:
            raise StreamError(
                "overloaded", "Speech recognition is falling behind; try again.", retryable=True
            )
        utterance.queued_samples += samples.size
        utterance.audio.put_nowait(np.asarray(samples, dtype=np.float32).tobytes())
        heard = utterance.voiced_samples >= self.limits.min_speech_s * SAMPLE_RATE
        if heard and utterance.trailing_silence >= self.limits.silence_end_s * SAMPLE_RATE:
            self._spawn(self.finalise(auto=False, expected=utterance))

    def _voiced(self, samples: np.ndarray) -> bool:
        rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
        return rms >= self.limits.voice_rms

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            if isinstance(error, stream_services.StreamSuperseded):
                self.superseded = True
            else:
                logger.error("stream task failed", exc_info=error)

    def _open_utterance(self) -> Utterance:
        utterance = Utterance(id=uuid.uuid4().hex, started=time.monotonic(), audio=asyncio.Queue())
        utterance.sender = asyncio.create_task(self._relay(utterance), name="asr-relay")
        return utterance

    async def _relay(self, utterance: Utterance) -> None:
        """Open the ASR stream, relay queued audio, and start reading partials."""
        try:
            # An answer being judged may move the turn on: wait for it, so this utterance is
            # biased with the answers of the turn it answers.
            async with self._finalising:
                pass
            assert self.context is not None
            utterance.stream = await self.provider.open_stream(
                RecognitionOptions(
                    language=self.context.language,
                    bias_phrases=self.context.answers,
                    bias_mode=self.bias_mode,
                    bias_partials=settings.ASR_BIAS_PARTIALS,
                )
            )
            utterance.reader = asyncio.create_task(self._read(utterance), name="asr-read")
            while True:
                chunk = await utterance.audio.get()
                if chunk is None:
                    return
                utterance.queued_samples -= len(chunk) // 4
                await utterance.stream.send_audio(chunk)
        except AsrError as failed:  # AsrUnavailable included: no server took the utterance
            if not utterance.closed:
                await self._asr_failed(utterance, str(failed))

    async def _asr_failed(self, utterance: Utterance, message: str) -> None:
        if self.utterance is utterance:
            self.utterance = None
        utterance.closed = True
        logger.warning("ASR failed for session %s: %s", self._session_id(), message)
        await self._emit_error("asr_unavailable", message, retryable=True, fallback=True)
        await self._emit(
            lambda seq, standing: reset_event(
                seq=seq, standing=standing, reason="asr_unavailable", utterance=utterance.id
            )
        )

    async def _read(self, utterance: Utterance) -> None:
        """Turn partial hypotheses into throttled `partial` events; auto-finalise on a match."""
        async for hypothesis in utterance.stream.partials():
            if utterance.closed or self.context is None:
                return
            if hypothesis.text == utterance.last_partial_text:
                continue
            wait = utterance.last_partial_at + self.limits.partial_interval_s - time.monotonic()
            if wait > 0:
                if utterance.pending_partial is None:
                    self._spawn(self._partial_later(utterance, wait))
                utterance.pending_partial = hypothesis
                continue
            await self._partial(utterance, hypothesis)

    async def _partial_later(self, utterance: Utterance, wait: float) -> None:
        await asyncio.sleep(wait)
        hypothesis, utterance.pending_partial = utterance.pending_partial, None
        if hypothesis is not None and not utterance.closed:
            await self._partial(utterance, hypothesis)

    async def _partial(self, utterance: Utterance, hypothesis: Hypothesis) -> None:
        assert self.context is not None
        now = time.monotonic()
        utterance.last_partial_at, utterance.last_partial_text = now, hypothesis.text
        match = answer_match(
            hypothesis.text,
            self.context.answers,
            language=self.context.language,
            ignore_accents=settings.PARLEY_JUDGING["ignore_accents"],
        )
        matched = match.similarity >= self.context.answer_similarity
        context = self.context

        def build(seq: int, standing: Standing) -> dict[str, Any]:
            self._pending_partials.append(
                PartialRow(
                    turn_index=context.turn["index"] if context.turn else 0,
                    utterance=utterance.id,
                    seq=seq,
                    transcript=hypothesis.text,
                    confidence=hypothesis.confidence,
                    similarity=match.similarity,
                    audio_ms=hypothesis.audio_ms,
                    latency_ms=round((now - utterance.started) * 1000),
                )
            )
            return dict(
                partial_event(
                    seq=seq,
                    standing=standing,
                    utterance=utterance.id,
                    transcript=hypothesis.text,
                    confidence=round(hypothesis.confidence, 4),
                    language=context.language,
                    language_probability=None,
                    intent=match.answer if matched else None,
                    similarity=match.similarity,
                    audio_ms=hypothesis.audio_ms,
                )
            )

        await self._emit(build)
        if (
            matched
            and hypothesis.confidence >= context.confidence_threshold
            and context.standing.lives_remaining > 0
        ):
            self._spawn(self.finalise(auto=True, expected=utterance))

    # --- judging ------------------------------------------------------------------------
    async def finalise(self, *, auto: bool, expected: Utterance | None = None) -> None:
        """End the utterance and judge it through the time-stop scoring path."""
        async with self._finalising:
            utterance = self.utterance
            if utterance is None or (expected is not None and utterance is not expected):
                return  # already judged (a stop and an auto-finalise raced)
            self.utterance = None
            utterance.audio.put_nowait(None)
            try:
                if utterance.sender is not None:
                    await utterance.sender
                if utterance.stream is None:
                    return  # the ASR never came up; _relay has reported it
                hypothesis = await utterance.stream.finish()
            except AsrError as failed:
                await self._asr_failed(utterance, str(failed))
                return
            finally:
                utterance.closed = True
                if utterance.reader is not None:
                    utterance.reader.cancel()
            await self._record(utterance, hypothesis, auto=auto)

    async def _record(self, utterance: Utterance, hypothesis: Hypothesis, *, auto: bool) -> None:
        assert self.context is not None
        metrics.ASR_SECONDS.labels("streaming").observe(hypothesis.asr_ms / 1000)
        answer = answer_from_hypothesis(
            hypothesis,
            audio_ms=hypothesis.audio_ms or round(utterance.samples * 1000 / SAMPLE_RATE),
            auto_finalised=auto,
        )
        async with self._emitting:  # nothing else is numbered until these events are out
            pending_events, self._pending_events = self._pending_events, []
            pending_partials, self._pending_partials = self._pending_partials, []
            try:
                events, self.context = await database_sync_to_async(
                    stream_services.stream_attempt_record
                )(
                    session_id=self.context.session_id,
                    owner=self.owner,
                    answer=answer,
                    utterance=utterance.id,
                    auto=auto,
                    next_seq=self.seq + 1,
                    pending_events=pending_events,
                    pending_partials=pending_partials,
                )
            except stream_services.StreamSuperseded:
                self.superseded = True
                raise
            self.seq += len(events)
            for event in events:
                await self.send(event)

    async def _abandon(self, utterance: Utterance) -> None:
        utterance.closed = True
        utterance.audio.put_nowait(None)
        for task in (utterance.sender, utterance.reader):
            if task is not None:
                task.cancel()
        if utterance.stream is not None:
            await utterance.stream.close()

    # --- events -------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _standing(self) -> Standing:
        return self.context.standing if self.context else Standing(session=None)

    def _session_id(self) -> str | None:
        return self.context.session_id if self.context else None

    async def _emit(self, build: Callable[[int, Standing], Any]) -> None:
        """Number, store (batched) and send one event; numbering and sending stay in order."""
        async with self._emitting:
            if self.context is None:
                event = dict(build(0, self._standing()))
            else:
                event = dict(build(self._next_seq(), self._standing()))
                self._pending_events.append(event)
            await self.send(event)

    async def _emit_error(
        self, code: str, message: str, *, retryable: bool, fallback: bool = False
    ) -> None:
        await self._emit(
            lambda seq, standing: error_event(
                seq=seq,
                standing=standing,
                code=code,
                message=message,
                retryable=retryable,
                fallback="http" if fallback else None,
            )
        )

    async def error(self, failure: StreamError) -> None:
        await self._emit_error(
            failure.code, str(failure), retryable=failure.retryable, fallback=failure.fallback
        )

    def _require_started(self) -> StreamContext:
        if self.context is None:
            raise StreamError("not_started", 'Send {"type": "start", ...} first.')
        return self.context

    async def _flush(self) -> None:
        if self.context is None or not (self._pending_events or self._pending_partials):
            return
        async with self._emitting:
            events, self._pending_events = self._pending_events, []
            partials, self._pending_partials = self._pending_partials, []
        try:
            await database_sync_to_async(stream_services.stream_events_store)(
                session_id=self.context.session_id,
                owner=self.owner,
                events=events,
                partials=partials,
            )
        except stream_services.StreamSuperseded:
            self.superseded = True
            raise

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.limits.flush_interval_s)
            try:
                await self._flush()
            except stream_services.StreamSuperseded:
                return
