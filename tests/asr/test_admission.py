"""ASR admission: a circuit breaker per server, and `AsrBusy` at once when every server is full."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from interaction.asr.admission import Failure, ServerBreaker
from interaction.asr.types import AsrBusy, AsrError, AsrUnavailable, RecognitionOptions
from interaction.asr.whisperlive import WhisperLiveProvider
from tests.asr.whisperlive_peer import Script, ScriptedPeer, final_message

FRENCH = RecognitionOptions(language="fr", candidates=("Je voudrais un café.",))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def audio(seconds: float) -> bytes:
    return np.zeros(int(16_000 * seconds), dtype=np.float32).tobytes()


def test_a_closed_breaker_admits_everyone() -> None:
    breaker = ServerBreaker(clock=Clock())
    assert all(breaker.admits(trial_s=5) for _ in range(3))


@pytest.mark.parametrize(
    ("kind", "backoffs"),
    [(Failure.BUSY, [0.5, 1.0, 2.0, 4.0, 4.0]), (Failure.DOWN, [1.0, 2.0, 4.0, 8.0, 10.0])],
)
def test_backoff_doubles_per_failure_up_to_the_cap(kind: Failure, backoffs: list[float]) -> None:
    clock = Clock()
    breaker = ServerBreaker(
        busy_backoff_s=0.5,
        down_backoff_s=1.0,
        max_backoff_s=10.0 if kind == Failure.DOWN else 4.0,
        clock=clock,
    )
    for backoff in backoffs:
        breaker.failed(kind)
        assert breaker.retry_in() == pytest.approx(backoff)
        assert not breaker.admits(trial_s=5)
        clock.now += backoff
        assert breaker.admits(trial_s=5)  # the one half-open trial


def test_after_the_backoff_one_trial_goes_and_the_others_wait_for_it() -> None:
    clock = Clock()
    breaker = ServerBreaker(clock=clock)
    breaker.failed(Failure.DOWN)
    clock.now += 1.0
    assert breaker.admits(trial_s=5)
    assert not breaker.admits(trial_s=5)  # the trial is under way
    clock.now += 5.0
    assert breaker.admits(trial_s=5)  # the trial never reported: another may go
    breaker.succeeded()
    assert breaker.admits(trial_s=5)
    assert breaker.admits(trial_s=5)
    assert breaker.failures == 0


async def test_a_full_server_is_not_asked_again_during_its_backoff() -> None:
    """Before the breaker, every voiced frame after a refusal opened a new connection."""
    async with ScriptedPeer(Script(before_ready="wait")) as full:
        asr = WhisperLiveProvider([full.url], connect_timeout=1.0)
        started = time.perf_counter()
        for _ in range(10):
            with pytest.raises(AsrBusy) as excinfo:
                await asr.open_stream(FRENCH)
        assert time.perf_counter() - started < 1.0  # at once, not a timeout
        assert len(full.connections) == 1
        assert 0.5 <= excinfo.value.retry_after_s <= 1.5
        assert excinfo.value.code == "asr_busy"
        assert full.url not in excinfo.value.public_message
        assert full.url in str(excinfo.value)  # the details stay for the logs

        full.script = Script(final=final_message())
        asr.breakers[full.url].open_until = 0.0  # as if the backoff had passed
        hypothesis = await asr.transcribe(audio(0.5), FRENCH)
    assert hypothesis.text == "Je voudrais un café."
    assert asr.breakers[full.url].failures == 0  # a success closes the circuit


async def test_a_full_server_is_skipped_for_the_next_one_without_a_connection() -> None:
    async with (
        ScriptedPeer(Script(before_ready="wait")) as full,
        ScriptedPeer(Script(final=final_message())) as free,
    ):
        asr = WhisperLiveProvider([full.url, free.url])
        for _ in range(4):
            await asr.transcribe(audio(0.2), FRENCH)
    assert len(full.connections) == 1
    assert len(free.connections) == 4


async def test_a_down_server_is_unavailable_not_busy_and_backs_off() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"ws://127.0.0.1:{sock.getsockname()[1]}"
    asr = WhisperLiveProvider([dead])
    with pytest.raises(AsrUnavailable) as first:
        await asr.open_stream(FRENCH)
    assert not isinstance(first.value, AsrBusy)
    assert "skipped" not in str(first.value)
    with pytest.raises(AsrUnavailable) as second:
        await asr.open_stream(FRENCH)
    assert "skipped (down" in str(second.value)  # no connection tried during the backoff


async def test_a_server_that_drops_an_utterance_backs_off() -> None:
    async with ScriptedPeer(Script(at_end="close")) as dropper:
        asr = WhisperLiveProvider([dropper.url], final_timeout=1.0)
        stream = await asr.open_stream(FRENCH)
        await stream.send_audio(audio(0.2))
        with pytest.raises(AsrError):
            await stream.finish()
    assert asr.breakers[dropper.url].last_failure == Failure.DOWN
