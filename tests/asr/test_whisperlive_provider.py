"""The WhisperLive provider against a scripted peer speaking WhisperLive's protocol."""

from __future__ import annotations

import asyncio
import gc
import socket
import time
import weakref

import numpy as np
import pytest
from websockets.protocol import State

from interaction.asr import whisperlive_stream
from interaction.asr.confidence import SegmentStats, utterance_confidence
from interaction.asr.hypotheses import final_hypothesis, partial_hypothesis
from interaction.asr.types import AsrError, AsrUnavailable, Hypothesis, RecognitionOptions
from interaction.asr.whisperlive import WhisperLiveProvider
from tests.asr.whisperlive_peer import Script, ScriptedPeer, evidence_payload, final_message

FRENCH = RecognitionOptions(
    language="fr", other_languages=("en", "de"), candidates=("Je voudrais un café.",)
)


def audio(seconds: float) -> bytes:
    return np.zeros(int(16_000 * seconds), dtype=np.float32).tobytes()


def provider(
    *urls: str, connect_timeout: float = 1.0, read_timeout: float = 2.0, final_timeout: float = 1.0
) -> WhisperLiveProvider:
    return WhisperLiveProvider(
        list(urls),
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        final_timeout=final_timeout,
    )


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"ws://127.0.0.1:{port}"


async def test_transcribe_sends_whisperlive_options_and_returns_the_final():
    async with ScriptedPeer(Script(final=final_message())) as peer:
        hypothesis = await provider(peer.url).transcribe(audio(2.5), FRENCH)

    conn = peer.connections[0]
    assert conn.options["language"] == "fr"
    assert conn.options["task"] == "transcribe"
    assert conn.options["use_vad"] is True
    assert conn.options["word_timestamps"] is True
    assert conn.options["uid"]
    assert conn.options["parley"] == {
        "target_language": "fr",
        "other_languages": ["en", "de"],
        "candidates": ["Je voudrais un café."],
        "streaming": False,
        "reuse": False,
    }
    assert "initial_prompt" not in conn.options  # the candidates are scored, never prompted
    assert "hotwords" not in conn.options
    assert conn.end_of_audio
    assert conn.audio_bytes == len(audio(2.5))
    assert max(len(f) for f in conn.frames) <= 16_000 * 4  # at most one second per frame

    assert hypothesis.final
    assert hypothesis.text == "Je voudrais un café."
    assert [w.word for w in hypothesis.words] == ["Je", "voudrais", "un"]
    assert hypothesis.confidence == pytest.approx(
        utterance_confidence([0.9, 0.8, 0.7], [SegmentStats(0.0, 2.0, 0.1)])
    )
    assert hypothesis.language == "fr"
    assert hypothesis.language_probability == pytest.approx(0.9)
    assert hypothesis.language_probabilities == {"fr": 0.9, "en": 0.1}
    assert not hypothesis.no_speech
    assert hypothesis.audio_ms == 2000
    assert hypothesis.asr_ms > 0
    assert hypothesis.evidence == final_message()["evidence"]


@pytest.mark.parametrize("streaming", [True, False])
async def test_no_prompt_is_ever_sent(streaming):
    async with ScriptedPeer(Script(final=final_message())) as peer:
        options = RecognitionOptions(language="fr", candidates=("Oui",))
        stream = await provider(peer.url).open_stream(options, streaming=streaming)
        await stream.finish()
    (sent,) = (conn.options for conn in peer.connections)
    assert "initial_prompt" not in sent
    assert "hotwords" not in sent
    assert sent["parley"]["candidates"] == ["Oui"]


async def test_an_http_proxy_in_the_environment_is_not_used_for_the_asr(monkeypatch):
    """ASR servers are on the deployment's own network: a proxy set for outbound HTTP (here
    one that refuses every connection) must not carry the utterance."""
    monkeypatch.setenv("HTTP_PROXY", closed_port_url().replace("ws://", "http://"))
    monkeypatch.setenv("ALL_PROXY", closed_port_url().replace("ws://", "http://"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with ScriptedPeer(Script(final=final_message())) as peer:
        hypothesis = await provider(peer.url).transcribe(audio(0.5), FRENCH)
    assert hypothesis.text == "Je voudrais un café."


async def test_evaluate_returns_the_evidence_so_far_while_the_stream_goes_on():
    def evidence(received: int) -> dict:
        return evidence_payload("Je voudrais" if received < 64_000 else "Je voudrais un café.")

    script = Script(final=final_message(), evidence=evidence)
    async with ScriptedPeer(script) as peer:
        stream = await provider(peer.url).open_stream(FRENCH)
        await stream.send_audio(audio(0.5))
        early = await stream.evaluate()
        await stream.send_audio(audio(1.0))
        later = await stream.evaluate()
        final = await stream.finish()

    conn = peer.connections[0]
    assert conn.evaluations == [(1, 32_000), (2, 96_000)]
    assert (early.text, early.final, later.text, later.final) == (
        "Je voudrais",
        False,
        "Je voudrais un café.",
        False,
    )
    assert early.evidence["transcript"] == "Je voudrais"
    assert conn.audio_bytes == len(audio(1.5))  # the evaluations were not taken for audio
    assert final.final
    assert final.text == "Je voudrais un café."


async def test_a_failed_evaluation_is_an_error_and_the_stream_goes_on():
    async with ScriptedPeer(Script(final=final_message(), evidence=lambda _: None)) as peer:
        stream = await provider(peer.url).open_stream(FRENCH)
        await stream.send_audio(audio(0.5))
        with pytest.raises(AsrError, match="boom"):
            await stream.evaluate()
        final = await stream.finish()
    assert final.text == "Je voudrais un café."


async def test_an_unanswered_evaluation_times_out():
    async with ScriptedPeer(Script(final=final_message())) as peer:
        stream = await provider(peer.url, final_timeout=0.3).open_stream(FRENCH)
        with pytest.raises(AsrError, match=r"no evidence within 0\.3 s"):
            await stream.evaluate()
        await stream.close()


async def test_stream_yields_partials_then_the_final():
    def segments(received: int) -> list[dict] | None:
        seconds = received / 64_000
        if seconds < 1:
            return None
        if seconds < 2:
            return [
                {
                    "start": "0.000",
                    "end": "1.000",
                    "text": " Je voudrais",
                    "completed": False,
                    "words": [
                        {"word": " Je", "start": "0.100", "end": "0.300", "probability": 0.9},
                        {"word": " voudrais", "start": "0.300", "end": "0.900", "probability": 0.5},
                    ],
                }
            ]
        # Completed by repetition: WhisperLive sends it without words.
        return [
            {"start": "0.000", "end": "1.000", "text": " Je voudrais", "completed": True},
            {
                "start": "1.000",
                "end": "2.000",
                "text": " un café",
                "completed": False,
                "words": [
                    {"word": " un", "start": "1.100", "end": "1.300", "probability": 0.7},
                    {"word": " café", "start": "1.300", "end": "1.900", "probability": 0.8},
                ],
            },
        ]

    script = Script(segments=segments, final=final_message(), warning_first=True)
    async with ScriptedPeer(script) as peer:
        stream = await provider(peer.url).open_stream(FRENCH)
        assert peer.connections[0].options["parley"]["streaming"] is True
        seen = []
        both_seen = asyncio.Event()

        async def read() -> None:
            async for partial in stream.partials():
                seen.append(partial)
                if len(seen) == 2:
                    both_seen.set()

        reader = asyncio.create_task(read())
        for _ in range(25):  # 2.5 s in 100 ms chunks
            await stream.send_audio(audio(0.1))
        async with asyncio.timeout(2):
            await both_seen.wait()
        final = await stream.finish()
        await reader

    assert [p.text for p in seen] == ["Je voudrais", "Je voudrais un café"]  # repeats dropped
    assert not any(p.final for p in seen)
    assert [w.word for w in seen[1].words] == ["Je", "voudrais", "un", "café"]
    assert seen[1].confidence == pytest.approx((0.9 + 0.5 + 0.7 + 0.8) / 4)
    assert seen[1].audio_ms == 2000
    assert final.final
    assert final.text == "Je voudrais un café."


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        ("wait", "busy (WAIT, about 2.5 min)"),
        ("error", "error: Failed to load model"),
        ("hang", "no SERVER_READY within 0.5 s"),
        ("close", "closed the connection before SERVER_READY"),
        ("garbage", "not JSON"),
    ],
)
async def test_pool_skips_a_server_that_does_not_take_the_utterance(first, reason):
    async with (
        ScriptedPeer(Script(before_ready=first)) as bad,
        ScriptedPeer(Script(final=final_message())) as good,
    ):
        asr = provider(bad.url, good.url, connect_timeout=0.5)
        hypothesis = await asr.transcribe(audio(1), FRENCH)
        assert hypothesis.text == "Je voudrais un café."
        assert good.connections[0].end_of_audio

        bad.script = Script(before_ready=first)
        with pytest.raises(AsrUnavailable) as excinfo:
            await provider(bad.url, connect_timeout=0.5).transcribe(audio(1), FRENCH)
    assert reason in str(excinfo.value)


async def test_unavailable_lists_what_every_server_said():
    refused = closed_port_url()
    async with ScriptedPeer(Script(before_ready="wait")) as busy:
        started = time.perf_counter()
        with pytest.raises(AsrUnavailable) as excinfo:
            await provider(refused, busy.url).transcribe(audio(1), FRENCH)
    message = str(excinfo.value)
    assert f"{refused}: " in message
    assert "Connect" in message or "refused" in message.lower()
    assert f"{busy.url}: busy (WAIT" in message
    assert time.perf_counter() - started < 2


async def test_servers_are_tried_in_rotating_order():
    async with (
        ScriptedPeer(Script(final=final_message())) as one,
        ScriptedPeer(Script(final=final_message())) as two,
    ):
        asr = provider(one.url, two.url)
        for _ in range(4):
            await asr.transcribe(audio(0.2), FRENCH)
    assert len(one.connections) == len(two.connections) == 2


async def test_a_server_dropping_a_clip_is_retried_on_the_next():
    async with (
        ScriptedPeer(Script(at_end="close")) as dropper,
        ScriptedPeer(Script(final=final_message())) as good,
    ):
        hypothesis = await provider(dropper.url, good.url).transcribe(audio(1), FRENCH)
    assert hypothesis.text == "Je voudrais un café."
    assert dropper.connections[0].end_of_audio


async def test_no_final_within_the_timeout_is_an_error():
    async with ScriptedPeer(Script(at_end="hang")) as peer:
        started = time.perf_counter()
        with pytest.raises(AsrError, match=r"no final result within 0\.3 s") as excinfo:
            await provider(peer.url, final_timeout=0.3).transcribe(audio(1), FRENCH)
    assert not isinstance(excinfo.value, AsrUnavailable)
    assert time.perf_counter() - started < 2


async def test_a_failed_final_pass_is_an_error():
    async with ScriptedPeer(Script(at_end="error_final")) as peer:
        with pytest.raises(AsrError, match="boom"):
            await provider(peer.url).transcribe(audio(1), FRENCH)


async def test_a_server_error_mid_stream_fails_the_utterance():
    async with ScriptedPeer(Script(error_after_bytes=64_000, at_end="hang")) as peer:
        stream = await provider(peer.url).open_stream(FRENCH)
        await stream.send_audio(audio(1))
        with pytest.raises(AsrError, match="GPU fell"):
            await stream.finish()


async def test_close_is_idempotent_and_ends_partials():
    async with ScriptedPeer(Script(final=final_message())) as peer:
        stream = await provider(peer.url).open_stream(FRENCH)
        await stream.send_audio(audio(0.2))
        await stream.close()
        await stream.close()
        assert [p async for p in stream.partials()] == []
        with pytest.raises(AsrError):
            await stream.send_audio(audio(0.1))


async def test_a_closed_stream_is_freed_without_the_cyclic_collector():
    """Its keepalive task, cancelled and never awaited, kept the stream in a reference cycle
    (with its connection's every object): freed only by a full collection, a long pause."""
    async with ScriptedPeer(Script(final=final_message())) as peer:
        gc.collect()
        gc.disable()
        try:
            stream = await provider(peer.url).open_stream(FRENCH)
            await stream.send_audio(audio(0.2))
            await stream.finish()
            freed = weakref.ref(stream)
            del stream
            await asyncio.sleep(0.05)
            assert freed() is None
        finally:
            gc.enable()


async def test_a_server_sending_partials_is_not_pinged():
    """Messages are proof enough that the server is alive: pings go to a silent one."""

    def segments(received: int) -> list[dict] | None:
        return [{"start": "0.000", "end": "0.100", "text": f" mot{received}"}]

    async with ScriptedPeer(Script(segments=segments, final=final_message())) as peer:
        pool = WhisperLiveProvider([peer.url], keepalive_interval=0.1, keepalive_timeout=1.0)
        stream = await pool.open_stream(FRENCH)
        pings = 0
        ping = stream._ws.ping

        async def counted_ping(*args, **kwargs):
            nonlocal pings
            pings += 1
            return await ping(*args, **kwargs)

        stream._ws.ping = counted_ping  # type: ignore[method-assign]
        for _ in range(6):
            await stream.send_audio(audio(0.05))
            await asyncio.sleep(0.05)
        assert pings == 0  # a partial every 0.05 s
        await asyncio.sleep(0.35)
        assert pings >= 2  # silent: pinged every 0.1 s
        await stream.finish()


async def test_silence_gives_no_speech():
    final = final_message("")
    async with ScriptedPeer(Script(final=final)) as peer:
        hypothesis = await provider(peer.url).transcribe(audio(2.5), FRENCH)
    assert hypothesis.no_speech
    assert hypothesis.text == ""
    assert hypothesis.confidence == 0.0
    assert hypothesis.language is None
    assert hypothesis.language_probabilities == {}


async def test_send_audio_rejects_partial_samples():
    async with ScriptedPeer(Script(final=final_message())) as peer:
        stream = await provider(peer.url).open_stream(FRENCH)
        with pytest.raises(ValueError, match="multiple of 4"):
            await stream.send_audio(b"\x00\x00\x00")
        await stream.close()


def test_partial_hypothesis_reads_whisperlive_segments():
    hypothesis = partial_hypothesis(
        [
            {
                "start": "0.000",
                "end": "1.200",
                "text": " Bonjour",
                "completed": True,
                "words": [
                    {"word": " Bonjour", "start": "0.100", "end": "0.900", "probability": 0.6}
                ],
            },
            {"start": "1.200", "end": "1.800", "text": "  ", "completed": False},
        ]
    )
    assert hypothesis.text == "Bonjour"
    assert hypothesis.words[0].start == pytest.approx(0.1)
    assert hypothesis.confidence == pytest.approx(0.6)
    assert hypothesis.audio_ms == 1200
    assert not hypothesis.final


def test_final_hypothesis_without_evidence_is_no_speech():
    hypothesis = final_hypothesis(
        {"type": "parley.final", "evidence": {"audio_s": 1.5, "no_speech": True}}
    )
    assert hypothesis.no_speech
    assert hypothesis.final
    assert hypothesis.audio_ms == 1500
    assert hypothesis.confidence == 0.0


# --------------------------------------------------------------- kept connections (reuse)


async def streamed_answer(pool: WhisperLiveProvider, seconds: float = 0.3) -> Hypothesis:
    stream = await pool.open_stream(FRENCH)
    await stream.send_audio(audio(seconds))
    return await stream.finish()


async def test_the_next_streamed_utterance_starts_on_the_connection_the_server_kept():
    async with ScriptedPeer(Script(final=final_message())) as peer:
        pool = provider(peer.url)
        first = await streamed_answer(pool)
        assert len(pool.kept) == 1
        second = await streamed_answer(pool)

    assert first.text == second.text == "Je voudrais un café."
    assert peer.sockets == 1
    assert [c.end_of_audio for c in peer.connections] == [True, True]
    assert [c.reuse for c in peer.connections] == [True, True]
    assert peer.connections[0].options["uid"] != peer.connections[1].options["uid"]
    assert peer.connections[1].audio_bytes == len(audio(0.3))  # nothing of the first's


async def test_a_server_that_closes_after_the_final_gets_a_connection_per_utterance():
    async with ScriptedPeer(Script(final=final_message(), keeps=False)) as peer:
        pool = provider(peer.url)
        for _ in range(2):
            assert (await streamed_answer(pool)).final
        await asyncio.sleep(0.05)
        assert len(pool.kept) == 0

    assert peer.sockets == 2
    assert pool.breakers[peer.url].last_failure is None


async def test_a_kept_connection_closed_as_the_next_utterance_starts_is_passed_over():
    """The server's idle bound ran out just as the options came: a new connection takes
    the utterance, and the server is not counted as failing."""
    async with ScriptedPeer(Script(final=final_message(), closes_kept=True)) as peer:
        pool = provider(peer.url)
        await streamed_answer(pool)
        assert (await streamed_answer(pool)).text == "Je voudrais un café."

    assert peer.sockets == 2
    assert len(peer.connections) == 2  # the closed one carried no utterance
    assert pool.breakers[peer.url].last_failure is None


async def test_an_abandoned_utterance_is_cancelled_and_its_connection_kept():
    """An answer judged at a pause needs no final: the server drops the utterance without
    a pass and keeps the connection."""
    async with ScriptedPeer(Script(final=final_message())) as peer:
        pool = provider(peer.url)
        stream = await pool.open_stream(FRENCH)
        await stream.send_audio(audio(0.2))
        await stream.close()  # the relay's abandon
        assert len(pool.kept) == 1
        await streamed_answer(pool)

    assert peer.sockets == 1
    assert [c.cancelled for c in peer.connections] == [True, False]
    assert not peer.connections[0].end_of_audio


@pytest.mark.parametrize("script", [Script(keeps=False), Script(on_cancel="ignore")])
async def test_an_abandoned_utterance_not_confirmed_closes_its_connection(
    script: Script, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(whisperlive_stream, "CANCEL_TIMEOUT_S", 0.2)
    async with ScriptedPeer(script) as peer:
        pool = provider(peer.url)
        stream = await pool.open_stream(FRENCH)
        await stream.send_audio(audio(0.2))
        await stream.close()
        assert len(pool.kept) == 0
        assert stream._ws.state is State.CLOSED


async def test_a_failed_utterance_never_leaves_its_connection_to_the_next():
    async with ScriptedPeer(Script(at_end="error_final")) as peer:
        pool = provider(peer.url)
        with pytest.raises(AsrError, match="boom"):
            await streamed_answer(pool)
        assert len(pool.kept) == 0


async def test_an_earlier_utterances_late_messages_are_skipped():
    """A late reply names its own utterance's uid: before SERVER_READY it is no refusal,
    after it no final of this utterance."""
    strays = (
        {"uid": "earlier", "status": "ERROR", "message": "not yours"},
        {"uid": "earlier", "type": "parley.final", "error": "not yours"},
        {"uid": "earlier", "segments": [{"start": "0.000", "end": "0.5", "text": "nope"}]},
    )
    async with ScriptedPeer(Script(final=final_message(), strays=strays)) as peer:
        pool = provider(peer.url)
        stream = await pool.open_stream(FRENCH)
        await stream.send_audio(audio(0.3))
        hypothesis = await stream.finish()

    assert hypothesis.text == "Je voudrais un café."
    assert [p async for p in stream.partials()] == []


async def test_kept_connections_are_closed_once_idle_past_keep_idle_s():
    async with ScriptedPeer(Script(final=final_message())) as peer:
        pool = WhisperLiveProvider([peer.url], final_timeout=1.0, keep_idle_s=0.1)
        first = await pool.open_stream(FRENCH)
        kept_ws = first._ws
        await first.finish()
        await asyncio.sleep(0.15)
        await streamed_answer(pool)
        await asyncio.sleep(0.05)
        assert kept_ws.state is State.CLOSED

    assert peer.sockets == 2


async def test_keep_idle_s_zero_asks_for_no_reuse_and_keeps_nothing():
    async with ScriptedPeer(Script(final=final_message())) as peer:
        pool = WhisperLiveProvider([peer.url], final_timeout=1.0, keep_idle_s=0)
        for _ in range(2):
            await streamed_answer(pool)

    assert peer.sockets == 2
    assert [c.reuse for c in peer.connections] == [False, False]


async def test_past_the_cap_the_oldest_kept_connection_is_closed():
    async with ScriptedPeer(Script(final=final_message())) as peer:
        pool = provider(peer.url)
        pool.kept.most = 1
        streams = [await pool.open_stream(FRENCH) for _ in range(2)]  # two at once
        for stream in streams:
            await stream.send_audio(audio(0.1))
        await asyncio.gather(*(stream.finish() for stream in streams))
        await asyncio.sleep(0.05)

        assert len(pool.kept) == 1
        assert streams[0]._ws.state is State.CLOSED
        assert streams[1]._ws.state is State.OPEN


async def test_a_whole_clip_neither_takes_nor_leaves_a_kept_connection():
    """`transcribe` runs through `async_to_sync`, on a loop that may last one call."""
    async with ScriptedPeer(Script(final=final_message())) as peer:
        pool = provider(peer.url)
        await streamed_answer(pool)
        await pool.transcribe(audio(0.3), FRENCH)
        assert len(pool.kept) == 1

    assert peer.sockets == 2
