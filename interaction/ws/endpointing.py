"""Where an utterance begins and ends: a pure state machine over 16 kHz sample blocks.

No asyncio and no I/O: `Endpointer.push` takes one block of float32 samples and returns a
`Step` saying what to do with it. The session acts on the step (opens the ASR relay, queues
audio, judges, discards) and tells the endpointer when it ended an utterance itself (`end`).

Two silences end an utterance. After `speculate_silence_s` (0.3 s) of trailing silence the
step says SPECULATE: the session asks the recogniser for a verdict on the audio so far and
may commit it at once if it is a confident *correct* answer. Only after `silence_end_s`
(1.0 s) does the step say END: any other verdict (a penalty, `unclear`) waits for it, so a
learner who pauses mid-sentence is never cut off and penalised. Voice that comes back after
a SPECULATE step is flagged `resumed`: the speculative verdict is dropped.

An answer committed early (`end(hold=True)`) may still be going on: "Sur place" is accepted,
and the learner goes on with "…, s'il vous plaît". Voice that comes back before
`tail_hold_s` of silence after its last word is that answer's tail, not the next answer:
those blocks are DROP steps (not sent, never judged) until `tail_hold_s` of silence.
Off by default (0): a client that answers the next turn within that time (the e2e tests'
answers 0.6 s apart) would lose the start of its answer; STREAM_LIMITS may turn it on.
"""

from __future__ import annotations

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
    silence_end_s: float = 1.0
    tail_hold_s: float = 0.0  # silence after an answer committed early before a new one
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


def is_voiced(samples: np.ndarray, *, voice_rms: float) -> bool:
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return rms >= voice_rms


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
        self._tail_hold = params.tail_hold_s * rate
        self._max_samples = params.max_utterance_s * rate
        self._preroll: list[np.ndarray] = []
        self._open: _Open | None = None
        self._held_silence: int | None = None  # silence since a held answer's last word
        self._hold_for = self._tail_hold  # silence that ends the hold

    @property
    def in_utterance(self) -> bool:
        return self._open is not None

    def push(self, samples: np.ndarray) -> Step:
        voiced = is_voiced(samples, voice_rms=self.params.voice_rms)
        opened = False
        if self._held_silence is not None:
            self._held_silence = 0 if voiced else self._held_silence + samples.size
            if voiced:
                return Step(Action.DROP)
            if self._held_silence < self._hold_for:
                return Step(Action.WAIT)
            self._held_silence = None  # the answer is over: the next voice opens one
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
        action = Action.SEND
        if heard and current.trailing_silence >= self._silence_end:
            action = Action.END
        elif heard and not current.speculated and current.trailing_silence >= self._speculate:
            action, current.speculated = Action.SPECULATE, True
        return Step(action, audio=samples, opened=opened, samples=current.samples, resumed=resumed)

    def end(self, *, hold: bool = False, discard: bool = False) -> None:
        """The session ended the utterance (judged, reset or failed): the next voice opens one.

        hold: it was committed before its end (a speculative correct verdict): voice before
        `tail_hold_s` of silence after its last word is its tail (DROP), not a new one.
        discard: it failed (the recogniser could not take it): the rest of it, until
        `silence_end_s` of silence, is dropped too, so one utterance fails once, not once per
        voiced block."""
        current, self._open = self._open, None
        self._preroll.clear()
        if discard and current is not None and current.trailing_silence < self._silence_end:
            self._held_silence, self._hold_for = current.trailing_silence, self._silence_end
        elif hold and current is not None and current.trailing_silence < self._tail_hold:
            self._held_silence, self._hold_for = current.trailing_silence, self._tail_hold

    def clear(self) -> None:
        """Forget the utterance, the pre-roll and any held answer."""
        self._open = None
        self._preroll.clear()
        self._held_silence = None
