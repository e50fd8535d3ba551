"""StreamingSession: one learner's live stream, the control flow that wires the rooms.

start/stop/reset/close come from control messages; audio frames go through `AudioInput`
(decoding) and the `Endpointer` (where an utterance begins and ends) to the `AsrRelay`. An
utterance ends speculatively after a short pause (`speculation`: only a confident correct
verdict is committed then), by the long silence, or by the stop gesture; every verdict is
recorded through the time-stop scoring path by the `Outbox`, which numbers, stores and sends
every event.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from typing import Any

from django.conf import settings

from interaction import stream_services
from interaction.asr.types import AsrBusy, AsrError, AsrProvider, Hypothesis, RecognitionOptions
from interaction.events import (
    Send,
    StoredEvent,
    error_event,
    ready_event,
    reset_event,
)
from interaction.services import answer_from_hypothesis
from interaction.stream_selectors import StreamContext
from interaction.stream_services import StreamRefused, StreamSuperseded
from interaction.vocabulary import Mode, Outcome
from interaction.ws.audio_in import AudioInput
from interaction.ws.db import db_call
from interaction.ws.endpointing import SAMPLE_RATE, Action, Endpointer
from interaction.ws.errors import StreamError
from interaction.ws.limits import StreamLimits
from interaction.ws.messages import Start
from interaction.ws.outbox import Outbox
from interaction.ws.partials import partial_outputs
from interaction.ws.relay import AsrRelay, Utterance
from interaction.ws.speculation import commits_at_once, pause_verdict, speculative_outcome
from interaction.ws.tasks import TaskSet
from telemetry.recorder import asr_observed

logger = logging.getLogger(__name__)

STOP_AFTER_VERDICT_S = 1.0
"""A stop this soon after a recorded verdict, with no new utterance, is the verdict's own."""


class StreamingSession:
    """State and control flow of one connection. `send` delivers an event to the client."""

    def __init__(
        self,
        *,
        learner: Any,
        provider: AsrProvider,
        send: Send,
        limits: StreamLimits | None = None,
    ) -> None:
        self.learner = learner
        self.limits = limits or StreamLimits.from_settings()
        self.owner = uuid.uuid4().hex
        self.context: StreamContext | None = None
        self.utterance: Utterance | None = None
        self.tasks = TaskSet(on_failure=self._task_failed)
        self.outbox = Outbox(
            send=send, owner=self.owner, flush_interval_s=self.limits.flush_interval_s
        )
        self.endpointer = Endpointer(self.limits.endpointing)
        self._judging = asyncio.Lock()
        self.relay = AsrRelay(
            provider=provider,
            tasks=self.tasks,
            judging=self._judging,
            options=self._recognition_options,
            on_partial=self._partial,
            on_failure=self._asr_failed,
            partial_interval_s=self.limits.partial_interval_s,
            max_backlog_s=self.limits.max_backlog_s,
        )
        self._audio: AudioInput | None = None
        self._finished_reported = False
        self._empty_stop_answered = False  # a stop found nothing said; no voice since
        self._judged_at = -math.inf  # time.monotonic() of the last recorded verdict

    @property
    def superseded(self) -> bool:
        return self.outbox.superseded

    def supersede(self) -> None:
        """Another connection resumed this session: write nothing more."""
        self.outbox.superseded = True

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
        self.context = context
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
        return context

    async def stop(self) -> None:
        self._require_started()
        if self.utterance is None and (
            self._judging.locked() or time.monotonic() - self._judged_at < STOP_AFTER_VERDICT_S
        ):
            # The answer is being judged, or was a moment ago (a verdict committed early can
            # cross the learner's stop on the wire): nothing to stop.
            return
        if self.utterance is None:
            self.endpointer.clear()
            if self._empty_stop_answered:
                return  # said already: stops with nothing said in between add nothing
            self._empty_stop_answered = True
            await self._reset_event(Outcome.NO_SPEECH, None)
            return
        # Judging waits for the recogniser's final pass: off the receive path.
        self.tasks.spawn(self.finalise(auto=False, expected=self.utterance), name="stream-judge")

    async def reset(self, reason: str = "asked") -> None:
        self._require_started()
        utterance = self._take_utterance()
        self.endpointer.clear()
        if utterance is not None:
            await self.relay.abandon(utterance)
        await self._reset_event(reason, utterance.id if utterance else None)

    async def close(self) -> None:
        """The connection is gone: abandon the utterance, store what is pending, let go."""
        self.tasks.cancel_all()
        utterance = self._take_utterance()
        if utterance is not None:
            await self.relay.abandon(utterance)
        await self.outbox.close()

    async def hand_over(self) -> None:
        """Another connection resumes the session: store everything sent, let go, stop."""
        await self.outbox.hand_over()
        await self.close()

    async def error(self, failure: StreamError) -> None:
        await self._error_event(
            failure.code, str(failure), retryable=failure.retryable, fallback=failure.fallback
        )

    # --- audio --------------------------------------------------------------------------
    async def audio(self, chunk: bytes) -> None:
        """Convert a chunk, find where utterances begin and end, queue it for the ASR task."""
        context = self._require_started()
        if not context.active:
            if self._finished_reported:
                return  # said once; the rest of the microphone's audio is dropped quietly
            self._finished_reported = True
            raise StreamError("session_finished", f"The session is {context.status}.")
        assert self._audio is not None
        samples = await self._audio.convert(chunk)
        if samples.size == 0:
            return
        step = self.endpointer.push(samples)
        if step.action in (Action.WAIT, Action.DROP):
            return
        if step.opened:
            self._empty_stop_answered = False
            self.utterance = self.relay.open()
        utterance = self.utterance
        assert utterance is not None
        utterance.samples = step.samples
        if step.action == Action.TOO_LONG:
            self.utterance = None
            await self.relay.abandon(utterance)
            await self._error_event(
                "utterance_too_long",
                f"An answer may last at most {self.endpointer.params.max_utterance_s:g} s; "
                "it was discarded.",
                retryable=True,
            )
            await self._reset_event("too_long", utterance.id)
            return
        assert step.audio is not None
        if step.resumed and utterance.speculation is not None:
            # The learner goes on after a pause: the speculative verdict is dropped.
            utterance.speculation.cancel()
            utterance.speculation = None
        self.relay.queue(utterance, step.audio)
        if step.action == Action.SPECULATE:
            utterance.speculation = self.tasks.spawn(
                self._speculate(utterance), name="stream-speculate"
            )
        elif step.action == Action.END:
            self.tasks.spawn(self.finalise(auto=False, expected=utterance), name="stream-judge")

    async def _speculate(self, utterance: Utterance) -> Hypothesis | None:
        """Evaluate the utterance so far; commit a confident correct verdict at once.

        Returns the evaluated hypothesis (None when the recogniser could not evaluate), which
        the end of the utterance commits if the learner has not gone on speaking."""
        try:
            hypothesis = await self.relay.evaluate(utterance)
        except AsrError as failed:
            logger.info("no speculative verdict for %s: %s", utterance.id, failed)
            return None
        context = self._require_started()
        if utterance.speculation is asyncio.current_task() and commits_at_once(
            speculative_outcome(hypothesis, context)
        ):
            self.tasks.spawn(
                self.finalise(auto=True, expected=utterance, speculative=True),
                name="stream-judge",
            )
        return hypothesis

    async def _partial(self, utterance: Utterance, hypothesis: Hypothesis, now: float) -> None:
        """A throttled partial: matched against the answers, sent, its transcript stored."""
        event, row = partial_outputs(
            self._require_started(),
            utterance_id=utterance.id,
            hypothesis=hypothesis,
            latency_ms=round((now - utterance.started) * 1000),
            ignore_accents=settings.PARLEY_JUDGING["ignore_accents"],
        )
        await self.outbox.emit(event, partial=row)

    # --- judging ------------------------------------------------------------------------
    async def finalise(
        self, *, auto: bool, expected: Utterance | None = None, speculative: bool = False
    ) -> None:
        """End the utterance and judge it through the time-stop scoring path.

        The speculative verdict of the current pause is committed when it is a confident
        correct answer (auto: `speculative`, the early commit); any other verdict comes from
        the recogniser's final pass over the whole utterance."""
        async with self._judging:
            utterance = self.utterance
            if utterance is None or (expected is not None and utterance is not expected):
                return  # already judged (a stop and a verdict raced)
            if speculative and utterance.speculation is None:
                return  # the learner went on speaking: that verdict was dropped
            # Committed before the long silence: more words now are this answer's tail.
            self._take_utterance(hold=speculative)
            hypothesis = await pause_verdict(utterance.speculation)
            if hypothesis is not None and not (
                speculative
                or commits_at_once(speculative_outcome(hypothesis, self._require_started()))
            ):
                # Not a confident correct answer: the verdict that costs something comes
                # from the final pass over the whole utterance, as the time-stop POST's does.
                hypothesis = None
            if hypothesis is not None:
                await self.relay.abandon(utterance)  # no final pass: the verdict is in hand
            else:
                auto = False
                try:
                    hypothesis = await self.relay.finish(utterance)
                except AsrError as failed:
                    await self._asr_failed(utterance, failed)
                    return
            if hypothesis is None:
                return  # the ASR never came up; the relay has reported it
            asr_observed(mode=Mode.STREAMING, milliseconds=hypothesis.asr_ms)
            answer = answer_from_hypothesis(
                hypothesis,
                audio_ms=hypothesis.audio_ms or round(utterance.samples * 1000 / SAMPLE_RATE),
                auto_finalised=auto,
            )
            try:
                self.context = await self.outbox.record(
                    answer=answer, utterance=utterance.id, auto=auto
                )
            except StreamError as failed:  # not recorded (rolled back): the learner says it again
                await self.error(failed)
                await self._reset_event("database_unavailable", utterance.id)
                return
            self._judged_at = time.monotonic()

    async def _asr_failed(self, utterance: Utterance, failed: AsrError) -> None:
        """One error (and its reset) per utterance: the rest of its voice is dropped. The
        learner is told what to do; which server said what goes to the log only."""
        if self.utterance is utterance:
            self.utterance = None
            self.endpointer.end(discard=True)
        utterance.closed = True
        session = self.context.session_id if self.context else None
        logger.warning("ASR failed for session %s: %s", session, failed)
        busy = isinstance(failed, AsrBusy)  # a moment's wait helps; the time-stop POST would not
        await self._error_event(
            failed.code, failed.public_message, retryable=True, fallback=not busy
        )
        await self._reset_event("asr_unavailable", utterance.id)

    # --- helpers ------------------------------------------------------------------------
    def _take_utterance(self, *, hold: bool = False) -> Utterance | None:
        """Forget the utterance under way (the endpointer too): the next voice opens one
        (after the held answer's tail, with `hold`: `Endpointer.end`)."""
        utterance, self.utterance = self.utterance, None
        self.endpointer.end(hold=hold)
        return utterance

    def _recognition_options(self) -> RecognitionOptions:
        return self._require_started().recognition_options()

    def _require_started(self) -> StreamContext:
        if self.context is None:
            raise StreamError("not_started", 'Send {"type": "start", ...} first.')
        return self.context

    def _task_failed(self, error: BaseException) -> None:
        if isinstance(error, StreamSuperseded):
            self.supersede()
        else:
            logger.error("stream task failed", exc_info=error)

    async def _reset_event(self, reason: str, utterance: str | None) -> None:
        await self.outbox.emit(
            lambda seq, standing: reset_event(
                seq=seq, standing=standing, reason=reason, utterance=utterance
            )
        )

    async def _error_event(
        self, code: str, message: str, *, retryable: bool, fallback: bool = False
    ) -> None:
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
