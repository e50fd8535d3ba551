"""Numbers the session's events, sends them in order, and stores them in batches.

Events are sent at once and stored a moment later with the partial transcripts (one batch a
second), except an answer's: those are stored in the attempt's own transaction, with whatever
is pending, before they are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

from channels.db import database_sync_to_async

from interaction import stream_services
from interaction.events import Send, Standing, StoredEvent
from interaction.services import Answer
from interaction.stream_selectors import StreamContext
from interaction.stream_services import PartialRow, StreamSuperseded

Build = Callable[[int, Standing], StoredEvent]
"""An event from its seq and the session's standing."""


class Outbox:
    """The stream's only writer: after a resume elsewhere (`superseded`) it writes no more."""

    def __init__(self, *, send: Send, owner: str, flush_interval_s: float) -> None:
        self.send, self.owner, self.flush_interval_s = send, owner, flush_interval_s
        self.session_id: str | None = None
        self.standing = Standing(session=None)
        self.seq = 0
        self.superseded = False
        self._events: list[StoredEvent] = []
        self._partials: list[PartialRow] = []
        self._emitting = asyncio.Lock()

    def attach(self, context: StreamContext) -> None:
        """From now on events are numbered after the session's last and stored with it."""
        self.session_id, self.standing, self.seq = (
            context.session_id,
            context.standing,
            context.event_seq,
        )

    async def replay(self, events: Iterable[StoredEvent]) -> None:
        """Send events already stored (a resumed client missed them)."""
        for event in events:
            await self.send(event)

    async def emit(
        self, build: Build, *, partial: Callable[[int], PartialRow] | None = None
    ) -> None:
        """Number, send and (batched) store one event, and its partial transcript if any.

        Before a session is attached, events carry seq 0 and are not stored.
        """
        async with self._emitting:
            if self.session_id is None:
                event = build(0, self.standing)
            else:
                self.seq += 1
                event = build(self.seq, self.standing)
                self._events.append(event)
                if partial is not None:
                    self._partials.append(partial(self.seq))
            await self.send(event)

    async def record(self, *, answer: Answer, utterance: str, auto: bool) -> StreamContext:
        """Record an answer with everything pending; send its events; the refreshed context."""
        assert self.session_id is not None
        async with self._emitting:  # nothing else is numbered until these events are out
            pending_events, self._events = self._events, []
            pending_partials, self._partials = self._partials, []
            try:
                events, context = await database_sync_to_async(
                    stream_services.stream_attempt_record
                )(
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
                self.superseded = True
                raise
            self.seq += len(events)
            self.standing = context.standing
            for event in events:
                await self.send(event)
        return context

    async def flush(self) -> None:
        if self.session_id is None or not (self._events or self._partials):
            return
        async with self._emitting:
            events, self._events = self._events, []
            partials, self._partials = self._partials, []
        try:
            await database_sync_to_async(stream_services.stream_events_store)(
                session_id=self.session_id, owner=self.owner, events=events, partials=partials
            )
        except StreamSuperseded:
            self.superseded = True
            raise

    async def flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval_s)
            try:
                await self.flush()
            except StreamSuperseded:
                return

    async def close(self) -> None:
        """Store what is pending and let go of the session (unless another connection has it)."""
        if self.session_id is None or self.superseded:
            return
        with contextlib.suppress(StreamSuperseded):
            await self.flush()
            await database_sync_to_async(stream_services.stream_session_release)(
                session_id=self.session_id, owner=self.owner
            )
