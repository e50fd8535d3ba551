"""Playing speech into a socket while a fault happens, and reading what came back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from interaction.stream_client import StreamClient, paced, pcm16, with_tail


async def play_with_fault(
    client: StreamClient,
    samples: np.ndarray,
    *,
    fault_after_s: float,
    fault: Callable[[], None],
    until: tuple[str, ...] = ("error",),
    wait_s: float = 20,
) -> tuple[dict[str, Any], float]:
    """Play `samples` at real-time pace; `fault()` after `fault_after_s` of audio; keep playing
    until an event of a type in `until` arrives. (That event, seconds from the fault to it.)"""
    faulted_at: float | None = None
    arrived: dict[str, Any] = {}

    async def watch() -> None:
        while True:
            event = await client.next_event()
            if event["type"] in until:
                arrived["event"], arrived["at"] = event, time.monotonic()
                return

    watcher = asyncio.create_task(watch())
    frames = 0
    async for frame in paced(pcm16(with_tail(samples, 3.0))):
        if watcher.done():
            break
        if faulted_at is None and frames * 0.1 >= fault_after_s:
            fault()
            faulted_at = time.monotonic()
        await client.ws.send(frame.tobytes())
        frames += 1
    if not watcher.done():
        await client.send({"type": "stop"})
    await asyncio.wait_for(watcher, wait_s)
    assert faulted_at is not None, "the clip ended before the fault"
    return arrived["event"], arrived["at"] - faulted_at


async def ping(client: StreamClient) -> dict[str, Any]:
    """The socket still answers: a ping gets its pong (events before it are kept)."""
    await client.send({"type": "ping", "t": 7})
    return await client.until("pong")


async def answer_until_verdict(client: StreamClient, samples: np.ndarray) -> dict[str, Any]:
    """Play a clip; the event that ended it (final, penalty, reset or error)."""
    events, _ = await client.answer(samples)
    return events[-1]
