"""The streamed turn: a pure state machine from what happened to what to do.

No asyncio and no I/O. `Turn.feed` takes one typed input (an audio frame, a partial
hypothesis, the recogniser's evidence or final pass, the stop gesture, a reset, an ASR
failure, a recorded answer) and returns the commands the session hands to its two I/O
adapters: the relay (`ws/relay.py`: open or abandon an utterance's recogniser, send it
audio, ask it for evidence or its final pass) and the outbox (`ws/outbox.py`: record an
answer, send an event). Both post what comes back as inputs; nothing calls back up. What
the words and the evidence mean — the answer a partial names, the judge's verdict at a
pause, whether the words end an answer — is read in `ws/pauses.py`.

Phases of the current utterance:

    idle ──voice──▶ listening ──0.3 s silence──▶ speculating ──evidence──▶ paused
      ▲                 ▲  ◀──────────voice (the verdict is dropped)───────┘  │
      │                 └──────────── voice ◀── holding ◀── correct: commit early
      └── verdict ◀── judging ◀── the silence that ends it, or the stop gesture ┘

The silence that ends an answer depends on its words (`ws/pauses.py`): 1.0 s after words
that may end it, 2.5 s after the start of an accepted answer (as written, or as the
evidence hears it), a filler or a word no sentence ends on, and as long as evidence asked
for is on its way (up to those 2.5 s). Only a `correct` verdict on words that may end the
answer is committed early (at the evidence); a penalty, `unclear`, or a `correct` on
unfinished words comes from the recogniser's final pass over the whole utterance once the
answer has ended.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from interaction.asr.types import AsrBusy, AsrError, Hypothesis, RecognitionOptions
from interaction.vocabulary import Outcome
from interaction.ws.endpointing import Action, Endpointer, EndpointingParams
from interaction.ws.errors import StreamError
from interaction.ws.pauses import Answers, Reading, read

STOP_AFTER_VERDICT_S = 1.0
"""A stop this soon after a recorded verdict, with no new utterance, is the verdict's own."""


class Phase(StrEnum):
    IDLE = "idle"  # no utterance: silence is kept as pre-roll
    LISTENING = "listening"  # an utterance, no pause in it long enough to ask for evidence
    SPECULATING = "speculating"  # a pause: evidence asked for, not back yet
    PAUSED = "paused"  # a pause with its evidence in hand (not a correct answer)
    JUDGING = "judging"  # the answer ended: its final pass and recording are under way
    HOLDING = "holding"  # committed early: voice now is that answer's tail
    CLOSED = "closed"


# --- inputs ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Expect:
    """The turn due (at the start, after each verdict): its answers as the words heard are
    read against them, and how they are recognised (handed on, as they are, to
    `Recognise`)."""

    answers: Answers
    options: RecognitionOptions | None = None


@dataclass(frozen=True)
class Frame:
    """A block of 16 kHz float32 samples (voiced or not: the endpointer's RMS says)."""

    samples: np.ndarray


@dataclass(frozen=True)
class Partial:
    utterance: str
    hypothesis: Hypothesis
    latency_ms: int


@dataclass(frozen=True)
class Evidence:
    """The recogniser's evidence on an utterance so far (`Evaluate.pause` answered); None:
    it could not evaluate."""

    utterance: str
    pause: int
    hypothesis: Hypothesis | None


@dataclass(frozen=True)
class Final:
    """The recogniser's final pass over an utterance (`Finish` answered): its hypothesis;
    None when the recogniser never came up (already posted as `AsrFailed`), or `failure`."""

    utterance: str
    hypothesis: Hypothesis | None
    failure: AsrError | None = None


@dataclass(frozen=True)
class Stop:
    at: float  # time.monotonic()


@dataclass(frozen=True)
class ResetAsked:
    pass


@dataclass(frozen=True)
class AsrFailed:
    utterance: str
    error: AsrError


@dataclass(frozen=True)
class Judged:
    """A `Record` is done: recorded, or not (`failure`; not recorded and no failure: the
    session was taken over)."""

    utterance: str
    at: float  # time.monotonic()
    recorded: bool
    failure: Exception | None = None


@dataclass(frozen=True)
class Close:
    pass


Input = Expect | Frame | Partial | Evidence | Final | Stop | ResetAsked | AsrFailed | Judged | Close


# --- commands -------------------------------------------------------------------------
@dataclass(frozen=True)
class Open:
    """A new utterance: its audio queues from now on."""

    utterance: str


@dataclass(frozen=True)
class Recognise:
    """Open the utterance's recogniser with the options of the turn due (known now)."""

    utterance: str
    options: RecognitionOptions | None


@dataclass(frozen=True)
class SendAudio:
    utterance: str
    audio: np.ndarray


@dataclass(frozen=True)
class Evaluate:
    utterance: str
    pause: int


@dataclass(frozen=True)
class Finish:
    """End the utterance's audio and ask for its final pass (posted back as `Final`)."""

    utterance: str


@dataclass(frozen=True)
class Record:
    """Judge and record the answer on `hypothesis` (the final pass's, or the evidence in
    hand of an answer committed early, `auto`); posted back as `Judged`. `samples`: the
    utterance's length, for an audio length the recogniser did not give."""

    utterance: str
    hypothesis: Hypothesis
    auto: bool
    samples: int


@dataclass(frozen=True)
class Abandon:
    utterance: str


@dataclass(frozen=True)
class SendPartial:
    """A partial to show: `intent`, the accepted answer it names (or None), `similarity`
    0..100 to the closest."""

    partial: Partial
    intent: str | None
    similarity: float


@dataclass(frozen=True)
class SendReset:
    reason: str
    utterance: str | None


@dataclass(frozen=True)
class SendError:
    code: str
    message: str
    retryable: bool
    fallback: bool = False


RecogniserCommand = Open | Recognise | SendAudio | Evaluate | Finish | Abandon
"""Carried out by the relay."""
OutboxCommand = Record | SendPartial | SendReset | SendError
"""Carried out by the outbox."""
Command = RecogniserCommand | OutboxCommand


@dataclass
class _Utterance:
    id: str
    samples: int = 0
    pause: int = 0  # pauses so far (each asks for evidence once)
    words: str = ""  # the latest words heard
    unfinished: bool = False  # they do not end an answer (`ws/pauses`)
    evidence: Evidence | None = None  # of the current pause


@dataclass(frozen=True)
class _Judging:
    """The utterance whose answer is being judged: by the final pass, then recorded."""

    id: str
    samples: int


class Turn:
    """One connection's turn-taking: `feed` an input, carry out the commands it returns."""

    def __init__(
        self, params: EndpointingParams, *, new_id: Callable[[], str] | None = None
    ) -> None:
        self.params = params
        self.new_id = new_id or (lambda: uuid.uuid4().hex)
        self.endpointer = Endpointer(params)
        self.expected = Expect(Answers())
        self.phase = Phase.IDLE
        self.current: _Utterance | None = None
        self.judging: _Judging | None = None  # the answer being judged and recorded
        self.judged_at = -math.inf
        self.waiting: str | None = None  # opened while one was judged: recognised after it
        self.empty_stop_answered = False  # a stop found nothing said; no voice since

    def feed(self, event: Input) -> list[Command]:
        match event:
            case Frame():
                return self._frame(event.samples)
            case Partial():
                return self._partial(event)
            case Evidence():
                return self._evidence(event)
            case Final():
                return self._final(event)
            case Stop():
                return self._stop(event.at)
            case ResetAsked():
                return self._reset()
            case AsrFailed():
                return self._asr_failed(event)
            case Judged():
                return self._judged(event)
            case Expect():
                self.expected = event
                if self.current is not None and self.current.words:
                    self.current.unfinished = self._read(self.current.words).unfinished
                return []
            case Close():
                current, self.current, self.phase = self.current, None, Phase.CLOSED
                return [Abandon(current.id)] if current else []

    # --- audio ------------------------------------------------------------------------
    def _frame(self, samples: np.ndarray) -> list[Command]:
        if self.phase == Phase.CLOSED:
            return []
        step = self.endpointer.push(samples, silence_end_s=self._silence_end_s())
        if step.action in (Action.WAIT, Action.DROP):
            if self.phase == Phase.HOLDING and not step.held:
                self.phase = Phase.JUDGING if self.judging else Phase.IDLE
            return []
        commands: list[Command] = []
        if step.opened:
            commands += self._open()
        current = self.current
        assert current is not None
        current.samples = step.samples
        if step.action == Action.TOO_LONG:
            self._forget()
            return [
                *commands,
                Abandon(current.id),
                SendError(
                    "utterance_too_long",
                    f"An answer may last at most {self.params.max_utterance_s:g} s; "
                    "it was discarded.",
                    retryable=True,
                ),
                SendReset("too_long", current.id),
            ]
        assert step.audio is not None
        if step.resumed:
            current.evidence = None  # the learner goes on: this pause's verdict is dropped
            self.phase = Phase.LISTENING
        commands.append(SendAudio(current.id, step.audio))
        if step.action == Action.SPECULATE:
            current.pause += 1
            self.phase = Phase.SPECULATING
            commands.append(Evaluate(current.id, current.pause))
        elif step.action == Action.END:
            commands.append(self._finalise(current, hypothesis=None, auto=False))
        return commands

    def _open(self) -> list[Command]:
        self.current = _Utterance(self.new_id())
        self.empty_stop_answered = False
        self.phase = Phase.LISTENING
        if self.judging is not None:
            self.waiting = self.current.id  # recognised against the turn the verdict leaves
            return [Open(self.current.id)]
        return [Open(self.current.id), Recognise(self.current.id, self.expected.options)]

    def _silence_end_s(self) -> float:
        """The trailing silence that ends the current utterance, by what was said so far."""
        current = self.current
        if current is None:
            return self.params.silence_end_s
        waiting_for_evidence = self.phase == Phase.SPECULATING
        if waiting_for_evidence or current.unfinished:
            return max(self.params.unfinished_silence_end_s, self.params.silence_end_s)
        return self.params.silence_end_s

    def _read(self, words: str, evaluated: Hypothesis | None = None) -> Reading:
        """What the words so far mean, with the evidence of a pause's evaluation if any
        (asked when they, or the turn they answer, change; not at every frame)."""
        evidence = evaluated.evidence if evaluated is not None else None
        return read(words, self.expected.answers, evidence=evidence)

    # --- the recogniser's results ---------------------------------------------------
    def _partial(self, event: Partial) -> list[Command]:
        current = self.current
        judging = self.judging.id if self.judging else None
        if event.utterance not in (judging, current.id if current else None):
            return []  # abandoned meanwhile
        words = event.hypothesis.text
        reading = self._read(words)
        if current is not None and current.id == event.utterance and current.evidence is None:
            current.words, current.unfinished = words, reading.unfinished
        return [SendPartial(event, reading.intent, reading.similarity)]

    def _evidence(self, event: Evidence) -> list[Command]:
        current = self.current
        if (
            current is None
            or current.id != event.utterance
            or current.pause != event.pause
            or self.phase != Phase.SPECULATING
        ):
            return []  # the learner went on speaking, or the answer ended: dropped
        if event.hypothesis is not None:
            reading = self._read(event.hypothesis.text, event.hypothesis)
            current.words, current.unfinished = event.hypothesis.text, reading.unfinished
            if reading.outcome == Outcome.CORRECT and not current.unfinished:
                # The verdict is in hand: no final pass; the recogniser is let go first, so
                # it stops decoding while the answer is recorded.
                record = self._finalise(current, hypothesis=event.hypothesis, auto=True)
                return [Abandon(current.id), record]
        # Anything else waits for the end of the answer: a penalty, `unclear`, and a
        # `correct` on words that do not end one ("Je voudrais un café" of "…, s'il vous
        # plaît": the judge may accept the start of an answer; the learner may go on).
        current.evidence = event
        self.phase = Phase.PAUSED
        if self.endpointer.trailing_s >= self._silence_end_s():
            return [self._finalise(current, hypothesis=None, auto=False)]
        return []

    def _asr_failed(self, event: AsrFailed) -> list[Command]:
        """One error (and its reset) per utterance: the rest of its voice is dropped."""
        current = self.current
        if current is not None and current.id == event.utterance:
            self.current = None
            self.endpointer.end(discard=True)
            self.phase = Phase.JUDGING if self.judging else Phase.IDLE
        return _failure_events(event.error, event.utterance)

    # --- the end of an answer -------------------------------------------------------
    def _finalise(
        self, current: _Utterance, *, hypothesis: Hypothesis | None, auto: bool
    ) -> Record | Finish:
        """The answer ended: recorded on `hypothesis` in hand (`auto`: committed early;
        more words now are its tail), or on the final pass asked for."""
        early = auto and hypothesis is not None
        self.current, self.judging = None, _Judging(current.id, current.samples)
        holding = self.endpointer.end(hold=early)
        self.phase = Phase.HOLDING if holding else Phase.JUDGING
        if hypothesis is None:
            return Finish(current.id)
        return Record(current.id, hypothesis, auto=auto, samples=current.samples)

    def _final(self, event: Final) -> list[Command]:
        """The final pass is back: record the answer on it (or say why not)."""
        judging = self.judging
        if judging is None or judging.id != event.utterance:
            return []
        if event.hypothesis is None or event.failure is not None:
            return self._judged(Judged(event.utterance, 0.0, False, event.failure))
        return [Record(judging.id, event.hypothesis, auto=False, samples=judging.samples)]

    def _stop(self, at: float) -> list[Command]:
        current = self.current
        if current is not None:
            return [self._finalise(current, hypothesis=None, auto=False)]
        if self.judging is not None or at - self.judged_at < STOP_AFTER_VERDICT_S:
            # The answer is being judged, or was a moment ago (a verdict committed early can
            # cross the learner's stop on the wire): nothing to stop.
            return []
        self.endpointer.clear()
        self.phase = Phase.IDLE
        if self.empty_stop_answered:
            return []  # said already: stops with nothing said in between add nothing
        self.empty_stop_answered = True
        return [SendReset(Outcome.NO_SPEECH, None)]

    def _reset(self) -> list[Command]:
        current = self._forget()
        self.endpointer.clear()
        if current is None:
            return [SendReset("asked", None)]
        return [Abandon(current.id), SendReset("asked", current.id)]

    def _judged(self, event: Judged) -> list[Command]:
        if self.judging is None or event.utterance != self.judging.id:
            return []
        self.judging = None
        if event.recorded:
            self.judged_at = event.at
        if self.phase == Phase.JUDGING:
            self.phase = Phase.IDLE
        commands: list[Command] = []
        if event.failure is not None:
            commands += _failure_events(event.failure, event.utterance)
        if self.waiting is not None:
            if self.current is not None and self.current.id == self.waiting:
                commands.append(Recognise(self.waiting, self.expected.options))
            self.waiting = None
        return commands

    def _forget(self) -> _Utterance | None:
        current, self.current = self.current, None
        self.endpointer.end()
        self.phase = Phase.JUDGING if self.judging else Phase.IDLE
        return current


def _failure_events(failure: Exception, utterance: str) -> list[Command]:
    """What the learner is told when an answer could not be heard or recorded: what to do
    (which server said what goes to the log only), and the utterance's reset."""
    if isinstance(failure, AsrError):
        busy = isinstance(failure, AsrBusy)  # a moment's wait helps; time-stop would not
        return [
            SendError(failure.code, failure.public_message, retryable=True, fallback=not busy),
            SendReset("asr_unavailable", utterance),
        ]
    if isinstance(failure, StreamError):  # not recorded (rolled back): say it again
        return [
            SendError(failure.code, str(failure), failure.retryable, fallback=failure.fallback),
            SendReset("database_unavailable", utterance),
        ]
    raise failure
