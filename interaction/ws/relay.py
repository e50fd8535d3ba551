"""One utterance's trip to the recogniser: the relay task, and the partials' throttle.

Audio goes to the ASR from a task of its own (the receive path only converts and queues), so
a slow recogniser never blocks the socket; its partial hypotheses come back throttled. A
mid-stream evaluation (`evaluate`) goes through the same queue, so it covers every sample
queued before it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from interaction.asr.types import AsrError, AsrProvider, AsrStream, Hypothesis, RecognitionOptions
from interaction.ws.endpointing import SAMPLE_RATE
from interaction.ws.errors import StreamError
from interaction.ws.tasks import TaskSet

OnPartial = Callable[["Utterance", Hypothesis, float], Awaitable[None]]
OnFailure = Callable[["Utterance", AsrError], Awaitable[None]]


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


Queued = bytes | asyncio.Future[Hypothesis] | None
"""Audio for the ASR task, an evaluation to ask for once the audio before it is sent, or the
end of the utterance."""


@dataclass(eq=False)
class Utterance:
    id: str
    started: float
    throttle: PartialThrottle
    audio: asyncio.Queue[Queued] = field(default_factory=asyncio.Queue)
    sender: asyncio.Task[None] | None = None
    reader: asyncio.Task[None] | None = None
    stream: AsrStream | None = None
    samples: int = 0  # heard so far (16 kHz)
    queued_samples: int = 0  # converted audio waiting for the ASR task
    closed: bool = False
    speculation: asyncio.Task[Hypothesis | None] | None = None
    """The speculative verdict's evaluation of the current pause (None: none, or dropped)."""


class AsrRelay:
    """Opens one ASR stream per utterance, relays its audio, reads back its partials.

    `options` is asked when the stream opens (after `judging` is free: an answer being judged
    may move the turn on, and the utterance must be scored against the turn it answers).
    """

    def __init__(
        self,
        *,
        provider: AsrProvider,
        tasks: TaskSet,
        judging: asyncio.Lock,
        options: Callable[[], RecognitionOptions],
        on_partial: OnPartial,
        on_failure: OnFailure,
        partial_interval_s: float,
        max_backlog_s: float,
    ) -> None:
        self.provider, self.tasks, self.judging, self.options = provider, tasks, judging, options
        self.on_partial, self.on_failure = on_partial, on_failure
        self.partial_interval_s = partial_interval_s
        self.max_backlog_samples = max_backlog_s * SAMPLE_RATE

    def open(self) -> Utterance:
        utterance = Utterance(
            id=uuid.uuid4().hex,
            started=time.monotonic(),
            throttle=PartialThrottle(self.partial_interval_s),
        )
        utterance.sender = self.tasks.spawn(self._send(utterance), name="asr-relay")
        return utterance

    def queue(self, utterance: Utterance, samples: np.ndarray) -> None:
        """Hand 16 kHz samples to the relay task; StreamError when the ASR lags too far."""
        if utterance.queued_samples > self.max_backlog_samples:
            raise StreamError(
                "overloaded", "Speech recognition is falling behind; try again.", retryable=True
            )
        utterance.queued_samples += samples.size
        utterance.audio.put_nowait(np.asarray(samples, dtype=np.float32).tobytes())

    async def evaluate(self, utterance: Utterance) -> Hypothesis:
        """The recogniser's evidence on everything queued so far; the utterance goes on.

        AsrError when the recogniser cannot evaluate (or never came up)."""
        reply: asyncio.Future[Hypothesis] = asyncio.get_running_loop().create_future()
        utterance.audio.put_nowait(reply)
        try:
            return await reply
        finally:
            if not reply.done():
                reply.cancel()

    async def finish(self, utterance: Utterance) -> Hypothesis | None:
        """The final hypothesis; None if the ASR never came up (already reported). AsrError."""
        utterance.audio.put_nowait(None)
        try:
            if utterance.sender is not None:
                await utterance.sender
            if utterance.stream is None:
                return None
            return await utterance.stream.finish()
        finally:
            utterance.closed = True
            if utterance.reader is not None:
                utterance.reader.cancel()

    async def abandon(self, utterance: Utterance) -> None:
        utterance.closed = True
        utterance.audio.put_nowait(None)
        for task in (utterance.sender, utterance.reader, utterance.speculation):
            if task is not None:
                task.cancel()
        if utterance.stream is not None:
            await utterance.stream.close()

    async def _send(self, utterance: Utterance) -> None:
        """Open the ASR stream, start reading its partials, relay the queued audio."""
        try:
            async with self.judging:
                pass
            utterance.stream = stream = await self.provider.open_stream(self.options())
            utterance.reader = self.tasks.spawn(self._read(utterance, stream), name="asr-read")
            while True:
                chunk = await utterance.audio.get()
                if chunk is None:
                    return
                if isinstance(chunk, asyncio.Future):
                    if not chunk.done():
                        self.tasks.spawn(_evaluate(stream, chunk), name="asr-evaluate")
                    continue
                utterance.queued_samples -= len(chunk) // 4
                await stream.send_audio(chunk)
        except AsrError as failed:  # AsrUnavailable included: no server took the utterance
            self._fail_evaluations(utterance, failed)
            if not utterance.closed:
                await self.on_failure(utterance, failed)
        except asyncio.CancelledError:
            self._fail_evaluations(utterance, AsrError("The utterance was abandoned."))
            raise

    @staticmethod
    def _fail_evaluations(utterance: Utterance, error: AsrError) -> None:
        """Evaluations still queued get `error` (the stream that would answer them is gone)."""
        while not utterance.audio.empty():
            item = utterance.audio.get_nowait()
            if isinstance(item, asyncio.Future) and not item.done():
                item.set_exception(error)

    async def _read(self, utterance: Utterance, stream: AsrStream) -> None:
        async for hypothesis in stream.partials():
            if utterance.closed:
                return
            wait = utterance.throttle.offer(hypothesis, now=time.monotonic())
            if wait == 0.0:
                await self._partial(utterance, hypothesis)
            elif wait is not None:
                self.tasks.spawn(self._partial_later(utterance, wait), name="asr-partial")

    async def _partial_later(self, utterance: Utterance, wait: float) -> None:
        await asyncio.sleep(wait)
        hypothesis = utterance.throttle.take_held()
        if hypothesis is not None and not utterance.closed:
            await self._partial(utterance, hypothesis)

    async def _partial(self, utterance: Utterance, hypothesis: Hypothesis) -> None:
        now = time.monotonic()
        utterance.throttle.sent(hypothesis, at=now)
        await self.on_partial(utterance, hypothesis, now)


async def _evaluate(stream: AsrStream, reply: asyncio.Future[Hypothesis]) -> None:
    """Ask `stream` for its evidence so far; the answer (or the AsrError) goes to `reply`."""
    try:
        hypothesis = await stream.evaluate()
    except AsrError as failed:
        if not reply.done():
            reply.set_exception(failed)
        return
    if not reply.done():
        reply.set_result(hypothesis)
