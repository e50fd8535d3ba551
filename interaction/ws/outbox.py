"""Numbers the session's events, sends them in order, and stores them in batches.

Events are sent at once and stored a moment later with the partial transcripts (within
`flush_interval_s` of the first one waiting; no timer runs while nothing waits), except an
answer's: those are stored in the attempt's own transaction, with whatever is pending, before
they are sent. A store that fails puts its batch back: the next flush, the next answer or
the close stores it, so a database hiccup loses no event.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from interaction import stream_services
from interaction.events import ErrorEvent, ServerEvent, Standing, StoredEvent
from interaction.services import Answer
from interaction.stream_selectors import StreamContext
from interaction.stream_services import PartialRow, StreamSuperseded
from interaction.ws.db import db_call
from interaction.ws.errors import StreamError
from telemetry import metrics
from telemetry.recorder import ConnectionRecorder

logger = logging.getLogger(__name__)
T = TypeVar("T")

Build = Callable[[int, Standing], StoredEvent]
"""An event from its seq and the session's standing."""
SendText = Callable[..., Awaitable[None]]
"""The socket's own send (`AsyncWebsocketConsumer.send`), called with `text_data`."""


class Outbox:
    """The stream's only writer: after a takeover (`superseded`) it numbers and writes no more.

    Events emitted before a session is attached, or after a takeover, carry seq 0 and are
    not stored (the session's numbering belongs to the connection that owns it)."""

    def __init__(
        self,
        *,
        send: SendText,
        owner: str,
        flush_interval_s: float,
        recorder: ConnectionRecorder | None = None,
    ) -> None:
        self.send_text, self.recorder = send, recorder
        self.owner, self.flush_interval_s = owner, flush_interval_s
        self.session_id: str | None = None
        self.context: StreamContext | None = None
        """The session as it stands (score and lives included), refreshed by each record."""
        self.seq = 0
        self._superseded = False
        self._closed = False
        self._events: list[StoredEvent] = []
        self._partials: list[PartialRow] = []
        self._emitting = asyncio.Lock()  # numbering and sending, in order
        self._storing = asyncio.Lock()  # one batch store at a time
        self._flush_task: asyncio.Task[None] | None = None
        self._flush_sleeping = False

    @property
    def superseded(self) -> bool:
        """Another connection has the session: nothing more is numbered or written."""
        return self._superseded

    def supersede(self) -> None:
        """The one place `superseded` is set: by a takeover, a hand-over, or a write the
        database refused because another connection owns the session now."""
        self._superseded = True

    @property
    def pending(self) -> int:
        """Events sent but not stored yet."""
        return len(self._events)

    @property
    def standing(self) -> Standing:
        return self.context.standing if self.context else Standing(session=None)

    def attach(self, context: StreamContext) -> None:
        """From now on events are numbered after the session's last and stored with it."""
        self.session_id, self.context, self.seq = (
            context.session_id,
            context,
            context.event_seq,
        )

    async def send(self, event: ServerEvent) -> None:
        """Onto the socket, counted (metrics) and told to the connection's telemetry."""
        metrics.STREAM_EVENTS.labels(event["type"]).inc()
        if event["type"] == "error":
            error: ErrorEvent = event  # type: ignore[assignment]  # the type names the shape
            metrics.STREAM_ERRORS.labels(error["code"]).inc()
        await self.send_text(text_data=json.dumps(event))
        if self.recorder is not None:
            await self.recorder.event(event)

    async def replay(self, events: Iterable[StoredEvent]) -> None:
        """Send events already stored (a resumed client missed them)."""
        for event in events:
            await self.send(event)

    async def emit(
        self, build: Build, *, partial: Callable[[int], PartialRow] | None = None
    ) -> None:
        """Number, send and (batched) store one event, and its partial transcript if any."""
        async with self._emitting:
            if self.session_id is None or self.superseded:
                event = build(0, self.standing)
            else:
                self.seq += 1
                event = build(self.seq, self.standing)
                self._events.append(event)
                if partial is not None:
                    self._partials.append(partial(self.seq))
                self._schedule_flush()
            await self.send(event)

    async def record(self, *, answer: Answer, utterance: str, auto: bool) -> None:
        """Record an answer with everything pending; send its events; refresh `context`.

        A database failure raises a retryable StreamError and puts the pending events back."""
        assert self.session_id is not None
        async with self._emitting:  # nothing else is numbered until these events are out
            if self.superseded:
                raise StreamSuperseded(f"Session {self.session_id} was taken over.")
            pending_events, self._events = self._events, []
            pending_partials, self._partials = self._partials, []
            try:
                events, context = await self._write(
                    stream_services.stream_attempt_record,
                    session_id=self.session_id,
                    owner=self.owner,
                    answer=answer,
                    utterance=utterance,
                    auto=auto,
                    next_seq=self.seq + 1,
                    pending_events=pending_events,
                    pending_partials=pending_partials,
                )
            except StreamSuperseded:
                raise
            except Exception:
                self._requeue(pending_events, pending_partials)
                raise
            self.seq += len(events)
            self.context = context
            for event in events:
                await self.send(event)

    async def flush(self) -> None:
        """Store what is pending now (StreamSuperseded, or a retryable StreamError)."""
        if self.session_id is None or self.superseded:
            return
        await self._store_pending()

    async def hand_over(self) -> None:
        """Another connection resumes the session: store everything sent, then let go.

        From here on nothing is numbered or stored; the resuming connection reads the
        session's events (these included) once this returns."""
        if self.session_id is None or self.superseded:
            return
        async with self._emitting:  # an answer being recorded finishes first
            self.supersede()
        self._cancel_sleeping_flush()
        try:
            await self._store_pending()
            await self._write(
                stream_services.stream_session_release,
                session_id=self.session_id,
                owner=self.owner,
            )
        except (StreamSuperseded, StreamError) as failed:
            logger.warning("hand-over of session %s incomplete: %s", self.session_id, failed)

    async def close(self) -> None:
        """Store what is pending and let go of the session (unless another connection has it)."""
        self._closed = True
        self._cancel_sleeping_flush()
        if self.session_id is None or self.superseded:
            return
        try:
            await self.flush()
            await self._write(
                stream_services.stream_session_release,
                session_id=self.session_id,
                owner=self.owner,
            )
        except StreamSuperseded:
            pass  # marked by the write that found it
        except StreamError as failed:
            logger.warning(
                "session %s closed with %d events not stored: %s",
                self.session_id,
                self.pending,
                failed,
            )

    # --- storing ------------------------------------------------------------------------
    async def _store_pending(self) -> None:
        assert self.session_id is not None
        async with self._storing:
            async with self._emitting:
                events, self._events = self._events, []
                partials, self._partials = self._partials, []
            if not (events or partials):
                return
            try:
                await self._write(
                    stream_services.stream_events_store,
                    session_id=self.session_id,
                    owner=self.owner,
                    events=events,
                    partials=partials,
                )
            except StreamSuperseded:
                raise
            except Exception:
                self._requeue(events, partials)
                raise

    async def _write(self, service: Callable[..., T], **kwargs: Any) -> T:
        """A write on the socket's DB pool; one refused for a lost session marks the outbox
        superseded (StreamSuperseded is raised on)."""
        try:
            return await db_call(service, **kwargs)
        except StreamSuperseded:
            self.supersede()
            raise

    def _requeue(self, events: list[StoredEvent], partials: list[PartialRow]) -> None:
        """Put a batch that could not be stored back in front of what came since."""
        self._events[:0] = events
        self._partials[:0] = partials
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        """A flush within flush_interval_s of now, unless one is due already."""
        if (
            self._flush_task is None
            and not (self._closed or self.superseded)
            and self.session_id is not None
            and (self._events or self._partials)
        ):
            self._flush_sleeping = True
            self._flush_task = asyncio.create_task(self._flush_later(), name="stream-flush")

    def _cancel_sleeping_flush(self) -> None:
        """Cancel a flush still waiting for its moment (one storing is left to finish)."""
        if self._flush_task is not None and self._flush_sleeping:
            self._flush_task.cancel()
            self._flush_task = None

    async def _flush_later(self) -> None:
        try:
            await asyncio.sleep(self.flush_interval_s)
        except asyncio.CancelledError:
            return
        self._flush_sleeping = False
        try:
            await self.flush()
        except StreamSuperseded:
            pass
        except StreamError as failed:  # the batch was put back; the next flush retries it
            logger.warning("stream flush of session %s failed: %s", self.session_id, failed)
        finally:
            self._flush_task = None
        self._schedule_flush()
