"""The /stream/interaction consumer: parse a frame, hand it to the session, send the events.

Thin on purpose: no ORM work and no scoring here (see interaction/ws/session.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import time
from collections.abc import Awaitable
from typing import Any

from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from interaction import stream_selectors
from interaction.asr import get_provider
from interaction.events import Standing, error_event, pong_event
from interaction.ws.db import db_call
from interaction.ws.dispatching import dispatch_one_at_a_time
from interaction.ws.errors import StreamError
from interaction.ws.messages import Ping, Reset, Start, Stop, message_parse
from interaction.ws.rate import user_rate_join, user_rate_leave
from interaction.ws.session import MAX_AUDIO_FRAME_BYTES, StreamingSession
from telemetry import metrics
from telemetry.recorder import connection_recorder_open

CLOSE_IDLE, CLOSE_SUPERSEDED, CLOSE_FATAL, CLOSE_UNAUTHENTICATED = 4000, 4001, 4400, 4401
TAKEOVER = "stream.takeover"
HANDOVER, HANDED_OVER = "stream.handover", "stream.handed_over"
HANDOVER_TIMEOUT_S = 1.0
RATE_LIMITED_EVERY_S = 1.0

SOCKET_GONE = (OSError, Disconnected)
"""What a send to a socket the client has closed raises: the ASGI spec's OSError (uvicorn),
Daphne's autobahn `Disconnected` ("Attempt to send on a closed protocol")."""

logger = logging.getLogger(__name__)


def session_group(session_id: str) -> str:
    return f"stream-session-{session_id}"


class InteractionConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.gone = False

        async def send_unless_gone(message: dict[str, Any]) -> None:
            """A client that goes away is normal: what is sent after it did is dropped (the
            events were numbered and are stored; a resume replays them), not an exception."""
            if self.gone:
                return
            try:
                await send(message)
            except SOCKET_GONE as gone:
                self.gone = True
                logger.debug("the client closed the socket; %s dropped: %s", message["type"], gone)

        # What Channels' AsyncConsumer.__call__ does, but for its per-message dispatch loop
        # (interaction/ws/dispatching.py).
        self.scope, self.base_send = scope, send_unless_gone
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        listen = None
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            listen = functools.partial(self.channel_layer.receive, self.channel_name)
        with contextlib.suppress(StopConsumer):
            await dispatch_one_at_a_time(receive, listen, self.dispatch)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale DB connections before every message through the
        # thread-sensitive executor: one thread for every socket of the process, so a ping
        # would queue behind another socket's blocked query. The socket's DB work
        # (interaction.ws.db) looks after its connections on threads of its own; no message
        # needs that hop. The handler is still found through Channels' guarded
        # get_handler_name.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.stream: StreamingSession | None = None
        self.opening: asyncio.Task[None] | None = None
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
            learner=user, provider=get_provider(), send=self.send, recorder=self.telemetry
        )
        self.rate = user_rate_join(user.pk)
        self.rate_limited_said: dict[str, float] = {}  # kind of frame → monotonic time
        await self.accept()
        metrics.STREAM_CONNECTIONS.inc()
        self.last_seen = time.monotonic()
        self.idle_task = asyncio.create_task(self._close_when_idle())

    async def disconnect(self, code: int) -> None:
        if self.stream is None:
            return
        try:
            idle, self.idle_task = self.idle_task, None  # a cancelled task kept is a cycle
            if idle is not None:
                idle.cancel()
            await self._opened()  # a session opened meanwhile is let go of below
            if self.group is not None:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.stream.close()
        finally:
            user_rate_leave(self.stream.learner.pk)
            metrics.STREAM_CONNECTIONS.dec()
            await self.telemetry.close(code)
            self.stream = None  # it holds this consumer's send: kept, the pair is a cycle

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.stream is None:
            return
        self.last_seen = time.monotonic()
        if not await self._within_rate("audio" if bytes_data is not None else "text"):
            return
        await self._failures_said(self._frame(self.stream, text_data, bytes_data))

    async def _frame(
        self, stream: StreamingSession, text_data: str | None, bytes_data: bytes | None
    ) -> None:
        if bytes_data is not None:
            if len(bytes_data) > MAX_AUDIO_FRAME_BYTES:
                raise StreamError("frame_too_large", "Audio frames may be at most 64 KiB.")
            await self._opened()
            await stream.audio(bytes_data)
            return
        message = message_parse(text_data or "")
        if isinstance(message, Ping):  # answered at once, even while the session opens
            self.telemetry.rtt(message.rtt)
            await self.send(text_data=json.dumps(pong_event(t=message.t)))
            return
        await self._opened()
        match message:
            case Start() as start:
                self.opening = asyncio.create_task(
                    self._failures_said(self._start(stream, start)), name="stream-opening"
                )
            case Stop():
                await stream.stop()
            case Reset():
                await stream.reset()

    async def _failures_said(self, handling: Awaitable[None]) -> None:
        """Run a frame's handling; what fails is said to the client, and the socket goes on
        unless the failure is fatal."""
        try:
            await handling
        except StreamError as failure:
            await self._error(failure)
            if failure.fatal:
                await self.close(code=CLOSE_FATAL)
        except Exception:
            # A defect, not the client's doing: said to the client, the socket goes on.
            logger.exception("stream frame failed")
            await self._error(
                StreamError("internal_error", "Something went wrong; try again.", retryable=True)
            )

    async def _opened(self) -> None:
        """Wait for the session's opening, if one is under way: what the client sent after
        its `start` is handled after it, in order, as if the opening had been inline."""
        if self.opening is not None:
            await asyncio.wait([self.opening])
            self.opening = None  # a finished task kept would keep its frames

    async def _start(self, stream: StreamingSession, start: Start) -> None:
        """Open or resume the session (the database, and for a resume the connection that
        held it), then listen for a later takeover. Runs beside the socket's dispatch, so
        pings sent meanwhile are answered: under load an opening waits its turn for the
        database for tens of milliseconds."""
        self.telemetry.replayed_up_to(start.last_seq)
        if start.session is not None:
            await self._request_handover(stream, start.session)
        context = await stream.start(start)
        await self._join_session_group(
            context.session_id, stream.owner, resumed=start.session is not None
        )

    async def _within_rate(self, kind: str) -> bool:
        """Whether a frame is within the user's rate; over it, the frame is dropped and
        `rate_limited` said at most once a second (a flood stores a handful of events)."""
        bucket = self.rate.audio if kind == "audio" else self.rate.text
        if bucket.take():
            return True
        now = time.monotonic()
        if now - self.rate_limited_said.get(kind, -math.inf) >= RATE_LIMITED_EVERY_S:
            self.rate_limited_said[kind] = now
            await self._error(
                StreamError(
                    "rate_limited",
                    "Too many messages at once; the last ones were dropped.",
                    retryable=True,
                )
            )
        return False

    async def _join_session_group(self, session_id: str, owner: str, *, resumed: bool) -> None:
        """Listen for a later takeover of this session; on a resume, first tell any other
        connection of it to let go (a session just opened has no other connection)."""
        self.group = session_group(session_id)
        if resumed:
            await self.channel_layer.group_send(self.group, {"type": TAKEOVER, "owner": owner})
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def _request_handover(self, stream: StreamingSession, session_id: str) -> None:
        """Ask the connection holding the session to store what it sent and let go, and wait
        for it (at most HANDOVER_TIMEOUT_S: a connection whose process died never answers)."""
        owner = await db_call(
            stream_selectors.stream_session_owner_get, learner=stream.learner, session_id=session_id
        )
        if not owner or owner == stream.owner:
            return
        try:
            reply = await self.channel_layer.new_channel()
            await self.channel_layer.group_send(
                session_group(session_id),
                {"type": HANDOVER, "owner": stream.owner, "reply_to": reply},
            )
            async with asyncio.timeout(HANDOVER_TIMEOUT_S):
                await self.channel_layer.receive(reply)
        except TimeoutError:
            logger.info("no hand-over of session %s within %g s", session_id, HANDOVER_TIMEOUT_S)
        except Exception as failed:  # the channel layer is down: the owner check still holds
            logger.warning("hand-over of session %s not asked: %s", session_id, failed)

    async def stream_handover(self, message: dict[str, Any]) -> None:
        """Another connection resumes this session: store what was sent, let go, close."""
        if self.stream is None or message["owner"] == self.stream.owner:
            return
        await self.stream.hand_over()
        try:
            await self.channel_layer.send(message["reply_to"], {"type": HANDED_OVER})
        finally:
            await self._error(
                StreamError(
                    "superseded", "This session was resumed by another connection.", fatal=True
                )
            )
            await self.close(code=CLOSE_SUPERSEDED)

    async def stream_takeover(self, message: dict[str, Any]) -> None:
        if self.stream is None or message["owner"] == self.stream.owner:
            return
        self.stream.supersede()
        await self._error(
            StreamError("superseded", "This session was resumed by another connection.", fatal=True)
        )
        await self.close(code=CLOSE_SUPERSEDED)

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
