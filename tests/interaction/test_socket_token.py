"""The socket's `?token=` lookup: once per learner while it is fresh, never past its TTL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from config import auth
from config.asgi import application
from tests.interaction.scripted_asr import ScriptedProvider

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = [(b"origin", b"http://127.0.0.1")]


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(
        "interaction.ws.consumer.get_provider", lambda: ScriptedProvider(), raising=True
    )
    auth.socket_tokens.clear()
    yield
    auth.socket_tokens.clear()


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every token the middleware looked up in the database."""
    seen: list[str] = []
    lookup = auth._user_for_token

    async def counted(*, key: str) -> Any:
        seen.append(key)
        return await lookup(key=key)

    monkeypatch.setattr(auth, "_user_for_token", counted)
    return seen


@pytest.fixture
def token(learner) -> str:
    return Token.objects.create(user=learner).key


async def authenticated(token: str) -> bool:
    """Whether a socket opened with `token` was let in (refused: `unauthenticated`, 4401)."""
    communicator = WebsocketCommunicator(
        application, f"/stream/interaction?token={token}", headers=ORIGIN
    )
    connected, _ = await communicator.connect()
    assert connected
    try:
        if await communicator.receive_nothing(timeout=0.2):
            return True
        event = json.loads(await communicator.receive_from())
        assert event["code"] == "unauthenticated", event
        return False
    finally:
        await communicator.disconnect()


async def test_sockets_of_one_token_look_it_up_once(token, lookups) -> None:
    assert await authenticated(token)
    assert await authenticated(token)
    assert await authenticated(token)

    assert lookups == [token]


async def test_a_deleted_token_is_refused_once_its_entry_expires(
    token, lookups, monkeypatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(auth.socket_tokens, "clock", lambda: clock[0])
    assert await authenticated(token)
    await database_sync_to_async(Token.objects.filter(key=token).delete)()

    clock[0] += auth.SOCKET_TOKEN_TTL_S - 1
    assert await authenticated(token)  # still fresh: no lookup

    clock[0] += 2
    assert not await authenticated(token)
    assert lookups == [token, token]


async def test_unknown_tokens_are_refused_and_do_not_grow_the_cache_unbounded(
    lookups, monkeypatch
) -> None:
    monkeypatch.setattr(auth.socket_tokens, "size", 2)
    for key in ("a" * 40, "b" * 40, "c" * 40):
        assert not await authenticated(key)
    assert not await authenticated("a" * 40)  # forgotten (the oldest): looked up again

    assert lookups == ["a" * 40, "b" * 40, "c" * 40, "a" * 40]
    assert len(auth.socket_tokens._entries) == 2
