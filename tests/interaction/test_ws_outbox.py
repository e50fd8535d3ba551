"""interaction/ws/outbox.py: the stream's only writer numbers, sends and counts its events.

(Storing in batches and recording answers are exercised through the socket, with the
database, in test_consumer.py and tests/reliability/test_socket_db.py.)"""

from __future__ import annotations

import json
from typing import Any

from interaction.events import Standing, reset_event
from interaction.stream_selectors import StreamContext
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
