"""One utterance's trip to the recogniser: the relay task, and the partials' throttle.

Audio goes to the ASR from a task of its own (the receive path only converts and queues), so
a slow recogniser never blocks the socket. Until the first partial of an utterance is out,
every frame goes at once (the learner is waiting for a sign of being heard: chunks held
that first partial back by 0.1 s); after it, audio goes in chunks of `relay_chunk_s` (a
few of the client's frames: each relayed frame was a wake-up of that task and a WebSocket
send, a per-frame cost of every stream), and at once before a pause's evaluation or the
end. Its partial hypotheses come back throttled. A mid-stream evaluation (`evaluate`) and the
end (`finish`) go through the same queue, so they cover every sample queued before them.
What comes back is posted to the turn's inbox, never called back. An utterance's tasks are
its own: abandoning it cancels them all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from interaction.asr.types import AsrError, AsrProvider, AsrStream, Hypothesis, RecognitionOptions
from interaction.ws.endpointing import SAMPLE_RATE
from interaction.ws.errors import StreamError
from interaction.ws.turn import (
    Abandon,
    AsrFailed,
    Evaluate,
    Evidence,
    Final,
    Finish,
    Input,
    Open,
    Partial,
    Recognise,
    RecogniserCommand,
    SendAudio,
)

logger = logging.getLogger(__name__)


class PartialThrottle:
    """At most one partial per interval (seconds); a newer one replaces a held one."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.last_at = 0.0
        self.last_text = ""
        self.held: Hypothesis | None = None

    def offer(self, hypothesis: Hypothesis, *, now: float) -> float | None:
        """0.0: send it now. > 0: it is held; send what is held after that many seconds.
        None: nothing to do (the same text again, or held behind a wait already running)."""
        if hypothesis.text == self.last_text:
            return None
        wait = self.last_at + self.interval_s - now
        if wait <= 0:
            return 0.0
        first, self.held = self.held is None, hypothesis
        return wait if first else None

    def take_held(self) -> Hypothesis | None:
        held, self.held = self.held, None
        return held

    def sent(self, hypothesis: Hypothesis, *, at: float) -> None:
        self.last_at, self.last_text = at, hypothesis.text


Queued = bytes | int | None
"""Audio for the ASR task, a pause whose evidence to ask for once the audio before it is
sent, or the end of the utterance."""


@dataclass(eq=False)
class _Utterance:
    id: str
    started: float
    throttle: PartialThrottle
    options: asyncio.Future[RecognitionOptions]
    audio: asyncio.Queue[Queued] = field(default_factory=asyncio.Queue)
    sender: asyncio.Task[None] | None = None
    reader: asyncio.Task[None] | None = None
    stream: AsrStream | None = None
    queued_samples: int = 0  # converted audio waiting for the ASR task
    chunk: list[bytes] = field(default_factory=list)  # not handed to the ASR task yet
    chunk_samples: int = 0
    closed: bool = False
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, coroutine: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """A task of this utterance's: kept until done, cancelled with it; a defect logged."""
        task = asyncio.create_task(coroutine, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        # A task done is let go of: a cancelled one keeps its exception, whose traceback
        # holds this utterance; kept here it would be a reference cycle, freed only by the
        # cyclic collector (one long pause for every few thousand utterances).
        self.tasks.discard(task)
        if task is self.sender:
            self.sender = None
        if task is self.reader:
            self.reader = None
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.error("ASR relay task %s failed", task.get_name(), exc_info=error)

    def cancel(self) -> None:
        self.closed = True
        for task in list(self.tasks):
            task.cancel()


class AsrRelay:
    """Opens one ASR stream per utterance, relays its audio, posts what comes back.

    An I/O adapter of the turn (`ws/turn.py`): it is told what to do by utterance id, and
    posts the recogniser's results to `inbox` as the turn's inputs (`Partial`, `Evidence`,
    `AsrFailed`); it calls nothing of its caller's.
    """

    def __init__(
        self,
        *,
        provider: AsrProvider,
        inbox: asyncio.Queue[Input],
        partial_interval_s: float,
        max_backlog_s: float,
        relay_chunk_s: float = 0.0,
    ) -> None:
        self.provider, self.inbox = provider, inbox
        self.partial_interval_s = partial_interval_s
        self.relay_chunk_samples = relay_chunk_s * SAMPLE_RATE
        self.max_backlog_samples = max_backlog_s * SAMPLE_RATE
        self._utterances: dict[str, _Utterance] = {}
        self._ending: dict[str, _Utterance] = {}  # finishing: their final pass on its way
        self._closing: set[asyncio.Task[None]] = set()  # abandoned streams being closed

    async def carry_out(self, command: RecogniserCommand) -> None:
        """One of the turn's commands for the recogniser (StreamError: `queue`'s)."""
        match command:
            case SendAudio(utterance=utterance, audio=audio):
                self.queue(utterance, audio)
            case Open(utterance=utterance):
                self.open(utterance)
            case Recognise(utterance=utterance, options=options):
                self.recognise(utterance, options)
            case Evaluate(utterance=utterance, pause=pause):
                self.evaluate(utterance, pause)
            case Finish(utterance=utterance):
                self.finish(utterance)
            case Abandon(utterance=utterance):
                self.abandon(utterance)

    def open(self, utterance_id: str) -> None:
        """Queue the utterance's audio from now on; its stream opens at `recognise`."""
        utterance = _Utterance(
            id=utterance_id,
            started=time.monotonic(),
            throttle=PartialThrottle(self.partial_interval_s),
            options=asyncio.get_running_loop().create_future(),
        )
        self._utterances[utterance_id] = utterance
        utterance.sender = utterance.spawn(self._send(utterance), name="asr-relay")

    def recognise(self, utterance_id: str, options: RecognitionOptions | None) -> None:
        """Open the utterance's stream with `options` (the turn it answers is known now)."""
        utterance = self._utterances.get(utterance_id)
        if utterance is not None and not utterance.options.done():
            utterance.options.set_result(options or RecognitionOptions(language=""))

    def queue(self, utterance_id: str, samples: np.ndarray) -> None:
        """Hand 16 kHz samples to the relay task; StreamError when the ASR lags too far."""
        utterance = self._utterances.get(utterance_id)
        if utterance is None:
            return
        if utterance.queued_samples > self.max_backlog_samples:
            raise StreamError(
                "overloaded", "Speech recognition is falling behind; try again.", retryable=True
            )
        utterance.queued_samples += samples.size
        utterance.chunk.append(np.asarray(samples, dtype=np.float32).tobytes())
        utterance.chunk_samples += samples.size
        heard = bool(utterance.throttle.last_text)  # the learner has seen words of it
        if utterance.chunk_samples >= self.relay_chunk_samples or not heard:
            _release(utterance)

    def evaluate(self, utterance_id: str, pause: int) -> None:
        """Ask for the recogniser's evidence on everything queued so far (the utterance goes
        on); `Evidence` for that pause is posted (its hypothesis None when it cannot)."""
        utterance = self._utterances.get(utterance_id)
        if utterance is not None:
            _release(utterance)
            utterance.audio.put_nowait(pause)

    def finish(self, utterance_id: str) -> None:
        """End the utterance's audio; its final pass is posted as `Final` (its hypothesis
        None if the ASR never came up, already posted as `AsrFailed`; or its AsrError)."""
        utterance = self._utterances.pop(utterance_id, None)
        if utterance is None:
            return
        self._ending[utterance_id] = utterance
        _release(utterance)
        utterance.audio.put_nowait(None)
        utterance.spawn(self._finish(utterance), name="asr-finish")

    def abandon(self, utterance_id: str) -> None:
        """Let the utterance go: its tasks cancelled at once, its stream closed meanwhile (a
        recogniser told at once stops decoding it; the close, or on a kept connection the
        cancel's answer, is not waited for: an answer committed early is recorded
        meanwhile)."""
        utterance = self._utterances.pop(utterance_id, None) or self._ending.pop(utterance_id, None)
        if utterance is None:
            return
        utterance.audio.put_nowait(None)
        utterance.cancel()
        if utterance.stream is not None:
            closing = asyncio.create_task(utterance.stream.close(), name="asr-close")
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """Let every utterance go, and wait for their streams to close."""
        for utterance_id in [*self._utterances, *self._ending]:
            self.abandon(utterance_id)
        await asyncio.gather(*self._closing, return_exceptions=True)

    async def _finish(self, utterance: _Utterance) -> None:
        final = Final(utterance.id, None)
        try:
            if utterance.sender is not None:
                await utterance.sender
            if utterance.stream is not None:
                final = Final(utterance.id, await utterance.stream.finish())
        except AsrError as failed:
            final = Final(utterance.id, None, failed)
        finally:
            self._ending.pop(utterance.id, None)
            utterance.closed = True
            if utterance.reader is not None:
                utterance.reader.cancel()
        self.inbox.put_nowait(final)

    async def _send(self, utterance: _Utterance) -> None:
        """Open the ASR stream, start reading its partials, relay the queued audio."""
        pauses: list[int] = []  # evidence asked for: a failure answers them
        try:
            options = await utterance.options
            utterance.stream = stream = await self.provider.open_stream(options)
            utterance.reader = utterance.spawn(self._read(utterance, stream), name="asr-read")
            while True:
                chunk = await utterance.audio.get()
                if chunk is None:
                    return
                if isinstance(chunk, int):
                    utterance.spawn(self._evaluate(utterance, chunk), name="asr-evaluate")
                    # Its request goes out before the audio queued after the pause (a burst
                    # of frames queues it all at once): the evidence is the pause's.
                    await asyncio.sleep(0)
                    continue
                utterance.queued_samples -= len(chunk) // 4
                await stream.send_audio(chunk)
        except AsrError as failed:  # AsrUnavailable included: no server took the utterance
            if not utterance.closed:
                self.inbox.put_nowait(AsrFailed(utterance.id, failed))
            pauses = [item for item in _drain(utterance.audio) if isinstance(item, int)]
        for pause in pauses:
            self.inbox.put_nowait(Evidence(utterance.id, pause, None))

    async def _evaluate(self, utterance: _Utterance, pause: int) -> None:
        assert utterance.stream is not None
        try:
            hypothesis: Hypothesis | None = await utterance.stream.evaluate()
        except AsrError as failed:
            logger.info("no speculative verdict for %s: %s", utterance.id, failed)
            hypothesis = None
        if not utterance.closed:
            self.inbox.put_nowait(Evidence(utterance.id, pause, hypothesis))

    async def _read(self, utterance: _Utterance, stream: AsrStream) -> None:
        async for hypothesis in stream.partials():
            if utterance.closed:
                return
            wait = utterance.throttle.offer(hypothesis, now=time.monotonic())
            if wait == 0.0:
                self._partial(utterance, hypothesis)
            elif wait is not None:
                utterance.spawn(self._partial_later(utterance, wait), name="asr-partial")

    async def _partial_later(self, utterance: _Utterance, wait: float) -> None:
        await asyncio.sleep(wait)
        hypothesis = utterance.throttle.take_held()
        if hypothesis is not None and not utterance.closed:
            self._partial(utterance, hypothesis)

    def _partial(self, utterance: _Utterance, hypothesis: Hypothesis) -> None:
        now = time.monotonic()
        utterance.throttle.sent(hypothesis, at=now)
        latency_ms = round((now - utterance.started) * 1000)
        self.inbox.put_nowait(Partial(utterance.id, hypothesis, latency_ms))


def _release(utterance: _Utterance) -> None:
    """Hand the audio chunked so far to the utterance's ASR task."""
    if utterance.chunk:
        utterance.audio.put_nowait(b"".join(utterance.chunk))
        utterance.chunk.clear()
        utterance.chunk_samples = 0


def _drain(queue: asyncio.Queue[Queued]) -> list[Queued]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
