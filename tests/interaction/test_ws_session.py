"""interaction/ws/session.py: the pump of the turn, without the socket.

A session fed frames directly (the consumer's part left out) decodes them, opens its
session, feeds the turn, and records the answer through the time-stop scoring path; its
events reach `send`."""

from __future__ import annotations

import asyncio
import gc
import json
import weakref
from typing import Any

import numpy as np
import pytest

from interaction.ws.errors import StreamError
from interaction.ws.messages import Start
from interaction.ws.session import AudioInput, StreamingSession
from tests.interaction.scripted_asr import Script, ScriptedProvider
from tests.interaction.test_consumer import CAFE, evaluated, final, silence, tone

pytestmark = pytest.mark.django_db(transaction=True)


class Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def send(self, *, text_data: str) -> None:
        self.sent.append(json.loads(text_data))
        self.arrived.set()

    async def until(self, kind: str) -> dict[str, Any]:
        while not any(event["type"] == kind for event in self.sent):
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 5)
        return next(event for event in self.sent if event["type"] == kind)


async def test_a_correct_answer_is_recorded_and_sent(learner, scenario) -> None:
    socket = Socket()
    session = StreamingSession(
        learner=learner,
        provider=ScriptedProvider(Script(final=final(CAFE), evaluations=[evaluated(CAFE)])),
        send=socket.send,
    )
    context = await session.start(Start(scenario="cafe-test", session=None))
    assert context.turn is not None
    for chunk in [tone(0.1)] * 10 + [silence(0.1)] * 3:
        await session.audio(chunk)
    done = await socket.until("final")
    assert (done["outcome"], done["auto"], done["score"]) == ("correct", True, 15)
    assert session.context is not None
    assert session.context.turn is not None
    assert session.context.turn["index"] == 1  # the session as it stands: the outbox's
    assert session.turn.phase in ("holding", "idle")
    await session.close()


async def test_a_closed_session_is_freed_without_the_cyclic_collector(learner, scenario) -> None:
    """Its pump, cancelled at the close, keeps a traceback that holds the session: kept by
    the session, the pair was a cycle (one per connection, left to a full collection)."""
    session = StreamingSession(
        learner=learner, provider=ScriptedProvider(Script(final=final(CAFE))), send=Socket().send
    )
    await session.start(Start(scenario="cafe-test", session=None))
    await session.audio(tone(0.1))
    gc.collect()
    gc.disable()
    try:
        await session.close()
        freed = weakref.ref(session)
        del session
        await asyncio.sleep(0.05)  # the cancelled pump runs to its end
        assert freed() is None
    finally:
        gc.enable()


async def test_control_before_start_is_refused(learner) -> None:
    session = StreamingSession(learner=learner, provider=ScriptedProvider(), send=Socket().send)
    for control in (session.stop(), session.reset(), session.audio(np.zeros(10, "<i2").tobytes())):
        with pytest.raises(StreamError) as refused:
            await control
        assert refused.value.code == "not_started"
    await session.close()


async def test_pcm_at_16_khz_is_scaled_to_floats() -> None:
    audio = AudioInput(encoding="pcm_s16le", sample_rate=16_000)
    samples = await audio.convert(np.array([0, 16384, -32768], "<i2").tobytes())
    assert samples.dtype == np.float32
    assert samples.tolist() == pytest.approx([0.0, 0.5, -1.0], abs=1e-3)


async def test_pcm_at_another_rate_is_resampled_across_frames() -> None:
    audio = AudioInput(encoding="pcm_s16le", sample_rate=48_000)
    frame = np.zeros(4_800, "<i2").tobytes()  # 0.1 s at 48 kHz
    total = sum([(await audio.convert(frame)).size for _ in range(10)])
    assert abs(total - 16_000) <= 160  # one second at 16 kHz, give or take the filter's delay


@pytest.mark.parametrize(
    ("encoding", "chunk"),
    [("pcm_s16le", b"\x00\x01\x02"), ("webm_opus", b"this is not a webm stream" * 200)],
)
async def test_undecodable_frames_are_bad_audio(encoding: str, chunk: bytes) -> None:
    audio = AudioInput(encoding=encoding, sample_rate=16_000)

    async def three_frames() -> None:
        for _ in range(3):
            await audio.convert(chunk)

    with pytest.raises(StreamError) as refused:
        await three_frames()
    assert refused.value.code == "bad_audio"
