"""The learner's world's vocabulary, defined once: outcomes, session statuses, modes, sources.

Plain `StrEnum`s with no Django imports, so the pure modules (judging, scoring) and the
Django ones (models, serializers, presenters, events, telemetry) share the same names and
values. `choices()` gives the `(value, label)` pairs Django fields and DRF serializers take.
"""

from __future__ import annotations

from enum import StrEnum


class _Labelled(StrEnum):
    @property
    def label(self) -> str:
        """The value spelled for people: "wrong_language" → "Wrong language"."""
        return self.value.replace("_", " ").capitalize()

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(member.value, member.label) for member in cls]


class Outcome(_Labelled):
    """What one answer was judged to be."""

    CORRECT = "correct"
    WRONG_LANGUAGE = "wrong_language"
    INCORRECT_ANSWER = "incorrect_answer"
    NO_SPEECH = "no_speech"
    UNCLEAR = "unclear"
    """The audio did not settle it either way: no points, no lives, the learner says it again."""


UNCHANGED_OUTCOMES = frozenset({Outcome.NO_SPEECH, Outcome.UNCLEAR})
"""The outcomes that leave score, lives and turn as they were (no ledger row)."""

PENALISED_OUTCOMES = frozenset({Outcome.WRONG_LANGUAGE, Outcome.INCORRECT_ANSWER})
"""The outcomes that can cost lives (and points); every other outcome leaves the ledger alone."""


class SessionStatus(_Labelled):
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    ABANDONED = "abandoned"


class Mode(_Labelled):
    TIME_STOP = "time_stop"
    STREAMING = "streaming"

    @property
    def label(self) -> str:
        return "Time-stop" if self is Mode.TIME_STOP else super().label


class Source(_Labelled):
    AUDIO = "audio"
    TYPED = "typed"
