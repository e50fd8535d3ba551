"""The socket after an ASR refusal: one error per utterance, busy is not an outage, no hosts.

The real WhisperLive provider talks to a scripted peer on loopback (the ASR's answers are
scripted; the provider's connections, breaker and timeouts are the product's own).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from config.asgi import application
from interaction.asr.whisperlive import WhisperLiveProvider
from interaction.models import SessionEvent
from interaction.ws import consumer
from tests.asr.whisperlive_peer import Script, ScriptedPeer
from tests.interaction.test_consumer import ORIGIN, silence, start, tone

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(learner) -> str:
    return Token.objects.create(user=learner).key


async def drain(communicator: WebsocketCommunicator, settle_s: float = 1.0) -> list[dict[str, Any]]:
    """Every event sent within `settle_s` (a ping/pong marks the end; a receive timeout would
    cancel the application)."""
    await asyncio.sleep(settle_s)
    await communicator.send_json_to({"type": "ping", "t": 1})
    events = []
    while (event := json.loads(await communicator.receive_from(timeout=5)))["type"] != "pong":
        events.append(event)
    return events


async def speak(communicator: WebsocketCommunicator, seconds: float) -> None:
    """`seconds` of voice as 100 ms frames, then 1.5 s of silence (the utterance's end)."""
    for _ in range(round(seconds * 10)):
        await communicator.send_to(bytes_data=tone(0.1))
        await asyncio.sleep(0.01)
    for _ in range(15):
        await communicator.send_to(bytes_data=silence(0.1))


def no_host_in(event: dict[str, Any], url: str) -> bool:
    text = json.dumps(event)
    return url not in text and "127.0.0.1" not in text and "Errno" not in text


async def test_a_refused_answer_is_one_error_not_one_per_frame(
    monkeypatch, token, scenario
) -> None:
    """Before: 11 error + reset pairs for one 2.8 s answer, a new ASR connection per frame."""
    async with ScriptedPeer(Script(before_ready="wait")) as full:
        monkeypatch.setattr(consumer, "get_provider", lambda: WhisperLiveProvider([full.url]))
        communicator = WebsocketCommunicator(
            application, f"/stream/interaction?token={token}", headers=ORIGIN
        )
        assert (await communicator.connect())[0]
        ready = await start(communicator)
        await speak(communicator, 2.8)
        first = await drain(communicator)
        await speak(communicator, 1.0)  # the next answer: refused once too
        second = await drain(communicator)
        await communicator.disconnect()
        connections = len(full.connections)

    for events in (first, second):
        assert [(e["type"], e.get("code") or e.get("reason")) for e in events] == [
            ("error", "asr_busy"),
            ("reset", "asr_unavailable"),
        ], events
        error = events[0]
        assert error["retryable"] is True
        assert "fallback" not in error  # busy: wait a moment; the time-stop POST is no better
        assert "try again in a moment" in error["message"]
        assert no_host_in(error, full.url)
    assert connections <= 2
    stored = await asyncio.to_thread(
        lambda: list(
            SessionEvent.objects.filter(session_id=ready["session"]).values_list("type", flat=True)
        )
    )
    assert stored.count("error") == 2


async def test_a_server_that_is_down_falls_back_to_http_without_naming_it(
    monkeypatch, token, scenario, unused_tcp_port
) -> None:
    dead = f"ws://127.0.0.1:{unused_tcp_port}"
    monkeypatch.setattr(consumer, "get_provider", lambda: WhisperLiveProvider([dead]))
    communicator = WebsocketCommunicator(
        application, f"/stream/interaction?token={token}", headers=ORIGIN
    )
    assert (await communicator.connect())[0]
    await start(communicator)
    await speak(communicator, 1.0)
    events = await drain(communicator)
    await communicator.disconnect()
    assert [e["type"] for e in events] == ["error", "reset"], events
    error = events[0]
    assert (error["code"], error["fallback"], error["retryable"]) == (
        "asr_unavailable",
        "http",
        True,
    )
    assert no_host_in(error, dead)
    assert str(unused_tcp_port) not in error["message"]
