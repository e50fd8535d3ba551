"""The takeover signal's channel layer: Redis when it is there, the database when it is not.

Redis carries only one thing for the socket: `stream.takeover`, sent to a session's group when
another connection resumes it, so the old connection closes at once with `superseded`. It is
a courtesy, not the guard: every write of a stream checks `Session.stream_owner` under the
session's row lock (`stream_services`), so an old connection that missed the signal is
refused at its next write and lets go then.

So a Redis outage must not take the sockets with it. Channels' consumer awaits its channel
layer's `receive` next to the socket's own messages, and an exception there crashed the
consumer (1011, and `disconnect()` never ran), and no socket could open. This layer turns
every Redis failure into a degraded mode instead: sends and group changes give up after
`OPERATION_TIMEOUT_S` and are skipped, `receive` waits and tries again with a backoff, and
the process logs one line when Redis goes and one when it comes back. Groups joined while
Redis was away are joined again when it is back, so those connections hear later takeovers.
The learner is told nothing: nothing they see changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from channels_redis.core import RedisChannelLayer
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

OPERATION_TIMEOUT_S = 1.0
RECEIVE_BACKOFF_S = (0.5, 5.0)  # first wait after a failed receive, and the longest
_FAILURES = (RedisError, OSError, TimeoutError)
_FAILED = object()

T = TypeVar("T")


class TakeoverChannelLayer(RedisChannelLayer):
    """`RedisChannelLayer` that degrades instead of raising when Redis is unreachable."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.degraded = False
        self.missed_groups: set[tuple[str, str]] = set()  # joined while Redis was away
        self._rejoining: asyncio.Task[None] | None = None

    async def group_add(self, group: str, channel: str) -> None:
        if await self._quietly(super().group_add(group, channel), "group_add") is _FAILED:
            self.missed_groups.add((group, channel))

    async def group_discard(self, group: str, channel: str) -> None:
        self.missed_groups.discard((group, channel))
        await self._quietly(super().group_discard(group, channel), "group_discard")

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await self._quietly(super().group_send(group, message), "group_send")

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self._quietly(super().send(channel, message), "send")

    async def receive(self, channel: str) -> dict[str, Any]:
        """The next message for `channel`; while Redis is away, wait for it to come back."""
        backoff = RECEIVE_BACKOFF_S[0]
        while True:
            try:
                message: dict[str, Any] = await super().receive(channel)
            except _FAILURES as failure:
                self._went_away(failure, "receive")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, RECEIVE_BACKOFF_S[1])
                continue
            self._came_back()
            return message

    async def _quietly(self, operation: Awaitable[T], what: str) -> T | object:
        try:
            async with asyncio.timeout(OPERATION_TIMEOUT_S):
                result = await operation
        except _FAILURES as failure:
            self._went_away(failure, what)
            return _FAILED
        self._came_back()
        return result

    async def _rejoin(self) -> None:
        for group, channel in list(self.missed_groups):
            self.missed_groups.discard((group, channel))
            await self.group_add(group, channel)

    def _went_away(self, failure: BaseException, what: str) -> None:
        if self.degraded:
            return
        self.degraded = True
        logger.warning(
            "Redis is unreachable (%s: %s): takeover signals are off; the database owner "
            "check still guards every session",
            what,
            type(failure).__name__,
        )

    def _came_back(self) -> None:
        if self.degraded:
            self.degraded = False
            logger.warning("Redis is back: takeover signals are on again")
        if self.missed_groups and (self._rejoining is None or self._rejoining.done()):
            self._rejoining = asyncio.ensure_future(self._rejoin())
