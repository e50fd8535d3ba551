"""The process's event store: every stream's pending events, stored together in one transaction.

Each connection's `Outbox` sends its events at once and leaves them here to be stored. Once
`interval_s` after the first one waits, every waiting stream's batch goes to the database in
one transaction of a few statements (`stream_services.stream_events_store_many`), not one
transaction per stream: at a hundred streams that is one round trip of each kind a second
instead of a hundred. A batch that could not be stored (the database failed, or another
transaction holds its session's row just then) goes back to its outbox for the next round;
a batch whose session another connection has taken over is dropped and its outbox told.
"""

from __future__ import annotations

import asyncio
import logging
from weakref import WeakKeyDictionary

from interaction import stream_services
from interaction.stream_services import EncodedEvent, EventBatch, PartialRow
from interaction.ws.db import db_call
from interaction.ws.errors import StreamError

logger = logging.getLogger(__name__)


class Unstored:
    """One stream's events sent and not stored yet: its outbox adds, the flusher takes.

    `superseded`: another connection has taken the session over, so nothing more of this
    stream is stored; `closed`: its outbox stores what is left itself; `in_flight`: done
    once the flusher's batch of this stream is stored or put back."""

    def __init__(self, *, owner: str, interval_s: float) -> None:
        self.owner, self.interval_s = owner, interval_s
        self.session_id: str | None = None
        self.events: list[EncodedEvent] = []
        self.partials: list[PartialRow] = []
        self.superseded = self.closed = False
        self.in_flight: asyncio.Future[None] | None = None

    def supersede(self) -> None:
        """Another connection has the session now: nothing more of this stream is stored."""
        self.superseded = True

    @property
    def waiting(self) -> bool:
        """Whether the flusher should store something of this stream."""
        return bool(
            self.session_id is not None
            and not (self.closed or self.superseded)
            and (self.events or self.partials)
        )

    def add(self, event: EncodedEvent, partial: PartialRow | None = None) -> None:
        """An event just sent (and its partial transcript): stored within interval_s."""
        self.events.append(event)
        if partial is not None:
            self.partials.append(partial)
        EventFlusher.shared(self.interval_s).want(self)

    def take(self) -> EventBatch | None:
        """Everything waiting, taken: whoever took it stores it or puts it back."""
        if self.session_id is None or not (self.events or self.partials):
            return None
        batch = EventBatch(self.session_id, self.owner, self.events, self.partials)
        self.events, self.partials = [], []
        return batch

    def put_back(self, batch: EventBatch) -> None:
        """A batch that could not be stored, back in front of what came since."""
        self.events[:0] = batch.events
        self.partials[:0] = batch.partials
        EventFlusher.shared(self.interval_s).want(self)

    def keep(self) -> None:
        """The outbox stores what is left itself from now on (closing, handing over)."""
        EventFlusher.shared(self.interval_s).forget(self)


_flushers: WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, EventFlusher]] = (
    WeakKeyDictionary()
)


class EventFlusher:
    """One per event loop and interval (`shared`); its task runs only while streams wait."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._waiting: dict[Unstored, None] = {}  # insertion-ordered set
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def shared(cls, interval_s: float) -> EventFlusher:
        by_interval = _flushers.setdefault(asyncio.get_running_loop(), {})
        if interval_s not in by_interval:
            by_interval[interval_s] = cls(interval_s)
        return by_interval[interval_s]

    def want(self, stream: Unstored) -> None:
        """Store `stream`'s waiting events within interval_s of now (or sooner)."""
        if not stream.waiting:
            return
        self._waiting[stream] = None
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="stream-event-store")

    def forget(self, stream: Unstored) -> None:
        """`stream`'s outbox stores what it has itself (it is closing or handing over)."""
        self._waiting.pop(stream, None)

    async def _run(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(self.interval_s)
                await self.flush()
        finally:
            self._task = None

    async def flush(self) -> None:
        """Store every waiting batch now, in one transaction."""
        streams, self._waiting = list(self._waiting), {}
        taken = [(stream, batch) for stream in streams if (batch := stream.take()) is not None]
        if not taken:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for stream, _ in taken:
            stream.in_flight = done
        try:
            outcome = await db_call(
                stream_services.stream_events_store_many, batches=[batch for _, batch in taken]
            )
        except Exception as failed:  # the database (StreamError) or a defect: nothing lost
            log = logger.warning if isinstance(failed, StreamError) else logger.exception
            log("storing %d streams' events failed; they wait for the next round", len(taken))
            for stream, batch in taken:
                stream.put_back(batch)
        else:
            for stream, batch in taken:
                if batch.owner in outcome.superseded_owners:
                    stream.supersede()
                elif batch.session_id in outcome.busy:
                    stream.put_back(batch)
        finally:  # an outbox closing waits for this, then stores what was put back itself
            for stream, _ in taken:
                if stream.in_flight is done:
                    stream.in_flight = None
            done.set_result(None)
