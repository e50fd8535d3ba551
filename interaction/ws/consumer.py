"""The /stream/interaction consumer: parse a frame, hand it to the session, send the events.

Thin on purpose: no ORM work and no scoring here (see interaction/ws/session.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from interaction.asr import get_provider
from interaction.events import ErrorEvent, ServerEvent, Standing, error_event, pong_event
from interaction.ws.audio_in import MAX_AUDIO_FRAME_BYTES
from interaction.ws.errors import StreamError
from interaction.ws.messages import Ping, Reset, Start, Stop, message_parse
from interaction.ws.session import StreamingSession
from telemetry import metrics
from telemetry.recorder import connection_recorder_open

CLOSE_IDLE, CLOSE_SUPERSEDED, CLOSE_FATAL, CLOSE_UNAUTHENTICATED = 4000, 4001, 4400, 4401
TAKEOVER = "stream.takeover"


def session_group(session_id: str) -> str:
    return f"stream-session-{session_id}"


class InteractionConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale DB connections (a thread hop) before every message; audio
        # frames never touch the ORM, and the DB work goes through database_sync_to_async,
        # which does that in its own thread. So audio frames skip it (and only that: the
        # handler is still found through Channels' guarded get_handler_name).
        if message.get("type") == "websocket.receive" and message.get("bytes") is not None:
            await getattr(self, get_handler_name(message))(message)
            return
        await super().dispatch(message)

    async def connect(self) -> None:
        self.stream: StreamingSession | None = None
        self.idle_task: asyncio.Task[None] | None = None
        self.group: str | None = None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self._error(StreamError("unauthenticated", "Log in or pass ?token=<api token>."))
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.telemetry = connection_recorder_open(learner_id=user.pk)
        self.stream = StreamingSession(
            learner=user,
            provider=get_provider(),
            send=self._send_event,
        )
        await self.accept()
        metrics.STREAM_CONNECTIONS.inc()
        self.last_seen = time.monotonic()
        self.idle_task = asyncio.create_task(self._close_when_idle())

    async def disconnect(self, code: int) -> None:
        if self.stream is None:
            return
        try:
            if self.idle_task is not None:
                self.idle_task.cancel()
            if self.group is not None:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.stream.close()
        finally:
            metrics.STREAM_CONNECTIONS.dec()
            await self.telemetry.close(code)

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
            await self._control(self.stream, text_data or "")
        except StreamError as failure:
            await self._error(failure)
            if failure.fatal:
                await self.close(code=CLOSE_FATAL)

    async def _control(self, stream: StreamingSession, text: str) -> None:
        match message_parse(text):
            case Ping(t=t, rtt=rtt):
                self.telemetry.rtt(rtt)
                await self.send(text_data=json.dumps(pong_event(t=t)))
            case Start() as start:
                self.telemetry.replayed_up_to(start.last_seq)
                context = await stream.start(start)
                await self._join_session_group(context.session_id, stream.owner)
            case Stop():
                await stream.stop()
            case Reset():
                await stream.reset()

    async def _join_session_group(self, session_id: str, owner: str) -> None:
        """Tell any other connection of this session to let go, then listen for the same."""
        self.group = session_group(session_id)
        await self.channel_layer.group_send(self.group, {"type": TAKEOVER, "owner": owner})
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def stream_takeover(self, message: dict[str, Any]) -> None:
        if self.stream is None or message["owner"] == self.stream.owner:
            return
        self.stream.supersede()
        await self._error(
            StreamError("superseded", "This session was resumed by another connection.", fatal=True)
        )
        await self.close(code=CLOSE_SUPERSEDED)

    async def _send_event(self, event: ServerEvent) -> None:
        metrics.STREAM_EVENTS.labels(event["type"]).inc()
        if event["type"] == "error":
            error: ErrorEvent = event  # type: ignore[assignment]  # the type names the shape
            metrics.STREAM_ERRORS.labels(error["code"]).inc()
        await self.send(text_data=json.dumps(event))
        await self.telemetry.event(event)

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
