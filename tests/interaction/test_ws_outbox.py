"""interaction/ws/outbox.py: the stream's only writer numbers, sends and counts its events,
carries out the turn's commands for the learner, and tells the turn the turn due.

(Storing in batches and recording answers are exercised through the socket, with the
database, in test_consumer.py, test_ws_session.py and tests/reliability/test_socket_db.py.)"""

from __future__ import annotations

import json
from typing import Any

from interaction.asr.types import Hypothesis
from interaction.events import Standing, reset_event
from interaction.stream_selectors import StreamContext
from interaction.ws import turn as t
from interaction.ws.outbox import Outbox


class Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, *, text_data: str) -> None:
        self.sent.append(json.loads(text_data))


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def event(self, event: dict[str, Any]) -> None:
        self.events.append(event["type"])


def context(**overrides: Any) -> StreamContext:
    values: dict[str, Any] = {
        "session_id": "s1",
        "status": "active",
        "mode": "streaming",
        "standing": Standing(session="s1", score=15, lives_remaining=2, lives_total=3),
        "language": "fr",
        "turn": None,
        "answers": (),
        "other_languages": (),
        "answer_similarity": 85.0,
        "event_seq": 4,
    }
    return StreamContext(**(values | overrides))


def reset(seq: int, standing: Standing) -> Any:
    return reset_event(seq=seq, standing=standing, reason="asked", utterance=None)


async def test_before_a_session_events_carry_seq_0() -> None:
    socket = Socket()
    outbox = Outbox(send=socket.send, owner="o", flush_interval_s=60)
    await outbox.emit(reset)
    assert (socket.sent[0]["seq"], socket.sent[0]["session"]) == (0, None)
    assert outbox.pending == 0


async def test_events_are_numbered_after_the_sessions_last_with_its_standing() -> None:
    socket, recorder = Socket(), Recorder()
    outbox = Outbox(send=socket.send, owner="o", flush_interval_s=60, recorder=recorder)  # type: ignore[arg-type]
    outbox.attach(context())
    await outbox.emit(reset)
    await outbox.emit(reset)
    assert [event["seq"] for event in socket.sent] == [5, 6]
    assert (socket.sent[0]["score"], socket.sent[0]["lives_remaining"]) == (15, 2)
    assert outbox.pending == 2  # stored a moment later, in one batch
    assert recorder.events == ["reset", "reset"]
    outbox.unstored.keep()


async def test_after_a_takeover_nothing_is_numbered_or_stored() -> None:
    socket = Socket()
    outbox = Outbox(send=socket.send, owner="o", flush_interval_s=60)
    outbox.attach(context())
    outbox.supersede()
    await outbox.emit(reset)
    assert socket.sent[0]["seq"] == 0
    assert outbox.pending == 0


CAFE = "Je voudrais un café, s'il vous plaît"


async def test_attaching_a_session_tells_the_turn_the_turn_due() -> None:
    outbox = Outbox(send=Socket().send, owner="o", flush_interval_s=60)
    outbox.attach(context(answers=(CAFE,), answer_similarity=80.0))
    expect = outbox.inbox.get_nowait()
    assert isinstance(expect, t.Expect)
    assert (expect.answers.texts, expect.answers.language) == ((CAFE,), "fr")
    assert expect.answers.intent_similarity == 80.0
    assert expect.options is not None
    assert expect.options.candidates == (CAFE,)


async def test_a_partial_is_sent_with_its_intent_and_left_to_be_stored_with_its_row() -> None:
    socket = Socket()
    outbox = Outbox(send=socket.send, owner="o", flush_interval_s=60)
    outbox.attach(context(answers=(CAFE,), turn={"index": 2}))
    hypothesis = Hypothesis(text="je voudrais un cafe", confidence=0.91234, audio_ms=1200)
    partial = t.Partial("u1", hypothesis, latency_ms=340)
    await outbox.carry_out(t.SendPartial(partial, intent=CAFE, similarity=91.5))
    sent = socket.sent[0]
    assert (sent["type"], sent["seq"], sent["intent"], sent["confidence"]) == (
        "partial",
        5,
        CAFE,
        0.9123,
    )
    assert (sent["similarity"], sent["utterance"], sent["audio_ms"]) == (91.5, "u1", 1200)
    row = outbox.unstored.partials[0]
    assert (row.turn_index, row.seq, row.latency_ms, row.utterance) == (2, 5, 340, "u1")
    outbox.unstored.keep()


async def test_resets_and_errors_are_sent_as_the_turn_says() -> None:
    socket = Socket()
    outbox = Outbox(send=socket.send, owner="o", flush_interval_s=60)
    await outbox.carry_out(t.SendError("asr_busy", "busy", retryable=True))
    await outbox.carry_out(t.SendError("asr_unavailable", "down", retryable=True, fallback=True))
    await outbox.carry_out(t.SendReset("asr_unavailable", "u1"))
    busy, down, reset = socket.sent
    assert (busy["code"], busy["retryable"], "fallback" in busy) == ("asr_busy", True, False)
    assert down["fallback"] == "http"
    assert (reset["type"], reset["reason"]) == ("reset", "asr_unavailable")
    assert reset["utterance"] == "u1"
