"""The /stream/interaction consumer: parse a frame, hand it to the StreamingSession, reply.

Thin on purpose: no ORM work and no scoring here (see interaction/streaming.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

from channels.db import aclose_old_connections
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from interaction.asr import get_provider
from interaction.events import Standing, error_event, pong_event
from interaction.streaming import StreamError, StreamingSession
from telemetry import metrics

logger = logging.getLogger(__name__)

MAX_AUDIO_FRAME_BYTES = 64 * 1024
MAX_TEXT_FRAME_BYTES = 4 * 1024
CLIENT_TYPES = ("start", "stop", "reset", "ping")
CLOSE_IDLE, CLOSE_SUPERSEDED = 4000, 4001
TAKEOVER = "stream.takeover"


def session_group(session_id: str) -> str:
    return f"stream-session-{session_id}"


class InteractionConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale DB connections (a thread hop) before every message; audio
        # frames never touch the ORM, and the DB work goes through database_sync_to_async,
        # which does that in its own thread. So audio frames skip it.
        if message.get("type") == "websocket.receive" and message.get("bytes") is not None:
            await self.websocket_receive(message)
            return
        await aclose_old_connections()
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.stream: StreamingSession | None = None
        self.idle_task: asyncio.Task[None] | None = None
        self.group: str | None = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self._error(StreamError("unauthenticated", "Log in or pass ?token=<api token>."))
            await self.close(code=4401)
            return
        self.stream = StreamingSession(
            learner=user,
            provider=get_provider(),
            send=self._send_event,
            bias_mode=settings.ASR_BIAS_MODE,
        )
        await self.accept()
        metrics.STREAM_CONNECTIONS.inc()
        self.last_seen = time.monotonic()
        self.idle_task = asyncio.create_task(self._close_when_idle())

    async def disconnect(self, code: int) -> None:
        if self.idle_task is not None:
            self.idle_task.cancel()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.stream is not None:
            metrics.STREAM_CONNECTIONS.dec()
            await self.stream.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.stream is None:
            return
        self.last_seen = time.monotonic()
        try:
            if bytes_data is not None:
                if len(bytes_data) > MAX_AUDIO_FRAME_BYTES:
                    raise StreamError("frame_too_large", "Audio frames may be at most 64 KiB.")
                await self.stream.audio(bytes_data)
                return
            await self._control(self._parse(text_data or ""))
        except StreamError as failure:
            await self._error(failure)
            if failure.fatal:
                await self.close(code=4400)

    def _parse(self, text: str) -> dict[str, Any]:
        if len(text) > MAX_TEXT_FRAME_BYTES:
            raise StreamError("frame_too_large", "Text frames may be at most 4 KiB.")
        try:
            message = json.loads(text)
        except json.JSONDecodeError as error:
            raise StreamError("bad_json", f"The frame is not JSON: {error.msg}.") from None
        if not isinstance(message, dict) or message.get("type") not in CLIENT_TYPES:
            raise StreamError("unknown_type", f"type must be one of {', '.join(CLIENT_TYPES)}.")
        return message

    async def _control(self, message: dict[str, Any]) -> None:
        assert self.stream is not None
        kind = message["type"]
        if kind == "ping":
            t = message.get("t")
            if not isinstance(t, int | float) or isinstance(t, bool):
                raise StreamError("bad_message", "ping needs a number t.")
            await self.send(text_data=json.dumps(pong_event(t=t)))
        elif kind == "start":
            await self.stream.start(**_start_arguments(message))
            await self._join_session_group()
        elif kind == "stop":
            await self.stream.stop()
        elif kind == "reset":
            await self.stream.reset()

    async def _join_session_group(self) -> None:
        """Tell any other connection of this session to let go, then listen for the same."""
        assert self.stream is not None
        assert self.stream.context is not None
        self.group = session_group(self.stream.context.session_id)
        await self.channel_layer.group_send(
            self.group, {"type": TAKEOVER, "owner": self.stream.owner}
        )
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def stream_takeover(self, message: dict[str, Any]) -> None:
        if self.stream is None or message["owner"] == self.stream.owner:
            return
        self.stream.superseded = True
        await self._error(
            StreamError("superseded", "This session was resumed by another connection.", fatal=True)
        )
        await self.close(code=CLOSE_SUPERSEDED)

    async def _send_event(self, event: dict[str, Any]) -> None:
        metrics.STREAM_EVENTS.labels(event["type"]).inc()
        if event["type"] == "error":
            metrics.STREAM_ERRORS.labels(event["code"]).inc()
        await self.send(text_data=json.dumps(event))

    async def _error(self, failure: StreamError) -> None:
        if self.stream is not None:
            await self.stream.error(failure)
            return
        event = error_event(
            seq=0,
            standing=Standing(session=None),
            code=failure.code,
            message=str(failure),
            retryable=failure.retryable,
        )
        await self.send(text_data=json.dumps(event))

    async def _close_when_idle(self) -> None:
        """One watchdog per connection (not a timer per frame): close after a silent spell."""
        timeout = settings.STREAM_IDLE_TIMEOUT_S
        while True:
            wait = self.last_seen + timeout - time.monotonic()
            if wait <= 0:
                break
            await asyncio.sleep(wait)  # a frame may have come meanwhile: check again
        await self._error(
            StreamError("idle", f"No message for {timeout:g} s; closing.", retryable=True)
        )
        await self.close(code=CLOSE_IDLE)


def _start_arguments(message: dict[str, Any]) -> dict[str, Any]:
    scenario, session = message.get("scenario"), message.get("session")
    if (scenario is None) == (session is None):
        raise StreamError("bad_message", "start needs either a scenario or a session.")
    if scenario is not None and not isinstance(scenario, str):
        raise StreamError("bad_message", "scenario must be a slug.")
    if session is not None and not isinstance(session, str):
        raise StreamError("bad_message", "session must be a session id.")
    last_seq = message.get("last_seq", 0)
    sample_rate = message.get("sample_rate", 16_000)
    for name, value in (("last_seq", last_seq), ("sample_rate", sample_rate)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise StreamError("bad_message", f"{name} must be a non-negative integer.")
    encoding = message.get("encoding", "pcm_s16le")
    if session is not None:
        try:
            uuid.UUID(session)
        except ValueError:
            raise StreamError("unknown_session", "No such session for this learner.") from None
    return {
        "scenario": scenario,
        "session": session,
        "last_seq": last_seq,
        "sample_rate": sample_rate,
        "encoding": encoding,
    }
