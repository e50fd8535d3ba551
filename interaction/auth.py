"""WebSocket authentication by API token (`?token=<key>`), beside Django's session cookie."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from interaction.selectors import learner_for_token_get

SOCKET_TOKEN_TTL_S = 30.0
"""How long a looked-up token stands for its learner when more sockets open with it, in s.

A socket keeps the learner it opened with for its whole life (as it always has); the cache
only spares the lookup when the same learner opens sockets again soon (reconnects, resumes,
a second tab). A token deleted (or a learner deactivated) within this time still opens
sockets in a process that has it cached, for at most this long."""
SOCKET_TOKEN_CACHE_SIZE = 10_000
"""Most tokens remembered per process (the oldest are forgotten first)."""

# One read with no transaction: it need not wait in the thread-sensitive queue behind other
# sockets' database work (a handshake waiting there past Daphne's connect timeout is dropped).
_user_for_token = database_sync_to_async(learner_for_token_get, thread_sensitive=False)


class TokenCache:
    """Token key → learner (or None: no such active learner), for `ttl_s` seconds."""

    def __init__(
        self, *, ttl_s: float, size: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s, self.size, self.clock = ttl_s, size, clock
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str) -> tuple[bool, Any]:
        """(True, learner or None) when known and fresh, else (False, None)."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        if entry[0] <= self.clock():
            del self._entries[key]
            return False, None
        return True, entry[1]

    def put(self, key: str, user: Any) -> None:
        self._entries[key] = (self.clock() + self.ttl_s, user)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


socket_tokens = TokenCache(ttl_s=SOCKET_TOKEN_TTL_S, size=SOCKET_TOKEN_CACHE_SIZE)


async def socket_learner_for_token(key: str) -> Any:
    """The active learner of an API token for a new socket, or None; cached briefly."""
    known, user = socket_tokens.get(key)
    if not known:
        user = await _user_for_token(key=key)
        socket_tokens.put(key, user)
    return user


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from `?token=`; without one, leaves the session's user in place."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        keys = query.get("token")
        if keys:
            user = await socket_learner_for_token(keys[0])
            scope = {**scope, "user": user or AnonymousUser()}
        return await super().__call__(scope, receive, send)
