"""Where an utterance begins and ends: a pure state machine over 16 kHz sample blocks.

No asyncio and no I/O: `Endpointer.push` takes one block of float32 samples and returns a
`Step` saying what to do with it. The session acts on the step (opens the ASR relay, queues
audio, judges, discards) and tells the endpointer when it ended an utterance itself (`end`).

Two silences end an utterance. After `speculate_silence_s` (0.3 s) of trailing silence the
step says SPECULATE: the turn asks the recogniser for a verdict on the audio so far and may
commit it at once if it is a confident *correct* answer. Only after the silence that ends an
utterance does the step say END: `silence_end_s` (1.0 s), or what the caller passes to
`push` (the turn waits longer after words that do not end an answer: `interaction.ws.pauses`).
Voice that comes back after a SPECULATE step is flagged `resumed`: that verdict is dropped.

An answer committed early (`end(hold=True)`) may still be going on: "Sur place" is accepted,
and the learner goes on with "…, s'il vous plaît". Voice that begins within `tail_hold_s`
(0.8 s) of the commit, or goes on with gaps shorter than `tail_gap_s` from such voice, is
that answer's tail: DROP steps (not sent, never judged). Voice that begins later, after a
gap (the learner answers the next prompt, shown about a second after the verdict), opens
the next utterance as usual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class EndpointingParams:
    """Seconds, except voice_rms (RMS of a block, 0..1 of full scale, that counts as voice)."""

    voice_rms: float = 0.01
    preroll_s: float = 0.3
    min_speech_s: float = 0.3
    speculate_silence_s: float = 0.3
    silence_end_s: float = 1.0  # ends an answer whose words may end it (or are unknown)
    unfinished_silence_end_s: float = 2.5  # ends one whose words do not (a prefix, "euh")
    tail_hold_s: float = 0.8  # after an early commit, voice that begins sooner is its tail
    tail_gap_s: float = 0.4  # a tail goes on through shorter gaps
    max_utterance_s: float = 30.0
    sample_rate: int = SAMPLE_RATE


class Action(StrEnum):
    WAIT = "wait"  # no utterance: the block is kept as pre-roll, nothing to send
    SEND = "send"  # send `audio` to the utterance's recogniser
    SPECULATE = "speculate"  # send `audio`, then ask for a verdict on the utterance so far
    END = "end"  # send `audio`, then judge: voice was heard and trailing silence is long
    TOO_LONG = "too_long"  # the utterance passed its maximum: discard it (already forgotten)
    DROP = "drop"  # the tail of an answer committed early: not sent, never judged


@dataclass(frozen=True)
class Step:
    action: Action
    audio: np.ndarray | None = None
    opened: bool = False  # this block opened a new utterance
    samples: int = 0  # the utterance's length so far, in samples
    resumed: bool = False  # voice came back after a SPECULATE step: drop that verdict
    held: bool = False  # an answer ended early is still holding its tail (WAIT or DROP)


def is_voiced(samples: np.ndarray, *, voice_rms: float) -> bool:
    # One dot product in C, on the float32 samples as they are: np.mean's Python-level
    # bookkeeping, or a float64 copy first, cost more than the sum itself, at every frame of
    # every stream. (A float32 sum of squares of at most a few thousand samples in [-1, 1]
    # is off by far less than any voice threshold's resolution.)
    if not samples.size:
        return False
    return math.sqrt(float(np.dot(samples, samples)) / samples.size) >= voice_rms


@dataclass
class _Held:
    """After an answer ended early: voice is dropped while `since` (samples since the end)
    is under `window` or `silence` (since the last voice) under `gap`."""

    window: float
    gap: float
    since: int = 0
    silence: int = 0

    def drops(self, size: int, *, voiced: bool) -> bool | None:
        """True: drop the block; False: keep waiting (silence); None: the hold is over."""
        self.since += size
        if voiced:
            if self.since <= self.window or self.silence < self.gap:
                self.silence = 0
                return True
            return None
        self.silence += size
        return None if self.since >= self.window and self.silence >= self.gap else False


@dataclass
class _Open:
    samples: int = 0
    voiced: int = 0
    trailing_silence: int = 0
    speculated: bool = False  # a SPECULATE step came in the current pause


class Endpointer:
    """Voice detection by RMS, pre-roll, utterance open, trailing silence, maximum length."""

    def __init__(self, params: EndpointingParams) -> None:
        self.params = params
        rate = params.sample_rate
        self._preroll_max = int(params.preroll_s * rate)
        self._min_speech = params.min_speech_s * rate
        self._silence_end = params.silence_end_s * rate
        self._speculate = min(params.speculate_silence_s, params.silence_end_s) * rate
        self._max_samples = params.max_utterance_s * rate
        self._preroll: list[np.ndarray] = []
        self._open: _Open | None = None
        self._held: _Held | None = None

    @property
    def holding(self) -> bool:
        """An answer ended early (or failed): its tail is being dropped."""
        return self._held is not None

    @property
    def trailing_s(self) -> float:
        """Seconds of silence since the open utterance's last voiced block (0 when none)."""
        current = self._open
        return current.trailing_silence / self.params.sample_rate if current else 0.0

    @property
    def in_utterance(self) -> bool:
        return self._open is not None

    def push(self, samples: np.ndarray, *, silence_end_s: float | None = None) -> Step:
        """What to do with one block; `silence_end_s`: the trailing silence that ends the
        open utterance now (default: `params.silence_end_s`)."""
        voiced = is_voiced(samples, voice_rms=self.params.voice_rms)
        opened = False
        if self._held is not None:
            drop = self._held.drops(samples.size, voiced=voiced)
            if drop is not None:
                return Step(Action.DROP if drop else Action.WAIT, held=True)
            self._held = None  # the answer is over: the next voice opens one
        if self._open is None:
            # An utterance starts at the first voiced block; a short pre-roll keeps the onset
            # that came just before it.
            self._preroll.append(samples)
            if not voiced:
                while sum(part.size for part in self._preroll) > self._preroll_max:
                    self._preroll.pop(0)
                return Step(Action.WAIT)
            samples = np.concatenate(self._preroll)
            self._preroll.clear()
            self._open, opened = _Open(), True
        current = self._open
        current.samples += samples.size
        resumed = False
        if voiced:
            current.voiced += samples.size
            current.trailing_silence = 0
            resumed, current.speculated = current.speculated, False
        else:
            current.trailing_silence += samples.size
        if current.samples > self._max_samples:
            self._open = None
            return Step(Action.TOO_LONG, opened=opened, samples=current.samples)
        heard = current.voiced >= self._min_speech
        silence_end = self._silence_end
        if silence_end_s is not None:
            silence_end = silence_end_s * self.params.sample_rate
        action = Action.SEND
        if heard and current.trailing_silence >= silence_end:
            action = Action.END
        elif (
            heard
            and not current.speculated
            and current.trailing_silence >= min(self._speculate, silence_end)
        ):
            action, current.speculated = Action.SPECULATE, True
        return Step(action, audio=samples, opened=opened, samples=current.samples, resumed=resumed)

    def end(self, *, hold: bool = False, discard: bool = False) -> bool:
        """The session ended the utterance (judged, reset or failed): the next voice opens one.
        Returns `holding`: whether voice now is the ended answer's tail.

        hold: it was committed before its end (a speculative correct verdict): voice that
        begins within `tail_hold_s`, or goes on from such voice with gaps under `tail_gap_s`,
        is its tail (DROP), not a new one.
        discard: it failed (the recogniser could not take it): the rest of it, until
        `silence_end_s` of silence, is dropped too, so one utterance fails once, not once per
        voiced block."""
        current, self._open = self._open, None
        self._preroll.clear()
        if current is None:
            return self.holding
        rate = self.params.sample_rate
        if discard and current.trailing_silence < self._silence_end:
            self._held = _Held(0.0, self._silence_end, silence=current.trailing_silence)
        elif hold and self.params.tail_hold_s > 0:
            self._held = _Held(
                self.params.tail_hold_s * rate,
                self.params.tail_gap_s * rate,
                silence=current.trailing_silence,
            )
        return self._held is not None

    def clear(self) -> None:
        """Forget the utterance, the pre-roll and any held answer."""
        self._open = None
        self._preroll.clear()
        self._held = None
