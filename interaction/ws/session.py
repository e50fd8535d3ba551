"""StreamingSession: one learner's live stream, the pump of its turn.

start/stop/reset/close come from control messages; audio frames are decoded (`AudioInput`:
PCM resampled, or WebM/Opus demuxed off the event loop) and posted to the inbox like
everything else the turn hears. One pump task feeds the inbox to the pure `Turn`
(`ws/turn.py`), one input at a time, and hands the commands it returns to the turn's two
I/O adapters: the relay (`ws/relay.py`) opens, feeds, evaluates and finishes utterances; the
`Outbox` — the only writer — records answers through the time-stop scoring path and
numbers, stores and sends every event. Both post what comes back to the inbox. The session
as it stands (turn, score, lives) is the outbox's `context`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import numpy as np

from interaction import stream_services
from interaction.asr.audio import PcmResampler
from interaction.asr.stream_audio import ContainerStreamDecoder
from interaction.asr.types import AsrProvider
from interaction.events import StoredEvent, ready_event
from interaction.stream_selectors import StreamContext
from interaction.stream_services import StreamRefused
from interaction.ws import turn as t
from interaction.ws.db import db_call, db_statement
from interaction.ws.errors import StreamError
from interaction.ws.limits import StreamLimits
from interaction.ws.messages import Start
from interaction.ws.outbox import Outbox, SendText
from interaction.ws.relay import AsrRelay
from telemetry.recorder import ConnectionRecorder

MAX_AUDIO_FRAME_BYTES = 64 * 1024

logger = logging.getLogger(__name__)


class AudioInput:
    """One connection's decoder of binary frames to 16 kHz float32 samples, made at the start
    (its state spans frames): pcm_s16le resampled, or WebM/Opus decoded; `bad_audio` else."""

    def __init__(self, *, encoding: str, sample_rate: int) -> None:
        self.encoding, self.sample_rate = encoding, sample_rate
        self._decoder: PcmResampler | ContainerStreamDecoder = (
            PcmResampler(sample_rate) if encoding == "pcm_s16le" else ContainerStreamDecoder()
        )

    async def convert(self, chunk: bytes) -> np.ndarray:
        if self.encoding == "pcm_s16le" and len(chunk) % 2:
            raise StreamError("bad_audio", "pcm_s16le frames need an even number of bytes.")
        try:
            if isinstance(self._decoder, ContainerStreamDecoder):
                # Demuxing the WebM stream so far is real CPU work: off the event loop.
                return await asyncio.to_thread(self._decoder.push, chunk)
            return self._decoder.push(chunk)
        except ValueError as undecodable:
            raise StreamError("bad_audio", f"Cannot decode the audio: {undecodable}") from None


class StreamingSession:
    """One connection's stream. `send`: the socket's send (`text_data=`); `recorder`: the
    connection's telemetry, told of every event sent."""

    def __init__(
        self,
        *,
        learner: Any,
        provider: AsrProvider,
        send: SendText,
        recorder: ConnectionRecorder | None = None,
        limits: StreamLimits | None = None,
    ) -> None:
        self.learner = learner
        self.limits = limits or StreamLimits.from_settings()
        self.owner = uuid.uuid4().hex
        self.inbox: asyncio.Queue[t.Input] = asyncio.Queue()
        self.outbox = Outbox(
            send=send,
            recorder=recorder,
            owner=self.owner,
            flush_interval_s=self.limits.flush_interval_s,
            inbox=self.inbox,
        )
        self.turn = t.Turn(self.limits.endpointing)
        self.pump: asyncio.Task[None] | None = None
        self.relay = AsrRelay(
            provider=provider,
            inbox=self.inbox,
            partial_interval_s=self.limits.partial_interval_s,
            max_backlog_s=self.limits.max_backlog_s,
            relay_chunk_s=self.limits.relay_chunk_s,
        )
        self._audio: AudioInput | None = None
        self._finished_reported = False

    @property
    def context(self) -> StreamContext | None:
        return self.outbox.context

    @property
    def superseded(self) -> bool:
        return self.outbox.superseded

    def supersede(self) -> None:
        """Another connection resumed this session: write nothing more."""
        self.outbox.supersede()

    # --- control messages -------------------------------------------------------------
    async def start(self, message: Start) -> StreamContext:
        if self.context is not None:
            raise StreamError("already_started", "This connection already has a session.")
        self._audio = AudioInput(encoding=message.encoding, sample_rate=message.sample_rate)
        missed: list[StoredEvent] = []
        try:
            if message.session is not None:
                context, missed = await db_call(
                    stream_services.stream_session_resume,
                    learner=self.learner,
                    session_id=message.session,
                    last_seq=message.last_seq,
                    owner=self.owner,
                )
            else:
                context = await db_statement(
                    stream_services.stream_session_open,
                    learner=self.learner,
                    scenario_slug=message.scenario or "",
                    owner=self.owner,
                )
        except StreamRefused as refused:
            raise StreamError(refused.code, str(refused), fallback=refused.fallback) from refused
        self.outbox.attach(context)  # the turn hears of the turn due
        await self.outbox.replay(missed)
        if not context.active:
            raise StreamError("session_finished", f"The session is {context.status}.")
        await self.outbox.emit(
            lambda seq, standing: ready_event(
                seq=seq,
                standing=standing,
                turn=context.turn,
                status=context.status,
                mode=context.mode,
                resumed=message.session is not None,
            )
        )
        self.pump = asyncio.create_task(self._pump(), name="stream-turn")
        self.pump.add_done_callback(_pump_done)
        return context

    async def stop(self) -> None:
        self._require_started()
        self.inbox.put_nowait(t.Stop(at=time.monotonic()))

    async def reset(self) -> None:
        self._require_started()
        self.inbox.put_nowait(t.ResetAsked())

    async def audio(self, chunk: bytes) -> None:
        """Decode a chunk and post it to the turn."""
        context = self._require_started()
        if not context.active:
            if self._finished_reported:
                return  # said once; the rest of the microphone's audio is dropped quietly
            self._finished_reported = True
            raise StreamError("session_finished", f"The session is {context.status}.")
        assert self._audio is not None
        samples = await self._audio.convert(chunk)
        if samples.size:
            self.inbox.put_nowait(t.Frame(samples))

    async def close(self) -> None:
        """The connection is gone: abandon the utterance, store what is pending, let go."""
        pump, self.pump = self.pump, None  # let go of it: see `_Utterance._done` (ws/relay)
        if pump is not None:
            pump.cancel()
        self.turn.feed(t.Close())
        await self.relay.close()
        await self.outbox.close()

    async def hand_over(self) -> None:
        """Another connection resumes the session: store everything sent, let go, stop."""
        await self.outbox.hand_over()
        await self.close()

    async def error(self, failure: StreamError) -> None:
        await self.outbox.carry_out(
            t.SendError(
                failure.code, str(failure), retryable=failure.retryable, fallback=failure.fallback
            )
        )

    # --- the interpreter ----------------------------------------------------------------
    async def _pump(self) -> None:
        """Feed the inbox to the turn, one input at a time; hand its commands on."""
        while True:
            event = await self.inbox.get()
            if isinstance(event, t.AsrFailed):
                session = self.context.session_id if self.context else None
                logger.warning("ASR failed for session %s: %s", session, event.error)
            for command in self.turn.feed(event):
                try:
                    await self._do(command)
                except StreamError as failed:  # the recogniser lags too far behind
                    await self.error(failed)
                except Exception:  # a defect: said to the client, the stream goes on
                    logger.exception("stream command %s failed", type(command).__name__)
                    await self.error(
                        StreamError(
                            "internal_error", "Something went wrong; try again.", retryable=True
                        )
                    )

    async def _do(self, command: t.Command) -> None:
        match command:
            case t.SendAudio() | t.Open() | t.Recognise() | t.Evaluate() | t.Finish() | t.Abandon():
                await self.relay.carry_out(command)
            case _:
                await self.outbox.carry_out(command)

    # --- helpers ------------------------------------------------------------------------
    def _require_started(self) -> StreamContext:
        if self.context is None:
            raise StreamError("not_started", 'Send {"type": "start", ...} first.')
        return self.context


def _pump_done(task: asyncio.Task[None]) -> None:
    """The pump only ends when cancelled (the connection closed); anything else is a defect."""
    if not task.cancelled() and (error := task.exception()) is not None:
        logger.error("stream pump failed", exc_info=error)
