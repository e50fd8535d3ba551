"""Numbers the session's events, sends them in order, and stores them in batches.

The turn's I/O adapter for everything it tells the learner (`ws/turn.py`'s `Record`,
`SendPartial`, `SendReset`, `SendError`): it records an answer through the time-stop
scoring path and posts `Judged` back to the turn's inbox, with the turn due then
(`Expect`: the session as it stands is the outbox's `context`).

Each event is encoded once: the same JSON text goes to the socket and to the database.
Events are sent at once and stored a moment later with the partial transcripts, by the
process's `EventFlusher` (within `flush_interval_s` of the first one waiting, together with
every other stream's; no timer runs while nothing waits), except an answer's: those are
stored in the attempt's own transaction, with whatever is pending, before they are sent. A
store that fails puts its batch back: the next flush, the next answer or the close stores
it, so a database hiccup loses no event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from django.conf import settings

from interaction import stream_services
from interaction.events import (
    ErrorEvent,
    ServerEvent,
    Standing,
    StoredEvent,
    error_event,
    partial_event,
    reset_event,
)
from interaction.services import Answer, answer_from_hypothesis
from interaction.stream_selectors import StreamContext
from interaction.stream_services import (
    EncodedEvent,
    PartialRow,
    StreamedAnswer,
    StreamSuperseded,
)
from interaction.vocabulary import Mode
from interaction.ws.db import db_call, db_statement
from interaction.ws.endpointing import SAMPLE_RATE
from interaction.ws.errors import StreamError
from interaction.ws.flusher import Unstored
from interaction.ws.pauses import Answers
from interaction.ws.turn import (
    Expect,
    Input,
    Judged,
    OutboxCommand,
    Record,
    SendError,
    SendPartial,
    SendReset,
)
from telemetry import metrics
from telemetry.recorder import ConnectionRecorder, asr_observed

T = TypeVar("T")

logger = logging.getLogger(__name__)

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
        inbox: asyncio.Queue[Input] | None = None,
    ) -> None:
        self.send_text, self.recorder = send, recorder
        self.inbox: asyncio.Queue[Input] = inbox or asyncio.Queue()
        """The turn's: told of each answer recorded (`Judged`) and of the turn due."""
        self.owner, self.flush_interval_s = owner, flush_interval_s
        self.session_id: str | None = None
        self.context: StreamContext | None = None
        """The session as it stands (score and lives included), refreshed by each record."""
        self.seq = 0
        self.unstored = Unstored(owner=owner, interval_s=flush_interval_s)
        """Events sent, not stored yet: the process's flusher stores them in batches."""
        self._emitting = asyncio.Lock()  # numbering and sending, in order
        self._storing = asyncio.Lock()  # one batch store at a time

    @property
    def pending(self) -> int:
        """Events sent but not stored yet."""
        return len(self.unstored.events)

    @property
    def superseded(self) -> bool:
        """Another connection has the session: nothing more is numbered or written."""
        return self.unstored.superseded

    def supersede(self) -> None:
        """The one place the outbox is superseded: a takeover, a hand-over, or a write the
        database refused because another connection owns the session now (the process's
        flusher marks the same flag through `Unstored.supersede`)."""
        self.unstored.supersede()

    @property
    def standing(self) -> Standing:
        return self.context.standing if self.context else Standing(session=None)

    def attach(self, context: StreamContext) -> None:
        """From now on events are numbered after the session's last and stored with it; the
        turn hears of the turn due."""
        self.session_id, self.context, self.seq = (
            context.session_id,
            context,
            context.event_seq,
        )
        self.unstored.session_id = context.session_id
        self._expect(context)

    def _expect(self, context: StreamContext) -> None:
        """Tell the turn which turn is due: its answers as words are read against them, how
        they are recognised."""
        policy = context.audio_policy
        answers = Answers(
            texts=context.answers,
            language=context.language,
            intent_similarity=context.answer_similarity,
            ignore_accents=settings.PARLEY_JUDGING["ignore_accents"],
            policy=policy,
        )
        self.inbox.put_nowait(Expect(answers, context.recognition_options))

    async def carry_out(self, command: OutboxCommand) -> None:
        """One of the turn's commands for the learner: record an answer, send an event."""
        match command:
            case Record():
                await self._record(command)
            case SendPartial(partial=partial, intent=intent, similarity=similarity):
                hypothesis, turn = partial.hypothesis, self.context.turn if self.context else None
                await self.emit(
                    lambda seq, standing: partial_event(
                        seq=seq,
                        standing=standing,
                        utterance=partial.utterance,
                        transcript=hypothesis.text,
                        confidence=round(hypothesis.confidence, 4),
                        language=self.context.language if self.context else "",
                        language_probability=None,
                        intent=intent,
                        similarity=similarity,
                        audio_ms=hypothesis.audio_ms,
                    ),
                    partial=lambda seq: PartialRow(
                        turn_index=turn["index"] if turn else 0,
                        utterance=partial.utterance,
                        seq=seq,
                        transcript=hypothesis.text,
                        confidence=hypothesis.confidence,
                        similarity=similarity,
                        audio_ms=hypothesis.audio_ms,
                        latency_ms=partial.latency_ms,
                    ),
                )
            case SendReset(reason=reason, utterance=utterance):
                await self.emit(
                    lambda seq, standing: reset_event(
                        seq=seq, standing=standing, reason=reason, utterance=utterance
                    )
                )
            case SendError(code=code, message=message, retryable=retryable, fallback=fallback):
                await self.emit(
                    lambda seq, standing: error_event(
                        seq=seq,
                        standing=standing,
                        code=code,
                        message=message,
                        retryable=retryable,
                        fallback="http" if fallback else None,
                    )
                )

    async def _record(self, command: Record) -> None:
        """Record the answer through the time-stop scoring path; post `Judged` (and the turn
        due now) to the turn, whatever happened."""
        hypothesis = command.hypothesis
        asr_observed(mode=Mode.STREAMING, milliseconds=hypothesis.asr_ms)
        answer = answer_from_hypothesis(
            hypothesis,
            audio_ms=hypothesis.audio_ms or round(command.samples * 1000 / SAMPLE_RATE),
            auto_finalised=command.auto,
        )
        recorded, failure = False, None
        try:
            await self.record(answer=answer, utterance=command.utterance, auto=command.auto)
            recorded = True
        except StreamError as failed:  # not recorded (rolled back): the learner says it again
            failure = failed
        except StreamSuperseded:
            pass  # another connection has the session: nothing more is said here
        finally:
            if self.context is not None:
                self._expect(self.context)
            self.inbox.put_nowait(Judged(command.utterance, time.monotonic(), recorded, failure))

    async def send(self, event: ServerEvent, text: str | None = None) -> None:
        """Onto the socket (`text`: the event already encoded), counted (metrics) and told to
        the connection's telemetry."""
        metrics.STREAM_EVENTS.labels(event["type"]).inc()
        if event["type"] == "error":
            error: ErrorEvent = event  # type: ignore[assignment]  # the type names the shape
            metrics.STREAM_ERRORS.labels(error["code"]).inc()
        await self.send_text(text_data=json.dumps(event) if text is None else text)
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
                await self.send(build(0, self.standing))
                return
            self.seq += 1
            event = build(self.seq, self.standing)
            text = json.dumps(event)  # once: this text is sent and stored
            self.unstored.add(
                EncodedEvent(self.seq, event["type"], text),
                partial(self.seq) if partial is not None else None,
            )
            await self.send(event, text)

    async def record(self, *, answer: Answer, utterance: str, auto: bool) -> None:
        """Record an answer with everything pending; send its events; refresh `context`.

        A database failure raises a retryable StreamError and puts the pending events back."""
        assert self.session_id is not None
        async with self._emitting:  # nothing else is numbered until these events are out
            if self.superseded:
                raise StreamSuperseded(f"Session {self.session_id} was taken over.")
            pending = self.unstored.take()
            streamed = StreamedAnswer(
                answer,
                utterance,
                auto,
                next_seq=self.seq + 1,
                pending_events=pending.events if pending else (),
                pending_partials=pending.partials if pending else (),
            )
            try:
                recorded = await self._write_answer(streamed)
            except StreamSuperseded:
                raise
            except Exception:
                if pending is not None:
                    self.unstored.put_back(pending)
                raise
            events, context = recorded
            self.seq += len(events)
            self.context = context
            for event in events:
                await self.send(event)

    async def _write_answer(
        self, streamed: StreamedAnswer
    ) -> tuple[list[StoredEvent], StreamContext]:
        """An answer's rows and events: in one statement without the session's lock when
        the row is as this connection last left it, under the lock otherwise."""
        assert self.session_id is not None
        known = self.context.session if self.context is not None else None
        if known is not None:  # refused by a takeover, it writes nothing and says None
            recorded = await db_statement(
                stream_services.stream_attempt_record_unlocked,
                known=known,
                owner=self.owner,
                streamed=streamed,
            )
            if recorded is not None:
                return recorded
        return await self._write(
            stream_services.stream_attempt_record,
            session_id=self.session_id,
            owner=self.owner,
            streamed=streamed,
        )

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
        self.unstored.keep()
        try:
            await self._store_pending()
            await db_statement(
                stream_services.stream_session_release,
                session_id=self.session_id,
                owner=self.owner,
            )
        except (StreamSuperseded, StreamError) as failed:
            logger.warning("hand-over of session %s incomplete: %s", self.session_id, failed)

    async def close(self) -> None:
        """Store what is pending and let go of the session (unless another connection has it)."""
        self.unstored.closed = True
        self.unstored.keep()
        if self.session_id is None or self.superseded:
            return
        try:
            await self.flush()
            await db_statement(
                stream_services.stream_session_release,
                session_id=self.session_id,
                owner=self.owner,
            )
        except StreamSuperseded:
            pass  # another connection has the session (the write marked it superseded)
        except StreamError as failed:
            logger.warning(
                "session %s closed with %d events not stored: %s",
                self.session_id,
                self.pending,
                failed,
            )

    # --- storing ------------------------------------------------------------------------
    async def _store_pending(self) -> None:
        """Store what is pending now, this session alone (closing, handing over)."""
        assert self.session_id is not None
        async with self._storing:
            if self.unstored.in_flight is not None:  # the flusher's batch: stored or put back
                await asyncio.shield(self.unstored.in_flight)
            async with self._emitting:
                batch = self.unstored.take()
            if batch is None:
                return
            try:
                await self._write(
                    stream_services.stream_events_store,
                    session_id=batch.session_id,
                    owner=batch.owner,
                    events=batch.events,
                    partials=batch.partials,
                )
            except StreamSuperseded:
                raise
            except Exception:
                self.unstored.put_back(batch)
                raise

    async def _write(self, service: Callable[..., T], **kwargs: Any) -> T:
        """A write on the socket's DB pool; one refused because another connection owns the
        session marks the outbox superseded (StreamSuperseded is raised on)."""
        try:
            return await db_call(service, **kwargs)
        except StreamSuperseded:
            self.supersede()
            raise
