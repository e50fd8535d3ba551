"""The ASR contract: what every speech-recognition provider returns.

Plain dataclasses with no Django imports, shared by the WhisperLive provider, the scripted
provider used in unit tests, the time-stop API and the streaming session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

SAMPLE_RATE = 16_000
"""Every provider takes 16 kHz mono float32 PCM in [-1, 1]."""


class AsrError(Exception):
    """The ASR service could not give a result (no server answered, timeout, protocol error).

    str(error) is for the logs (it names servers and reasons); `code` and `public_message`
    are what a learner is told (no hosts, ports or errno).
    """

    retryable: bool = True
    code = "asr_unavailable"
    public_message = "Speech recognition is unavailable right now; your answer was not scored."


class AsrUnavailable(AsrError):
    """No server of the pool accepted the connection."""


class AsrBusy(AsrUnavailable):
    """Every server is full (WAIT) or backing off after a failure: try again in a moment.

    retry_after_s: seconds until a server may be tried again (at least 1)."""

    code = "asr_busy"
    public_message = "Speech recognition is busy; try again in a moment."

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1.0, retry_after_s)


@dataclass(frozen=True)
class Word:
    """One recognised word; times in seconds from the start of the utterance."""

    word: str
    start: float
    end: float
    probability: float


@dataclass(frozen=True)
class Hypothesis:
    """One transcript of an utterance, partial or final.

    confidence: 0..1, from `interaction.asr.confidence.utterance_confidence`.
    language / language_probability: the top language of the evidence pass's audio language
    ID, where one ran (final and evaluated hypotheses); None otherwise.
    language_probabilities: that pass's probabilities (language code -> 0..1), restricted
    to the target and the learner's other languages.
    audio_ms: how much of the utterance's audio this hypothesis covers.
    evidence: the evidence pass's payload (`interaction.asr.server.evidence.answer_evidence`,
    docs/fair-judge.md) behind a final or evaluated hypothesis, the judge's input
    (`interaction.audio_judging.AudioEvidence.from_payload`); empty for partials.
    """

    text: str
    confidence: float
    words: tuple[Word, ...] = ()
    language: str | None = None
    language_probability: float | None = None
    language_probabilities: Mapping[str, float] = field(default_factory=dict)
    no_speech: bool = False
    final: bool = False
    audio_ms: int = 0
    asr_ms: int = 0
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecognitionOptions:
    """How one utterance is recognised.

    language: the scenario's target language; decoding is forced to it.
    other_languages: the learner's other languages (the suspects of a wrong-language
    answer); the language ID is restricted to them and the target.
    candidates: the turn's accepted answers, **scored** against the audio by the evidence
    pass, never given to the recogniser (no `initial_prompt`, no `hotwords`).
    """

    language: str
    other_languages: tuple[str, ...] = ("en",)
    candidates: tuple[str, ...] = ()


class AsrStream(Protocol):
    """One utterance being streamed to the recogniser."""

    async def send_audio(self, samples: bytes) -> None:
        """Relay float32 little-endian 16 kHz mono samples as they arrive."""

    def partials(self) -> AsyncIterator[Hypothesis]:
        """Hypotheses as the server revises them (final=False)."""

    async def evaluate(self) -> Hypothesis:
        """The evidence over the audio sent so far (the stream goes on): final=False,
        `evidence` set."""

    async def finish(self) -> Hypothesis:
        """End the utterance and wait for the final hypothesis over all audio sent."""

    async def close(self) -> None:
        """Abandon the utterance; safe to call twice."""


class AsrProvider(Protocol):
    async def open_stream(self, options: RecognitionOptions) -> AsrStream: ...

    async def transcribe(self, samples: bytes, options: RecognitionOptions) -> Hypothesis:
        """Recognise a whole clip (time-stop mode): the same path as a stream, sent at once."""
