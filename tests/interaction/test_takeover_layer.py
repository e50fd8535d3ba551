"""The takeover signal's channel layer without Redis: it degrades, it never raises."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest

from interaction.ws.takeover import TakeoverChannelLayer


@pytest.fixture
def unreachable() -> TakeoverChannelLayer:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    return TakeoverChannelLayer(hosts=[f"redis://127.0.0.1:{port}/0"], prefix="parley-test-down")


async def test_without_redis_signals_are_skipped_and_said_once(unreachable, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="interaction.ws.takeover")
    channel = await unreachable.new_channel()
    started = time.monotonic()
    await unreachable.group_send("stream-session-x", {"type": "stream.takeover", "owner": "a"})
    await unreachable.group_add("stream-session-x", channel)
    await unreachable.group_discard("stream-session-x", channel)
    assert time.monotonic() - started < 3
    assert unreachable.degraded
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1, warnings
    assert "takeover signals are off" in warnings[0]
    assert "the database owner check still guards every session" in warnings[0]


async def test_receive_waits_for_redis_instead_of_raising(unreachable) -> None:
    """Before: the exception ended the consumer (1011, and `disconnect()` never ran)."""
    channel = await unreachable.new_channel()
    receiving = asyncio.ensure_future(unreachable.receive(channel))
    await asyncio.sleep(1.5)  # several failed attempts meanwhile
    assert not receiving.done()
    receiving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await receiving


async def test_a_group_joined_while_redis_was_away_is_remembered(unreachable) -> None:
    channel = await unreachable.new_channel()
    await unreachable.group_add("stream-session-y", channel)
    assert unreachable.missed_groups == {("stream-session-y", channel)}
    await unreachable.group_discard("stream-session-y", channel)  # the socket went meanwhile
    assert not unreachable.missed_groups
