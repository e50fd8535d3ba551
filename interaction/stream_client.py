"""A small client of /stream/interaction: plays 16 kHz clips at real-time pace.

The one stream client: `manage.py stream_wav`, the end-to-end tests (tests/e2e) and the
latency benchmark (bench/stream_latency.py) all use it, so all three speak the protocol the
same way a browser does (100 ms pcm_s16le frames, then the stop gesture). `paced` is the
frame clock, shared with the benchmark's direct-to-WhisperLive path.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlparse

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from interaction.vocabulary import SessionStatus

CHUNK_S = 0.1
TAIL_SILENCE_S = 0.6
NEXT_PROMPT_S = 1.0
"""A learner answers the next prompt no sooner than this after a verdict (it is read first);
the microphone's silence is sent meanwhile. Sooner, the server would hear the voice as the
tail of an answer committed early (docs/protocol.md)."""
SAMPLE_RATE = 16_000


def pcm16(samples: np.ndarray) -> np.ndarray:
    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")


def with_tail(samples: np.ndarray, tail_s: float) -> np.ndarray:
    """The clip followed by `tail_s` seconds of silence (what a learner's pause sounds like)."""
    return np.concatenate([samples, np.zeros(int(tail_s * SAMPLE_RATE), samples.dtype)])


async def paced(samples: np.ndarray, *, speed: float = 1.0) -> AsyncIterator[np.ndarray]:
    """The clip in 100 ms frames, the first at once, the rest at real-time pace (speed 1)."""
    step = int(CHUNK_S * SAMPLE_RATE)
    started = time.monotonic()
    for index, offset in enumerate(range(0, samples.size, step)):
        yield samples[offset : offset + step]
        delay = started + (index + 1) * CHUNK_S / speed - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


def stream_url(base_url: str, token: str) -> tuple[str, str]:
    """(ws URL with the token, Origin header) for a Parley base URL."""
    base = urlparse(base_url)
    scheme = "wss" if base.scheme == "https" else "ws"
    origin = f"{base.scheme}://{base.netloc}"
    return f"{scheme}://{base.netloc}/stream/interaction?{urlencode({'token': token})}", origin


@dataclass
class AnswerTiming:
    """Seconds from the first audio frame: speech end (clip end) and each event's arrival."""

    speech_end_s: float
    first_partial_s: float | None = None
    verdict_s: float | None = None


@dataclass
class StreamClient:
    ws: ClientConnection
    on_event: Callable[[dict[str, Any]], None] = lambda event: None
    timeout: float = 30.0
    speed: float = 1.0
    tail_s: float = TAIL_SILENCE_S
    """Silence sent after each clip before the stop gesture (unless judged sooner)."""
    drain: bool = False
    """After a verdict that came before the end of the clip and its tail, play the rest
    anyway, as a learner does (speaking on, then quiet). Off: stop sending at the verdict
    (what the e2e tests' time-stop comparison expects)."""
    events: list[dict[str, Any]] = field(default_factory=list)
    verdict_at: float | None = None  # time.monotonic() of the last verdict

    @classmethod
    async def open(cls, base_url: str, token: str, **options: Any) -> StreamClient:
        url, origin = stream_url(base_url, token)
        ws = await connect(url, origin=origin, max_size=2**20)  # type: ignore[arg-type]
        return cls(ws=ws, **options)

    async def close(self) -> None:
        await self.ws.close()

    @property
    def last_seq(self) -> int:
        return max((event.get("seq", 0) for event in self.events), default=0)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def next_event(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), self.timeout)
        event = json.loads(raw)
        self.events.append(event)
        self.on_event(event)
        return event

    async def until(self, *types: str) -> dict[str, Any]:
        while True:
            event = await self.next_event()
            if event["type"] in types:
                return event

    async def start(self, **message: Any) -> dict[str, Any]:
        await self.send({"type": "start", **message})
        return await self.until("ready", "error")

    async def answer(self, samples: np.ndarray) -> tuple[list[dict[str, Any]], AnswerTiming]:
        """Play one clip (+ trailing silence), stop unless auto-finalised, return its events."""
        await self._read_the_prompt()
        pcm = pcm16(with_tail(samples, self.tail_s))
        first = len(self.events)
        timing = AnswerTiming(speech_end_s=samples.size / SAMPLE_RATE / self.speed)
        started = time.monotonic()
        verdict = asyncio.create_task(self._verdict(timing, started))
        async for frame in paced(pcm, speed=self.speed):
            if verdict.done() and not self.drain:
                break  # judged early: the rest of the clip is not needed
            await self.ws.send(frame.tobytes())
        if not verdict.done():
            await self.send({"type": "stop"})
        await verdict
        return self.events[first:], timing

    async def _read_the_prompt(self) -> None:
        """Silence until NEXT_PROMPT_S after the last verdict, as a learner reads the prompt."""
        if self.verdict_at is None:
            return
        lead_s = NEXT_PROMPT_S / self.speed - (time.monotonic() - self.verdict_at)
        if lead_s > 0:
            quiet = np.zeros(int(lead_s * self.speed * SAMPLE_RATE), "<i2")
            async for frame in paced(quiet, speed=self.speed):
                await self.ws.send(frame.tobytes())

    async def _verdict(self, timing: AnswerTiming, started: float) -> None:
        while True:
            event = await self.next_event()
            elapsed = time.monotonic() - started
            if event["type"] == "partial" and timing.first_partial_s is None:
                timing.first_partial_s = elapsed
            if event["type"] in ("final", "penalty", "reset", "error"):
                if event["type"] == "penalty" and event.get("status") == SessionStatus.FAILED:
                    continue  # the final that ends the session follows
                timing.verdict_s = elapsed
                self.verdict_at = time.monotonic()
                return


def register_learner(base_url: str) -> str:
    """Register a throwaway learner on a Parley server; its API token."""
    import secrets
    import urllib.request

    body = json.dumps(
        {"username": f"stream-{secrets.token_hex(4)}", "password": secrets.token_urlsafe(16)}
    ).encode()
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/api/auth/register/",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["token"]
