"""The socket and the database: a held row lock stalls only its own socket, a failed store
loses no event, and a takeover stores every event the old connection sent.

In-process (Channels' communicator, the real Postgres and Redis), with the scripted
recogniser; the lock is a real `SELECT … FOR UPDATE` from a connection of the test's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from rest_framework.authtoken.models import Token

from interaction.models import Session, SessionEvent
from tests.interaction.scripted_asr import Script
from tests.interaction.test_consumer import (
    CAFE,
    connect,
    final,
    provider,  # noqa: F401  (a fixture)
    receive,
    receive_until,
    start,
    tone,
)
from tests.reliability.row_lock import lock_waiters, session_row_locked, wait_for_lock_waiter

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tokens(make_learner) -> dict[str, str]:
    return {name: Token.objects.create(user=make_learner(name)).key for name in ("x", "y", "z")}


async def stored_events(session_id: str) -> dict[int, dict[str, Any]]:
    """On a thread of its own: a socket call stuck on the shared thread must not hang this."""

    def read() -> dict[int, dict[str, Any]]:
        try:
            rows = SessionEvent.objects.filter(session_id=session_id).order_by("seq")
            return {row.seq: row.payload for row in rows}
        finally:
            connection.close()

    return await asyncio.to_thread(read)


def numbered(events: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {event["seq"]: event for event in events if event.get("seq")}


async def speak_and_stop(communicator) -> None:
    for _ in range(5):
        await communicator.send_to(bytes_data=tone(0.1))
    await communicator.send_json_to({"type": "stop"})


async def test_a_held_row_lock_stalls_only_its_own_socket(
    provider,  # noqa: F811
    tokens,
    scenario,
    settings,
) -> None:
    """X's session row is locked by another client and X stops: X's store waits on the lock.
    Meanwhile Y's ping is answered, Y's answer judged and a new socket opens, all while X
    still waits; then X hears a retryable error (lock_timeout), still under the lock, and
    nothing X was sent is lost."""
    # long enough to act while X waits (the statement bound too, or it ends the wait first)
    settings.STREAM_DB = {"lock_timeout_ms": 4000, "statement_timeout_ms": 5000}
    settings.STREAM_LIMITS = {"flush_interval_s": 60.0}  # X's ready waits for the record
    provider(Script(final=final(CAFE)), Script(final=final(CAFE)))
    x, y = await connect(tokens["x"]), await connect(tokens["y"])
    x_events = [await start(x)]
    await start(y)

    with session_row_locked(x_events[0]["session"]):
        await speak_and_stop(x)
        await asyncio.to_thread(wait_for_lock_waiter)  # X's record waits on the lock

        await y.send_json_to({"type": "ping", "t": 7})
        assert await receive(y) == {"type": "pong", "t": 7}
        await speak_and_stop(y)
        y_final = (await receive_until(y, "final"))[-1]
        assert (y_final["outcome"], y_final["score"]) == ("correct", 15)
        z = await connect(tokens["z"])
        await start(z)
        assert await asyncio.to_thread(lock_waiters) == 1  # X still waits: nothing above did

        x_events += await receive_until(x, "reset", wait=10)
        error = x_events[-2]
        assert (error["type"], error["code"], error["retryable"]) == (
            "error",
            "database_unavailable",
            True,
        )
        assert x_events[-1]["reason"] == "database_unavailable"
        assert (error["score"], error["lives_remaining"]) == (0, 3)

    for communicator in (x, y, z):
        await communicator.disconnect()
    session = await database_sync_to_async(Session.objects.get)(pk=x_events[0]["session"])
    assert (session.score, session.lives_remaining, session.turn_index) == (0, 3, 0)
    # the batch taken for the failed record was put back and stored at the close
    assert await stored_events(session.pk) == numbered(x_events)


async def test_the_flusher_outlives_a_failed_store_and_a_resume_misses_nothing(
    provider,  # noqa: F811
    tokens,
    scenario,
    settings,
) -> None:
    """While the row is locked the flusher stores nothing of this session (it skips a
    locked row rather than wait on it, and puts the batch back); once it is free the
    waiting events are stored by the flusher itself, without a close, and a resume from 0
    replays every one of them from seq 1."""
    settings.STREAM_DB = {"lock_timeout_ms": 200}
    settings.STREAM_LIMITS = {"flush_interval_s": 0.2}
    provider()
    x = await connect(tokens["x"])
    received = [await start(x)]
    session_id = received[0]["session"]
    with session_row_locked(session_id):
        for _ in range(3):
            await x.send_json_to({"type": "reset"})
            received.append(await receive(x))
        await asyncio.sleep(0.7)  # flushes every 0.2 s meanwhile, each one skipping the row
        assert await stored_events(session_id) == {}
    for _ in range(100):  # the flusher retries on its own: the guard is 10 s
        if await stored_events(session_id) == numbered(received):
            break
        await asyncio.sleep(0.1)
    assert await stored_events(session_id) == numbered(received)

    resumed = await connect(tokens["x"])
    await resumed.send_json_to({"type": "start", "session": session_id, "last_seq": 0})
    replayed = [await receive(resumed) for _ in received]
    assert replayed == received
    assert (await receive(resumed))["seq"] == len(received) + 1
    await resumed.disconnect()
    await x.disconnect()


async def test_every_event_sent_before_a_takeover_is_stored(
    provider,  # noqa: F811
    tokens,
    scenario,
    settings,
) -> None:
    """Twenty takeovers, each after events the old connection sent but had not stored yet:
    every numbered event a client received is stored, with the same content, once."""
    settings.STREAM_LIMITS = {"flush_interval_s": 60.0}  # nothing is stored by the timer
    provider()
    current = await connect(tokens["x"])
    received = [await start(current)]
    session_id = received[0]["session"]
    for _ in range(20):
        await current.send_json_to({"type": "reset"})
        received.append(await receive(current))
        following = await connect(tokens["x"])
        await following.send_json_to(
            {"type": "start", "session": session_id, "last_seq": received[-1]["seq"]}
        )
        ready = await receive(following)
        assert (ready["type"], ready["seq"]) == ("ready", received[-1]["seq"] + 1), ready
        received.append(ready)
        superseded = await receive(current)
        assert (superseded["code"], superseded["seq"]) == ("superseded", 0)
        assert (await current.receive_output(timeout=2))["type"] == "websocket.close"
        current = following
    await current.disconnect()
    assert await stored_events(session_id) == numbered(received)
    assert len(numbered(received)) == 41
