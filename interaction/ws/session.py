"""StreamingSession: one learner's live stream, the interpreter of its turn's commands.

start/stop/reset/close come from control messages; audio frames are decoded (`AudioInput`)
and posted to the inbox like everything else the turn hears: the relay's partials, evidence
and failures, the judging task's end. One pump task feeds the inbox to the pure `Turn`
(`ws/turn.py`), one input at a time, and carries out the commands it returns: the relay
(`ws/relay.py`) opens, feeds, evaluates and finishes utterances, a judging task records an
answer through the time-stop scoring path, and the `Outbox` — the only writer — numbers,
stores and sends every event. The session as it stands (turn, score, lives) is the outbox's
`context`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import replace
from typing import Any

from django.conf import settings

from interaction import stream_services
from interaction.asr.types import AsrError, AsrProvider, Hypothesis
from interaction.events import StoredEvent, error_event, ready_event, reset_event
from interaction.services import answer_from_hypothesis
from interaction.stream_selectors import StreamContext
from interaction.stream_services import StreamRefused, StreamSuperseded
from interaction.vocabulary import Mode
from interaction.ws import turn as t
from interaction.ws.audio_in import AudioInput
from interaction.ws.db import db_call
from interaction.ws.endpointing import SAMPLE_RATE
from interaction.ws.errors import StreamError
from interaction.ws.limits import StreamLimits
from interaction.ws.messages import Start
from interaction.ws.outbox import Outbox, SendText
from interaction.ws.partials import partial_outputs
from interaction.ws.relay import AsrRelay
from interaction.ws.speculation import speculative_outcome
from interaction.ws.tasks import TaskSet
from telemetry.recorder import ConnectionRecorder, asr_observed

logger = logging.getLogger(__name__)


class StreamingSession:
    """One connection's stream. `send`: the socket's send (`text_data=`); `recorder`: the
    connection's telemetry, told of every event sent."""

    def __init__(
        self,
        *,
        learner: Any,
        provider: AsrProvider,
        send: SendText,
        recorder: ConnectionRecorder | None = None,
        limits: StreamLimits | None = None,
    ) -> None:
        self.learner = learner
        self.limits = limits or StreamLimits.from_settings()
        self.owner = uuid.uuid4().hex
        self.tasks = TaskSet(on_failure=self._task_failed)
        self.outbox = Outbox(
            send=send,
            recorder=recorder,
            owner=self.owner,
            flush_interval_s=self.limits.flush_interval_s,
        )
        self.turn = t.Turn(self.limits.endpointing)
        self.inbox: asyncio.Queue[t.Input] = asyncio.Queue()
        self.relay = AsrRelay(
            provider=provider,
            tasks=self.tasks,
            inbox=self.inbox,
            partial_interval_s=self.limits.partial_interval_s,
            max_backlog_s=self.limits.max_backlog_s,
        )
        self._audio: AudioInput | None = None
        self._finished_reported = False

    @property
    def context(self) -> StreamContext | None:
        return self.outbox.context

    @property
    def superseded(self) -> bool:
        return self.outbox.superseded

    def supersede(self) -> None:
        """Another connection resumed this session: write nothing more."""
        self.outbox.supersede()

    # --- control messages -------------------------------------------------------------
    async def start(self, message: Start) -> StreamContext:
        if self.context is not None:
            raise StreamError("already_started", "This connection already has a session.")
        self._audio = AudioInput(encoding=message.encoding, sample_rate=message.sample_rate)
        missed: list[StoredEvent] = []
        try:
            if message.session is not None:
                context, missed = await db_call(
                    stream_services.stream_session_resume,
                    learner=self.learner,
                    session_id=message.session,
                    last_seq=message.last_seq,
                    owner=self.owner,
                )
            else:
                context = await db_call(
                    stream_services.stream_session_open,
                    learner=self.learner,
                    scenario_slug=message.scenario or "",
                    owner=self.owner,
                )
        except StreamRefused as refused:
            raise StreamError(refused.code, str(refused), fallback=refused.fallback) from refused
        self.outbox.attach(context)
        await self.outbox.replay(missed)
        if not context.active:
            raise StreamError("session_finished", f"The session is {context.status}.")
        await self.outbox.emit(
            lambda seq, standing: ready_event(
                seq=seq,
                standing=standing,
                turn=context.turn,
                status=context.status,
                mode=context.mode,
                resumed=message.session is not None,
            )
        )
        self.inbox.put_nowait(_expect(context))
        self.tasks.spawn(self._pump(), name="stream-turn")
        return context

    async def stop(self) -> None:
        self._require_started()
        self.inbox.put_nowait(t.Stop(at=time.monotonic()))

    async def reset(self) -> None:
        self._require_started()
        self.inbox.put_nowait(t.ResetAsked())

    async def audio(self, chunk: bytes) -> None:
        """Decode a chunk and post it to the turn."""
        context = self._require_started()
        if not context.active:
            if self._finished_reported:
                return  # said once; the rest of the microphone's audio is dropped quietly
            self._finished_reported = True
            raise StreamError("session_finished", f"The session is {context.status}.")
        assert self._audio is not None
        samples = await self._audio.convert(chunk)
        if samples.size:
            self.inbox.put_nowait(t.Frame(samples))

    async def close(self) -> None:
        """The connection is gone: abandon the utterance, store what is pending, let go."""
        self.tasks.cancel_all()
        self.turn.feed(t.Close())
        await self.relay.close()
        await self.outbox.close()

    async def hand_over(self) -> None:
        """Another connection resumes the session: store everything sent, let go, stop."""
        await self.outbox.hand_over()
        await self.close()

    async def error(self, failure: StreamError) -> None:
        await self._do(
            t.SendError(
                failure.code, str(failure), retryable=failure.retryable, fallback=failure.fallback
            )
        )

    # --- the interpreter ----------------------------------------------------------------
    async def _pump(self) -> None:
        """Feed the inbox to the turn, one input at a time; carry out its commands."""
        while True:
            event = await self.inbox.get()
            if isinstance(event, t.Evidence) and event.hypothesis is not None:
                context = self._require_started()
                event = replace(event, outcome=speculative_outcome(event.hypothesis, context))
            elif isinstance(event, t.AsrFailed):
                session = self.context.session_id if self.context else None
                logger.warning("ASR failed for session %s: %s", session, event.error)
            for command in self.turn.feed(event):
                try:
                    await self._do(command)
                except StreamError as failed:  # the recogniser lags too far behind
                    await self.error(failed)
                except Exception:  # a defect: said to the client, the stream goes on
                    logger.exception("stream command %s failed", type(command).__name__)
                    await self.error(
                        StreamError(
                            "internal_error", "Something went wrong; try again.", retryable=True
                        )
                    )

    async def _do(self, command: t.Command) -> None:
        match command:
            case t.SendAudio() | t.Open() | t.Recognise() | t.Evaluate() | t.Abandon():
                await self.relay.carry_out(command)
            case t.Finalise():
                self.tasks.spawn(self._judge(command), name="stream-judge")
            case t.SendPartial(partial=partial):
                event, row = partial_outputs(
                    self._require_started(),
                    utterance_id=partial.utterance,
                    hypothesis=partial.hypothesis,
                    latency_ms=partial.latency_ms,
                    ignore_accents=settings.PARLEY_JUDGING["ignore_accents"],
                )
                await self.outbox.emit(event, partial=row)
            case t.SendReset(reason=reason, utterance=utterance):
                await self.outbox.emit(
                    lambda seq, standing: reset_event(
                        seq=seq, standing=standing, reason=reason, utterance=utterance
                    )
                )
            case t.SendError(code=code, message=message, retryable=retryable, fallback=fallback):
                await self.outbox.emit(
                    lambda seq, standing: error_event(
                        seq=seq,
                        standing=standing,
                        code=code,
                        message=message,
                        retryable=retryable,
                        fallback="http" if fallback else None,
                    )
                )

    async def _judge(self, command: t.Finalise) -> None:
        """Judge and record one answer through the time-stop scoring path; post `Judged`.

        The hypothesis is in hand (a correct answer committed early), or the recogniser's
        final pass gives it."""
        utterance, hypothesis = command.utterance, command.hypothesis
        failure: Exception | None = None
        recorded = False
        try:
            if hypothesis is None:
                hypothesis = await self.relay.finish(utterance)
            if hypothesis is not None:  # None: the ASR never came up; the relay posted it
                await self._record(hypothesis, command)
                recorded = True
        except (AsrError, StreamError) as failed:
            failure = failed
        finally:
            if self.context is not None:
                self.inbox.put_nowait(_expect(self.context))
            self.inbox.put_nowait(t.Judged(utterance, time.monotonic(), recorded, failure))

    async def _record(self, hypothesis: Hypothesis, command: t.Finalise) -> None:
        asr_observed(mode=Mode.STREAMING, milliseconds=hypothesis.asr_ms)
        answer = answer_from_hypothesis(
            hypothesis,
            audio_ms=hypothesis.audio_ms or round(command.samples * 1000 / SAMPLE_RATE),
            auto_finalised=command.auto,
        )
        await self.outbox.record(answer=answer, utterance=command.utterance, auto=command.auto)

    # --- helpers ------------------------------------------------------------------------
    def _require_started(self) -> StreamContext:
        if self.context is None:
            raise StreamError("not_started", 'Send {"type": "start", ...} first.')
        return self.context

    def _task_failed(self, error: BaseException) -> None:
        if not isinstance(error, StreamSuperseded):  # the outbox knows: it was its write
            logger.error("stream task failed", exc_info=error)


def _expect(context: StreamContext) -> t.Expect:
    return t.Expect(context.answers, context.language, context.recognition_options)
