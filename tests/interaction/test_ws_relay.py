"""interaction/ws/relay.py: the relay carries out the turn's commands for the recogniser and
posts what comes back to the turn's inbox (partials, evidence, the final pass, failures),
never calling it.

(Its partials' throttle has a table of its own: test_partial_throttle.py.)"""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import numpy as np
import pytest

from interaction.asr.types import AsrUnavailable, Hypothesis, RecognitionOptions
from interaction.ws import turn as t
from interaction.ws.errors import StreamError
from interaction.ws.relay import AsrRelay
from tests.interaction.scripted_asr import Script, ScriptedProvider
from tests.interaction.test_consumer import CAFE, evaluated, final, hypothesis

OPTIONS = RecognitionOptions(language="fr", candidates=(CAFE,))
SECOND = np.full(16_000, 0.3, np.float32)


def relay(provider: ScriptedProvider, **bounds: float) -> tuple[AsrRelay, asyncio.Queue]:
    inbox: asyncio.Queue[t.Input] = asyncio.Queue()
    return (
        AsrRelay(
            provider=provider,
            inbox=inbox,
            partial_interval_s=bounds.get("partial_interval_s", 0.0),
            max_backlog_s=bounds.get("max_backlog_s", 10.0),
            relay_chunk_s=bounds.get("relay_chunk_s", 0.0),
        ),
        inbox,
    )


async def test_audio_waits_for_the_turn_then_partials_and_evidence_are_posted() -> None:
    provider = ScriptedProvider(
        Script(
            partials=[(0.5, hypothesis("Je voudrais", 0.5))],
            final=final(CAFE),
            evaluations=[evaluated(CAFE)],
        )
    )
    asr, inbox = relay(provider)
    await asr.carry_out(t.Open("u1"))
    await asr.carry_out(t.SendAudio("u1", SECOND))
    await asyncio.sleep(0.05)
    assert provider.streams == []  # not recognised before the turn it answers is known
    await asr.carry_out(t.Recognise("u1", OPTIONS))
    await asr.carry_out(t.Evaluate("u1", 1))
    partial = await asyncio.wait_for(inbox.get(), 1)
    evidence = await asyncio.wait_for(inbox.get(), 1)
    assert isinstance(partial, t.Partial)
    assert (partial.utterance, partial.hypothesis.text) == ("u1", "Je voudrais")
    assert isinstance(evidence, t.Evidence)
    assert (evidence.utterance, evidence.pause, evidence.hypothesis) == ("u1", 1, evaluated(CAFE))
    assert provider.streams[0].options == OPTIONS
    assert provider.streams[0].evaluated == [1.0]  # every sample queued before it
    await asr.carry_out(t.SendAudio("u1", SECOND))
    await asr.carry_out(t.Finish("u1"))
    assert (await asyncio.wait_for(inbox.get(), 1)) == t.Final("u1", final(CAFE))
    assert provider.streams[0].finished
    assert provider.streams[0].received == 2 * SECOND.nbytes  # every sample queued before it


async def test_evidence_asked_at_a_pause_covers_the_audio_before_it_not_after() -> None:
    """A burst of frames (a socket that stalled, then delivered) queues the pause's
    evaluation and the audio after it at once: the request still goes out before that audio."""
    provider = ScriptedProvider(Script(final=final(CAFE), evaluations=[evaluated(CAFE)]))
    asr, inbox = relay(provider)
    await asr.carry_out(t.Open("u1"))
    await asr.carry_out(t.Recognise("u1", OPTIONS))
    await asr.carry_out(t.SendAudio("u1", SECOND))
    await asr.carry_out(t.Evaluate("u1", 1))
    await asr.carry_out(t.SendAudio("u1", SECOND))
    await asr.carry_out(t.SendAudio("u1", SECOND))
    evidence = await asyncio.wait_for(inbox.get(), 1)
    assert (evidence.utterance, evidence.pause) == ("u1", 1)
    assert provider.streams[0].evaluated == [1.0]
    await asr.close()


async def test_a_recogniser_that_never_comes_up_is_posted_as_a_failure() -> None:
    asr, inbox = relay(ScriptedProvider(unavailable=True))
    await asr.carry_out(t.Open("u1"))
    await asr.carry_out(t.Evaluate("u1", 1))
    await asr.carry_out(t.Recognise("u1", OPTIONS))
    failed, unanswered = await asyncio.wait_for(inbox.get(), 1), await inbox.get()
    assert isinstance(failed, t.AsrFailed)
    assert failed.error.code == "asr_unavailable"
    assert unanswered == t.Evidence("u1", 1, None)  # the evidence asked for: none
    await asr.carry_out(t.Finish("u1"))
    assert (await asyncio.wait_for(inbox.get(), 1)) == t.Final("u1", None)  # said already


async def test_an_abandoned_utterance_posts_nothing_more() -> None:
    provider = ScriptedProvider(Script(partials=[(0.5, hypothesis("Je", 0.5))]))
    asr, inbox = relay(provider)
    await asr.carry_out(t.Open("u1"))
    await asr.carry_out(t.Recognise("u1", OPTIONS))
    await asyncio.sleep(0.05)
    tasks = set(asr._utterances["u1"].tasks)
    await asr.carry_out(t.Abandon("u1"))
    await asr.carry_out(t.SendAudio("u1", SECOND))  # late audio: dropped
    await asr.carry_out(t.Finish("u1"))
    await asyncio.sleep(0.05)
    assert inbox.empty()
    assert provider.streams[0].closed
    assert tasks
    assert all(task.done() for task in tasks)  # its tasks went with it


async def test_a_recogniser_far_behind_refuses_more_audio() -> None:
    asr, _ = relay(ScriptedProvider(), max_backlog_s=1.5)
    await asr.carry_out(t.Open("u1"))  # never recognised: the audio piles up
    await asr.carry_out(t.SendAudio("u1", SECOND))
    await asr.carry_out(t.SendAudio("u1", SECOND))
    with pytest.raises(StreamError) as refused:
        await asr.carry_out(t.SendAudio("u1", SECOND))
    assert refused.value.code == "overloaded"
    await asr.close()


async def test_a_final_pass_that_fails_is_posted_with_its_failure() -> None:
    class Failing(ScriptedProvider):
        async def open_stream(self, options: RecognitionOptions, **kwargs: object) -> Any:
            stream = await super().open_stream(options, **kwargs)

            async def finish() -> Hypothesis:
                raise AsrUnavailable("the server went away")

            stream.finish = finish  # type: ignore[method-assign]
            return stream

    asr, inbox = relay(Failing(Script()))
    await asr.carry_out(t.Open("u1"))
    await asr.carry_out(t.Recognise("u1", OPTIONS))
    await asr.carry_out(t.Finish("u1"))
    posted = await asyncio.wait_for(inbox.get(), 1)
    assert isinstance(posted, t.Final)
    assert (posted.utterance, posted.hypothesis) == ("u1", None)
    assert isinstance(posted.failure, AsrUnavailable)


async def test_audio_goes_in_chunks_once_words_are_heard_and_all_of_it_before_the_end() -> None:
    """A relayed frame is a wake-up and a WebSocket send: once the utterance's first partial
    is out, frames go in chunks of relay_chunk_s, and whatever waits goes before an
    evaluation or the final pass. Before it every frame goes at once (the first words are
    what the learner waits for)."""
    provider = ScriptedProvider(
        Script(
            partials=[(0.2, hypothesis("Je", 0.5))],
            final=final(CAFE),
            evaluations=[evaluated(CAFE)],
        )
    )
    asr, inbox = relay(provider, relay_chunk_s=0.3)
    frame = np.full(1_600, 0.3, np.float32)  # 0.1 s
    await asr.carry_out(t.Open("u1"))
    await asr.carry_out(t.Recognise("u1", OPTIONS))
    for _ in range(2):
        await asr.carry_out(t.SendAudio("u1", frame))
    assert isinstance(await asyncio.wait_for(inbox.get(), 1), t.Partial)
    for _ in range(7):
        await asr.carry_out(t.SendAudio("u1", frame))
    await asyncio.sleep(0.05)
    stream = provider.streams[0]
    one = frame.nbytes
    assert stream.sends == [one, one, 3 * one, 3 * one]  # the last frame waits for more
    await asr.carry_out(t.Evaluate("u1", 1))
    assert isinstance(await asyncio.wait_for(inbox.get(), 1), t.Evidence)
    assert stream.evaluated == [0.9]  # the frame waiting went first
    await asr.carry_out(t.SendAudio("u1", frame))
    await asr.carry_out(t.Finish("u1"))
    assert (await asyncio.wait_for(inbox.get(), 1)) == t.Final("u1", final(CAFE))
    assert stream.sends[4:] == [one, one]
    assert stream.received == 10 * one


@pytest.mark.parametrize("end", ["abandon", "finish"])
async def test_an_utterance_let_go_is_freed_without_the_cyclic_collector(end: str) -> None:
    """Its cancelled tasks keep their exceptions, whose tracebacks hold the utterance: kept
    by the utterance, each was a reference cycle, and a streaming server's full collections
    (hundreds of ms on the event loop) were mostly such utterances."""
    provider = ScriptedProvider(
        Script(partials=[(0.5, hypothesis("Je voudrais", 0.5))], final=final(CAFE))
    )
    asr, inbox = relay(provider)
    gc.collect()
    gc.disable()
    try:
        await asr.carry_out(t.Open("u1"))
        await asr.carry_out(t.Recognise("u1", OPTIONS))
        await asr.carry_out(t.SendAudio("u1", SECOND))
        assert isinstance(await asyncio.wait_for(inbox.get(), 1), t.Partial)
        utterance = weakref.ref(asr._utterances["u1"])
        if end == "abandon":
            await asr.carry_out(t.Abandon("u1"))
            await asr.close()
        else:
            await asr.carry_out(t.Finish("u1"))
            assert isinstance(await asyncio.wait_for(inbox.get(), 1), t.Final)
        await asyncio.sleep(0.05)  # the cancelled tasks run to their end
        assert utterance() is None
    finally:
        gc.enable()
