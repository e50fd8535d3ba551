"""A scripted ASR provider for consumer unit tests only (the product always uses WhisperLive).

Each utterance plays one `Script`: partial hypotheses released as audio arrives, evaluated
hypotheses (mid-stream `evaluate`, one per call, the last repeated), then a final hypothesis
when the utterance ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace

from interaction.asr.types import AsrError, AsrUnavailable, Hypothesis, RecognitionOptions


@dataclass
class Script:
    partials: list[tuple[float, Hypothesis]] = field(default_factory=list)
    """(seconds of audio after which it is released, hypothesis)"""
    final: Hypothesis = field(
        default_factory=lambda: Hypothesis(text="", confidence=0.0, no_speech=True, final=True)
    )
    evaluations: list[Hypothesis] | None = None
    """What `evaluate` returns, call by call (the last one again after); None: the final
    (final=False); an empty list: evaluate fails (a recogniser that cannot evaluate)."""


class ScriptedStream:
    def __init__(self, script: Script, options: RecognitionOptions) -> None:
        self.script = script
        self.options = options
        self.received = 0
        self.sends: list[int] = []  # bytes of each send_audio
        self.queue: asyncio.Queue[Hypothesis | None] = asyncio.Queue()
        self.pending = list(script.partials)
        self.finished = False
        self.closed = False
        self.evaluated: list[float] = []  # seconds of audio each evaluate() covered

    async def send_audio(self, samples: bytes) -> None:
        self.received += len(samples)
        self.sends.append(len(samples))
        seconds = self.received / 4 / 16_000
        while self.pending and self.pending[0][0] <= seconds:
            self.queue.put_nowait(self.pending.pop(0)[1])

    async def partials(self) -> AsyncIterator[Hypothesis]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item

    async def evaluate(self) -> Hypothesis:
        evaluations = self.script.evaluations
        if evaluations is not None and not evaluations:
            raise AsrError("scripted: this recogniser cannot evaluate")
        self.evaluated.append(self.received / 4 / 16_000)
        if evaluations is None:
            return replace(self.script.final, final=False)
        return evaluations[min(len(self.evaluated), len(evaluations)) - 1]

    async def finish(self) -> Hypothesis:
        self.finished = True
        self.queue.put_nowait(None)
        return self.script.final

    async def close(self) -> None:
        self.closed = True
        self.queue.put_nowait(None)


class ScriptedProvider:
    def __init__(self, *scripts: Script, unavailable: bool = False) -> None:
        self.scripts = list(scripts)
        self.streams: list[ScriptedStream] = []
        self.unavailable = unavailable

    async def open_stream(self, options: RecognitionOptions, **_: object) -> ScriptedStream:
        if self.unavailable:
            raise AsrUnavailable("No ASR server accepted the utterance (scripted: all down)")
        stream = ScriptedStream(self.scripts.pop(0) if self.scripts else Script(), options)
        self.streams.append(stream)
        return stream

    async def transcribe(self, samples: bytes, options: RecognitionOptions) -> Hypothesis:
        stream = await self.open_stream(options)
        await stream.send_audio(samples)
        return await stream.finish()
