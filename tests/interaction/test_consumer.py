"""The /stream/interaction consumer with a scripted recogniser: protocol, scoring, limits."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import struct
import threading
from dataclasses import replace
from typing import Any

import pytest
from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from config.asgi import application
from interaction import stream_services
from interaction.asr.types import Hypothesis, Word
from interaction.events import EVENT_TYPES
from interaction.models import Attempt, PartialTranscript, ScoreEvent, Session, SessionEvent
from interaction.ws import consumer
from interaction.ws.outbox import Outbox
from interaction.ws.takeover import TakeoverChannelLayer
from tests.asr.whisperlive_peer import evidence_payload
from tests.conftest import scenario_data
from tests.interaction.scripted_asr import Script, ScriptedProvider

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1")]
COMMON = {
    "type",
    "seq",
    "session",
    "score",
    "lives_remaining",
    "lives_total",
    "scoreDelta",
    "livesDelta",
}
CAFE = "Je voudrais un café, s'il vous plaît"


def tone(seconds: float, *, amplitude: float = 0.3, rate: int = 16_000) -> bytes:
    """A voiced-looking signal (a 220 Hz tone) as s16le PCM."""
    count = int(seconds * rate)
    return struct.pack(
        f"<{count}h",
        *(int(amplitude * 32767 * math.sin(2 * math.pi * 220 * i / rate)) for i in range(count)),
    )


def silence(seconds: float) -> bytes:
    return bytes(2 * int(seconds * 16_000))


def hypothesis(text: str, confidence: float, **extra: Any) -> Hypothesis:
    words = tuple(Word(w, 0.0, 0.1, confidence) for w in text.split())
    return Hypothesis(text=text, confidence=confidence, words=words, **extra)


ANSWERS = tuple(answer for turn in scenario_data()["turns"] for answer in turn["answers"])


def final(
    text: str,
    confidence: float = 0.9,
    probabilities: dict[str, float] | None = None,
    *,
    transcript_logprob: float = -0.2,
    answer_logprob: float | None = None,
) -> Hypothesis:
    """A final hypothesis with the evidence the server would send: `probabilities`
    restricted and renormalised; each accepted answer of the test scenario scored
    `answer_logprob` (default: close to the transcript when it is that answer, far off
    otherwise)."""
    raw = probabilities or {"fr": 0.8}
    restricted = {lang: raw.get(lang, 0.0) for lang in ("fr", "en")}
    total = sum(restricted.values()) or 1.0
    restricted = {lang: round(p / total, 4) for lang, p in restricted.items()}
    scores = {
        answer: answer_logprob
        if answer_logprob is not None
        else (transcript_logprob - 0.1 if answer.rstrip(".") == text.rstrip(".") else -6.0)
        for answer in ANSWERS
    }
    evidence = evidence_payload(
        text,
        probabilities=(confidence,) * max(1, len(text.split())),
        language_probabilities=restricted,
        answers=scores,
        transcript_logprob=transcript_logprob,
    )
    return replace(
        hypothesis(text, confidence, language_probabilities=restricted, no_speech=not text),
        final=True,
        audio_ms=2000,
        asr_ms=500,
        evidence=evidence,
    )


def evaluated(text: str, confidence: float = 0.9, **scores: Any) -> Hypothesis:
    """A mid-stream evaluation (final=False) carrying its evidence."""
    return replace(final(text, confidence, **scores), final=False)


BIERE = "Je voudrais une bière"
WRONG = {"answer_logprob": -8.0}
"""No accepted answer explains the audio: a penalty. The answers' words that differ from the
transcript's score about -11 nats each, as on real voices where another word was said in
their place (bench/pause_evidence.py)."""


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch):
    def install(*scripts: Script, unavailable: bool = False) -> ScriptedProvider:
        scripted = ScriptedProvider(*scripts, unavailable=unavailable)
        monkeypatch.setattr(consumer, "get_provider", lambda: scripted)
        return scripted

    return install


@pytest.fixture
def token(learner) -> str:
    return Token.objects.create(user=learner).key


async def connect(token: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, f"/stream/interaction?token={token}", headers=ORIGIN
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def receive(communicator: WebsocketCommunicator, wait: float = 5) -> dict[str, Any]:
    event = json.loads(await communicator.receive_from(timeout=wait))
    expected = set(EVENT_TYPES[event["type"]].__annotations__)
    if event["type"] != "pong":
        assert set(event) >= COMMON, event
        optional: frozenset[str] = getattr(
            EVENT_TYPES[event["type"]], "__optional_keys__", frozenset()
        )
        assert expected - optional <= set(event) <= expected, event
    return event


async def receive_until(communicator, kind: str, wait: float = 5) -> list[dict[str, Any]]:
    events = []
    while True:
        events.append(await receive(communicator, wait))
        if events[-1]["type"] == kind:
            return events


async def start(communicator, scenario: str = "cafe-test") -> dict[str, Any]:
    await communicator.send_json_to({"type": "start", "scenario": scenario})
    ready = await receive(communicator)
    assert ready["type"] == "ready", (ready.get("code"), ready.get("message"))
    return ready


async def test_a_correct_answer_is_committed_after_a_short_silence(
    provider, token, scenario
) -> None:
    """0.3 s after the last word the recogniser evaluates the answer; judged correct in
    memory, it is committed at once (auto), without waiting for a final pass."""
    scripted = provider(
        Script(
            partials=[(0.5, hypothesis("Je voudrais", 0.5)), (1.5, hypothesis(CAFE, 0.93))],
            final=final(CAFE),
            evaluations=[evaluated(CAFE)],
        )
    )
    communicator = await connect(token)
    ready = await start(communicator)
    assert (ready["seq"], ready["score"], ready["lives_remaining"], ready["lives_total"]) == (
        1,
        0,
        3,
        3,
    )
    assert ready["turn"]["index"] == 0

    for _ in range(20):
        await communicator.send_to(bytes_data=tone(0.1))
    await asyncio.sleep(0.3)  # as in real time: the throttled partial goes out meanwhile
    for _ in range(3):  # 0.3 s of trailing silence: the speculative verdict
        await communicator.send_to(bytes_data=silence(0.1))
    events = await receive_until(communicator, "final")
    assert scripted.streams[0].evaluated == [2.3]  # every sample before it, once
    assert (scripted.streams[0].finished, scripted.streams[0].closed) == (False, True)
    partials = [event for event in events if event["type"] == "partial"]
    assert [p["transcript"] for p in partials] == ["Je voudrais", CAFE]
    assert [p["intent"] for p in partials] == [None, CAFE]
    done = events[-1]
    assert (done["auto"], done["outcome"], done["scoreDelta"], done["score"]) == (
        True,
        "correct",
        15,
        15,
    )
    assert (done["turn"]["index"], done["status"]) == (1, "active")
    assert [event["seq"] for event in [ready, *events]] == list(range(1, len(events) + 2))
    options = scripted.streams[0].options
    assert options.candidates == ANSWERS[:2]  # the turn's answers, to be scored
    assert options.other_languages == ("en",)
    await communicator.disconnect()

    session = await database_sync_to_async(Session.objects.get)()
    assert (session.score, session.turn_index, session.mode) == (15, 1, "streaming")
    stored = await database_sync_to_async(
        lambda: list(SessionEvent.objects.values_list("seq", "type"))
    )()
    assert stored == [(e["seq"], e["type"]) for e in [ready, *events]]
    assert await database_sync_to_async(PartialTranscript.objects.count)() == 2
    attempt = await database_sync_to_async(Attempt.objects.get)()
    assert (attempt.source, attempt.auto_finalised, attempt.confidence) == ("audio", True, 0.9)


async def test_stop_judges_a_wrong_language_answer(provider, token, scenario) -> None:
    english = "I would like a coffee please"
    provider(
        Script(
            partials=[(1.0, hypothesis("Je voudrais un café", 0.4))],
            final=final(english, 0.8, {"en": 0.93, "fr": 0.02}),
        )
    )
    communicator = await connect(token)
    await start(communicator)
    for _ in range(15):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "stop"})
    events = await receive_until(communicator, "penalty")
    penalty = events[-1]
    assert penalty["penalty"]["type"] == "wrong_language"
    assert penalty["penalty"]["detected_language"] == "en"
    assert (penalty["livesDelta"], penalty["lives_remaining"], penalty["turn"]["index"]) == (
        -1,
        2,
        0,
    )
    await communicator.disconnect()


async def test_the_last_life_lost_sends_penalty_then_final(provider, token, make_scenario) -> None:
    await database_sync_to_async(make_scenario)(slug="one-life", lives=1)
    provider(Script(final=final("Je voudrais une bière", 0.9)))
    communicator = await connect(token)
    await start(communicator, "one-life")
    for _ in range(10):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "stop"})
    events = await receive_until(communicator, "final")
    assert [e["type"] for e in events[-2:]] == ["penalty", "final"]
    assert (events[-1]["status"], events[-1]["livesDelta"]) == ("failed", 0)
    await communicator.send_to(bytes_data=tone(0.1))
    error = await receive(communicator)
    assert (error["type"], error["code"]) == ("error", "session_finished")
    await communicator.disconnect()


async def test_an_unclear_answer_resets_and_keeps_the_turn_and_the_lives(
    provider, token, scenario
) -> None:
    # The recogniser was unsure what it heard, and no accepted answer explains the audio.
    provider(Script(final=final("Supply, sil Commission", 0.4, transcript_logprob=-2.0)))
    communicator = await connect(token)
    await start(communicator)
    for _ in range(10):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "stop"})
    reset = await receive(communicator)
    assert (reset["type"], reset["reason"]) == ("reset", "unclear")
    assert (reset["livesDelta"], reset["scoreDelta"], reset["lives_remaining"]) == (0, 0, 3)
    await communicator.disconnect()

    attempt = await database_sync_to_async(Attempt.objects.get)()
    assert (attempt.outcome, attempt.lives_delta, attempt.turn_index) == ("unclear", 0, 0)
    assert attempt.evidence["transcript"] == "Supply, sil Commission"
    assert attempt.evidence["verdict"]["outcome"] == "unclear"
    session = await database_sync_to_async(Session.objects.get)()
    assert (session.turn_index, session.lives_remaining) == (0, 3)
    ledger = await database_sync_to_async(lambda: list(session.ledger.values_list("reason")))()
    assert ledger == [("session_start",)]


async def test_silence_or_an_empty_stop_resets_without_a_penalty(provider, token, scenario):
    provider(Script(final=final("")))
    communicator = await connect(token)
    await start(communicator)
    await communicator.send_json_to({"type": "stop"})
    reset = await receive(communicator)
    assert (reset["type"], reset["reason"], reset["livesDelta"]) == ("reset", "no_speech", 0)
    for _ in range(5):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "stop"})
    reset = await receive(communicator)
    assert (reset["type"], reset["reason"]) == ("reset", "no_speech")
    assert await database_sync_to_async(
        lambda: list(Attempt.objects.values_list("outcome", flat=True))
    )() == ["no_speech"]
    await communicator.disconnect()


async def test_reset_discards_the_utterance(provider, token, scenario) -> None:
    scripted = provider(Script(partials=[(0.2, hypothesis("Je", 0.5))], final=final(CAFE)))
    communicator = await connect(token)
    await start(communicator)
    for _ in range(5):
        await communicator.send_to(bytes_data=tone(0.1))
    await receive_until(communicator, "partial")  # heard: the utterance's stream is open
    await communicator.send_json_to({"type": "reset"})
    reset = await receive(communicator)
    assert (reset["type"], reset["reason"]) == ("reset", "asked")
    await asyncio.sleep(0.1)
    assert (scripted.streams[0].closed, scripted.streams[0].finished) == (True, False)
    await communicator.disconnect()


async def test_resume_replays_missed_events_and_numbers_on(provider, token, scenario) -> None:
    provider(
        Script(
            partials=[(1.0, hypothesis(CAFE, 0.95))],
            final=final(CAFE),
            evaluations=[evaluated(CAFE)],
        ),
        Script(final=final("Sur place, s'il vous plaît")),
    )
    first = await connect(token)
    ready = await start(first)
    for _ in range(10):  # exactly the first utterance: more audio would open a second one
        await first.send_to(bytes_data=tone(0.1))
    for _ in range(3):
        await first.send_to(bytes_data=silence(0.1))
    events = await receive_until(first, "final")
    await first.disconnect()

    second = await connect(token)
    await second.send_json_to({"type": "start", "session": ready["session"], "last_seq": 1})
    replayed = [await receive(second) for _ in events]
    assert replayed == events
    resumed = await receive(second)
    assert (resumed["type"], resumed["resumed"], resumed["seq"]) == (
        "ready",
        True,
        events[-1]["seq"] + 1,
    )
    assert (resumed["turn"]["index"], resumed["score"]) == (1, 15)
    for _ in range(10):
        await second.send_to(bytes_data=tone(0.1))
    await second.send_json_to({"type": "stop"})
    done = await receive_until(second, "final")
    assert (done[-1]["status"], done[-1]["seq"]) == ("completed", resumed["seq"] + len(done))
    await second.disconnect()
    session = await database_sync_to_async(Session.objects.get)()
    assert (session.score, session.status) == (25, "completed")
    rows = await database_sync_to_async(lambda: list(ScoreEvent.objects.all()))()
    assert sum(row.score_delta for row in rows) == 25


async def test_a_second_connection_takes_the_session_over(provider, token, scenario) -> None:
    provider()
    first = await connect(token)
    ready = await start(first)
    second = await connect(token)
    await second.send_json_to({"type": "start", "session": ready["session"], "last_seq": 1})
    assert (await receive(second))["type"] == "ready"
    superseded = await receive(first)
    assert (superseded["type"], superseded["code"]) == ("error", "superseded")
    assert (await first.receive_output(timeout=2))["type"] == "websocket.close"
    await second.disconnect()


async def test_only_a_resume_tells_other_connections_to_let_go(
    provider, token, scenario, monkeypatch
) -> None:
    """A session just opened has no other connection to tell (a round trip to Redis saved
    on every opening); a resumed one does."""
    told: list[str] = []
    group_send = TakeoverChannelLayer.group_send

    async def spied(self, group: str, message: dict[str, Any]) -> None:
        told.append(message["type"])
        await group_send(self, group, message)

    monkeypatch.setattr(TakeoverChannelLayer, "group_send", spied)
    provider()
    first = await connect(token)
    ready = await start(first)
    assert told == []
    second = await connect(token)
    await second.send_json_to({"type": "start", "session": ready["session"], "last_seq": 1})
    assert (await receive(second))["type"] == "ready"
    assert told.count(consumer.TAKEOVER) == 1
    await first.disconnect()
    await second.disconnect()


async def test_asr_outage_falls_back_to_http(provider, token, scenario) -> None:
    provider(unavailable=True)
    communicator = await connect(token)
    await start(communicator)
    await communicator.send_to(bytes_data=tone(0.3))
    error = await receive(communicator)
    assert (error["code"], error["fallback"], error["retryable"]) == (
        "asr_unavailable",
        "http",
        True,
    )
    assert (await receive(communicator))["reason"] == "asr_unavailable"
    await communicator.disconnect()


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        (["{not json"], "bad_json"),
        (['{"type": "dance"}'], "unknown_type"),
        (['["start"]'], "unknown_type"),
        (['{"type": "stop"}'], "not_started"),
        ([b"\x00\x01" * 100], "not_started"),
        (['{"type": "start", "scenario": "nope"}'], "unknown_scenario"),
        (['{"type": "start", "scenario": "cafe-test", "sample_rate": 1000}'], "bad_sample_rate"),
        (['{"type": "start", "scenario": "cafe-test", "encoding": "mp3"}'], "bad_encoding"),
        (['{"type": "start"}'], "bad_message"),
        (['{"type": "start", "session": "not-a-uuid"}'], "unknown_session"),
        (['{"type": "ping"}'], "bad_message"),
        ([b"\x00" * (64 * 1024 + 2)], "frame_too_large"),
    ],
)
async def test_bad_input_gets_an_error_event(provider, token, scenario, frames, code) -> None:
    provider()
    communicator = await connect(token)
    for frame in frames:
        if isinstance(frame, bytes):
            await communicator.send_to(bytes_data=frame)
        else:
            await communicator.send_to(text_data=frame)
    error = await receive(communicator)
    assert (error["type"], error["code"]) == ("error", code), error
    assert error["message"]
    # the connection is still usable afterwards
    await communicator.send_json_to({"type": "ping", "t": 1.5})
    assert await receive(communicator) == {"type": "pong", "t": 1.5}
    await communicator.disconnect()


async def test_an_utterance_past_its_maximum_is_discarded(provider, token, scenario, settings):
    settings.STREAM_LIMITS = {"max_utterance_s": 1.0, "silence_end_s": 5.0}
    provider(Script(final=final(CAFE)))
    communicator = await connect(token)
    await start(communicator)
    for _ in range(12):
        await communicator.send_to(bytes_data=tone(0.1))
    error = await receive(communicator)
    assert error["code"] == "utterance_too_long"
    assert (await receive(communicator))["reason"] == "too_long"
    await communicator.disconnect()


async def test_anonymous_connections_are_refused(scenario) -> None:
    communicator = WebsocketCommunicator(application, "/stream/interaction", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    error = await receive(communicator)
    assert error["code"] == "unauthenticated"
    assert (await communicator.receive_output(timeout=2))["type"] == "websocket.close"


async def test_foreign_origins_are_refused(token) -> None:
    communicator = WebsocketCommunicator(
        application,
        f"/stream/interaction?token={token}",
        headers=[(b"origin", b"http://evil.example")],
    )
    connected, _ = await communicator.connect()
    assert not connected


@pytest.fixture
def slow_opening(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Session openings wait (on the socket's database thread) until the event is set."""
    release = threading.Event()
    session_open = stream_services.stream_session_open

    def waiting(**kwargs: Any):
        assert release.wait(5), "the test never let the opening go on"
        return session_open(**kwargs)

    monkeypatch.setattr(stream_services, "stream_session_open", waiting)
    return release


async def test_a_ping_is_answered_while_the_session_opens(
    provider, token, scenario, slow_opening
) -> None:
    """The opening waits on the database; a ping sent meanwhile (the web client pings from
    the moment it sends its start) is answered at once. Audio and a stop sent before the
    session is ready are handled after the opening, in order, not refused as too early."""
    provider(Script(final=final(CAFE)))
    communicator = await connect(token)
    await communicator.send_json_to({"type": "start", "scenario": "cafe-test"})
    await communicator.send_json_to({"type": "ping", "t": 1})
    assert await receive(communicator) == {"type": "pong", "t": 1}
    for _ in range(5):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "stop"})
    slow_opening.set()
    events = await receive_until(communicator, "final")
    assert [event["type"] for event in events] == ["ready", "final"]
    assert (events[-1]["outcome"], events[-1]["scoreDelta"]) == ("correct", 15)
    await communicator.disconnect()


async def test_a_session_opened_after_its_socket_closed_is_let_go(
    provider, token, scenario, slow_opening
) -> None:
    """The learner goes away while the session opens: the disconnect waits for the opening
    and then lets go of the session, as it does of one opened before."""
    provider()
    communicator = await connect(token)
    await communicator.send_json_to({"type": "start", "scenario": "cafe-test"})
    await asyncio.sleep(0.1)  # the opening waits
    closing = asyncio.create_task(communicator.disconnect())
    await asyncio.sleep(0.1)
    assert not closing.done()  # the disconnect waits for the opening
    slow_opening.set()
    await closing
    owners = await database_sync_to_async(
        lambda: list(Session.objects.values_list("stream_owner", flat=True))
    )()
    assert owners == [""]


async def test_a_stop_while_the_answer_is_being_judged_changes_nothing(
    provider, token, scenario, monkeypatch
) -> None:
    provider(
        Script(
            partials=[(0.5, hypothesis(CAFE, 0.95))],
            final=final(CAFE),
            evaluations=[evaluated(CAFE)],
        )
    )
    release = asyncio.Event()
    record = Outbox.record

    async def slow_record(self: Outbox, **kwargs: Any):
        await release.wait()  # the answer is still being recorded
        return await record(self, **kwargs)

    monkeypatch.setattr(Outbox, "record", slow_record)
    communicator = await connect(token)
    await start(communicator)
    for _ in range(5):  # exactly the answer: more voiced audio would open a new utterance
        await communicator.send_to(bytes_data=tone(0.1))
    for _ in range(3):
        await communicator.send_to(bytes_data=silence(0.1))
    assert (await receive(communicator))["type"] == "partial"
    await asyncio.sleep(0.3)  # the speculative verdict is correct: it is being committed
    await communicator.send_json_to({"type": "stop"})
    await communicator.send_json_to({"type": "ping", "t": 1})
    assert (await receive(communicator))["type"] == "pong"  # and no reset came first
    release.set()
    done = await receive(communicator)
    assert (done["type"], done["auto"], done["outcome"]) == ("final", True, "correct")
    await communicator.disconnect()


async def test_audio_after_the_end_is_reported_once(provider, token, make_scenario) -> None:
    await database_sync_to_async(make_scenario)(slug="short", lives=1)
    provider(Script(final=final("Je voudrais une bière", 0.9)))
    communicator = await connect(token)
    await start(communicator, "short")
    for _ in range(5):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "stop"})
    await receive_until(communicator, "final")
    for _ in range(10):  # the microphone keeps sending
        await communicator.send_to(bytes_data=tone(0.1))
    assert (await receive(communicator))["code"] == "session_finished"
    await communicator.send_json_to({"type": "ping", "t": 2})
    assert await receive(communicator) == {"type": "pong", "t": 2}
    await communicator.disconnect()


async def test_an_idle_connection_is_closed(provider, token, scenario, settings) -> None:
    settings.STREAM_IDLE_TIMEOUT_S = 0.3
    provider()
    communicator = await connect(token)
    await start(communicator)
    error = await receive(communicator)
    assert (error["code"], error["retryable"]) == ("idle", True)
    closed = await communicator.receive_output(timeout=2)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4000)


async def test_an_answer_begun_during_judging_is_scored_against_the_next_turn(
    provider, token, scenario
) -> None:
    scripted = provider(
        Script(final=final(CAFE)), Script(final=final("Sur place, s'il vous plaît"))
    )
    release = asyncio.Event()
    original = scripted.open_stream

    async def open_with_slow_first_final(options, **kwargs):
        stream = await original(options, **kwargs)
        if len(scripted.streams) == 1:
            finish = stream.finish

            async def slow_finish():
                await release.wait()
                return await finish()

            stream.finish = slow_finish
        return stream

    scripted.open_stream = open_with_slow_first_final
    communicator = await connect(token)
    await start(communicator)
    for _ in range(5):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "stop"})
    await asyncio.sleep(0.2)
    for _ in range(5):  # the learner answers the next turn before the verdict arrives
        await communicator.send_to(bytes_data=tone(0.1))
    await asyncio.sleep(0.2)
    release.set()
    assert (await receive(communicator))["outcome"] == "correct"
    await communicator.send_json_to({"type": "stop"})
    done = await receive_until(communicator, "final")
    assert done[-1]["status"] == "completed"
    assert scripted.streams[1].options.candidates == (
        "Sur place, s'il vous plaît",
        "À emporter, s'il vous plaît",
    )
    await communicator.disconnect()


async def test_audio_the_recogniser_has_not_taken_is_bounded_in_seconds(
    provider, token, scenario
) -> None:
    """The backlog bound counts seconds of audio, whatever the frame size."""
    scripted = provider()
    never = asyncio.Event()

    async def stuck_open(options, **kwargs):
        await never.wait()  # the ASR server accepts the connection but never gets ready

    scripted.open_stream = stuck_open
    communicator = await connect(token)
    await start(communicator)
    for _ in range(8):  # 16 s in 8 frames of 2 s: past the 10 s bound
        await communicator.send_to(bytes_data=tone(2.0))
    error = await receive(communicator)
    assert (error["code"], error["retryable"]) == ("overloaded", True)
    await communicator.disconnect()


async def test_a_pause_mid_sentence_is_never_cut_off(provider, token, scenario) -> None:
    """The first half alone would be a penalty; the learner goes on after 0.7 s: that
    speculative verdict is dropped, and the whole answer is judged after the second half."""
    scripted = provider(
        Script(
            final=final(CAFE),
            evaluations=[evaluated("Je voudrais", **WRONG), evaluated(CAFE)],
        )
    )
    communicator = await connect(token)
    await start(communicator)
    for block in [tone(0.1)] * 10 + [silence(0.1)] * 7 + [tone(0.1)] * 10 + [silence(0.1)] * 3:
        await communicator.send_to(bytes_data=block)
    events = await receive_until(communicator, "final")
    assert [e["type"] for e in events] == ["final"]
    assert (events[0]["outcome"], events[0]["auto"], events[0]["livesDelta"]) == (
        "correct",
        True,
        0,
    )
    assert scripted.streams[0].evaluated == [1.3, 3.0]
    assert not scripted.streams[0].finished
    assert await database_sync_to_async(
        lambda: list(Attempt.objects.values_list("outcome", "transcript"))
    )() == [("correct", CAFE)]
    await communicator.disconnect()


async def test_a_penalty_waits_for_the_long_silence(provider, token, scenario) -> None:
    """Judged in memory after 0.3 s, a penalty is not committed then; after 1.0 s of silence
    the verdict comes from the final pass over the whole utterance."""
    scripted = provider(Script(final=final(BIERE), evaluations=[evaluated(BIERE, **WRONG)]))
    communicator = await connect(token)
    await start(communicator)
    for block in [tone(0.1)] * 10 + [silence(0.1)] * 5:
        await communicator.send_to(bytes_data=block)
    await asyncio.sleep(0.1)
    assert scripted.streams[0].evaluated == [1.3]  # judged in memory: a penalty...
    assert await communicator.receive_nothing(timeout=0.3)  # ... not committed after 0.5 s
    for _ in range(5):  # 1.0 s of silence: now it is
        await communicator.send_to(bytes_data=silence(0.1))
    penalty = await receive(communicator)
    assert (penalty["type"], penalty["outcome"], penalty["livesDelta"]) == (
        "penalty",
        "incorrect_answer",
        -1,
    )
    assert (penalty["transcript"], scripted.streams[0].finished) == (BIERE, True)
    await communicator.disconnect()


async def test_the_stop_after_a_speculative_penalty_takes_the_final_pass(
    provider, token, scenario
) -> None:
    """Only a correct answer is committed from the speculation; a stop after a speculative
    penalty gets the verdict of the final pass over the whole utterance (as time-stop)."""
    scripted = provider(Script(final=final(CAFE), evaluations=[evaluated(BIERE, **WRONG)]))
    communicator = await connect(token)
    await start(communicator)
    for block in [tone(0.1)] * 10 + [silence(0.1)] * 4:
        await communicator.send_to(bytes_data=block)
    await asyncio.sleep(0.1)
    await communicator.send_json_to({"type": "stop"})
    done = await receive(communicator)
    assert (done["type"], done["outcome"], done["auto"]) == ("final", "correct", False)
    assert scripted.streams[0].evaluated == [1.3]
    assert scripted.streams[0].finished
    await communicator.disconnect()


async def test_without_an_evaluation_the_end_waits_for_the_final_pass(
    provider, token, scenario
) -> None:
    scripted = provider(Script(final=final(CAFE), evaluations=[]))  # cannot evaluate
    communicator = await connect(token)
    await start(communicator)
    for block in [tone(0.1)] * 10 + [silence(0.1)] * 10:
        await communicator.send_to(bytes_data=block)
    done = await receive(communicator)
    assert (done["type"], done["outcome"], done["auto"]) == ("final", "correct", False)
    assert scripted.streams[0].finished
    await communicator.disconnect()


async def test_a_correct_verdict_after_the_learner_went_on_is_dropped(
    provider, token, scenario
) -> None:
    """Voice comes back while the evaluation is on its way: even a correct verdict is not
    committed; the answer is judged at its real end."""
    scripted = provider(
        Script(final=final(CAFE), evaluations=[evaluated(CAFE), evaluated(BIERE, **WRONG)])
    )
    gate = asyncio.Event()
    original = scripted.open_stream

    async def open_slow_first_evaluation(options, **kwargs):
        stream = await original(options, **kwargs)
        evaluate = stream.evaluate

        async def slow_evaluate():
            if not stream.evaluated:
                await gate.wait()
            return await evaluate()

        stream.evaluate = slow_evaluate
        return stream

    scripted.open_stream = open_slow_first_evaluation
    communicator = await connect(token)
    await start(communicator)
    for block in [tone(0.1)] * 10 + [silence(0.1)] * 3 + [tone(0.1)] * 5:
        await communicator.send_to(bytes_data=block)
    await asyncio.sleep(0.1)
    gate.set()
    assert await communicator.receive_nothing(timeout=0.3)
    for _ in range(10):
        await communicator.send_to(bytes_data=silence(0.1))
    done = await receive(communicator)  # the second pause's penalty: from the final pass
    assert (done["type"], done["outcome"], done["auto"]) == ("final", "correct", False)
    first, second = scripted.streams[0].evaluated
    # The first ran late (gated): past the 1.3 s queued when it was asked (how much more
    # depends on the relay's chunks), the second over everything before its pause.
    assert 1.3 < first < second == 2.1
    await communicator.disconnect()


async def test_the_tail_of_an_answer_committed_early_is_not_the_next_answer(
    provider, token, scenario, settings
) -> None:
    """With tail_hold_s: 'Un café, s'il vous plaît' is committed 0.3 s after its last word;
    the learner goes on a moment later: those words are not judged as the next turn's
    answer. After 1.0 s of silence the next answer opens as usual."""
    settings.STREAM_LIMITS = {**settings.STREAM_LIMITS, "tail_hold_s": 1.0}
    scripted = provider(
        Script(final=final(CAFE), evaluations=[evaluated(CAFE)]),
        Script(final=final("Sur place, s'il vous plaît")),
    )
    communicator = await connect(token)
    await start(communicator)
    for block in [tone(0.1)] * 10 + [silence(0.1)] * 3:
        await communicator.send_to(bytes_data=block)
    assert (await receive_until(communicator, "final"))[-1]["auto"] is True
    for block in [silence(0.1)] * 4 + [tone(0.1)] * 5 + [silence(0.1)] * 10:
        await communicator.send_to(bytes_data=block)
    assert await communicator.receive_nothing(timeout=0.3)
    assert len(scripted.streams) == 1  # the tail opened no utterance
    for _ in range(5):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "stop"})
    done = await receive_until(communicator, "final")
    assert (done[-1]["outcome"], done[-1]["status"]) == ("correct", "completed")
    assert len(scripted.streams) == 2
    await communicator.disconnect()


async def test_a_stop_just_after_an_early_verdict_changes_nothing(
    provider, token, scenario
) -> None:
    """The verdict committed 0.3 s after the last word and the learner's stop cross on the
    wire: the stop is not an empty answer (no `reset`)."""
    provider(Script(final=final(CAFE), evaluations=[evaluated(CAFE)]))
    communicator = await connect(token)
    await start(communicator)
    for block in [tone(0.1)] * 10 + [silence(0.1)] * 3:
        await communicator.send_to(bytes_data=block)
    assert (await receive_until(communicator, "final"))[-1]["auto"] is True
    await communicator.send_json_to({"type": "stop"})
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


class ClientGone:
    """The server's side of a socket the client has closed: once `gone`, a send raises what
    Daphne raises ("Attempt to send on a closed protocol") before the disconnect arrives."""

    def __init__(self, app: Any) -> None:
        self.app, self.gone = app, False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_or_fail(message: dict[str, Any]) -> None:
            if self.gone and message["type"] in ("websocket.send", "websocket.close"):
                raise Disconnected("Attempt to send on a closed protocol")
            await send(message)

        await self.app(scope, receive, send_or_fail)


async def test_audio_in_flight_after_the_end_to_a_closed_socket_is_no_exception(
    provider, token, make_scenario, caplog
) -> None:
    """The session ends while the microphone's frames are still on the way, and the client
    closes: the `session_finished` reply goes to a closed socket. A client that goes away is
    normal: no exception in the application, nothing logged above INFO."""
    await database_sync_to_async(make_scenario)(slug="short-gone", lives=1)
    provider(Script(final=final("Je voudrais une bière", 0.9)))
    app = ClientGone(application)
    communicator = WebsocketCommunicator(app, f"/stream/interaction?token={token}", headers=ORIGIN)
    assert (await communicator.connect())[0]
    await start(communicator, "short-gone")
    for _ in range(5):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "stop"})
    await receive_until(communicator, "final")
    app.gone = True  # the client closed; its last frames are still arriving
    for _ in range(5):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "ping", "t": 3})
    assert await communicator.receive_nothing(timeout=0.5)
    assert not communicator.future.done()  # the application is still there, no traceback
    await communicator.disconnect()
    assert not [r for r in caplog.records if r.levelno > logging.INFO], caplog.records
