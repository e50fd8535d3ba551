"""What the WhisperLive client and Parley's ASR server both spell: one vocabulary, one place.

Stock WhisperLive messages are WhisperLive's own; Parley adds a `"parley"` block to the
connection options and one `parley.final` message after `END_OF_AUDIO` (docs/asr.md). The
client (`interaction.asr.whisperlive`) writes the block and reads the final; the server
(`interaction.asr.server`) reads the block and writes the final. No heavy import here: the
app imports this module without faster-whisper or whisper-live.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal, NotRequired, TypedDict, get_args

PARLEY_OPTIONS_KEY = "parley"
"""Key of Parley's own block in the connection options; stock servers ignore it."""
FINAL_TYPE = "parley.final"
"""`type` of the message Parley's server sends after END_OF_AUDIO (stock messages have none)."""
END_OF_AUDIO = b"END_OF_AUDIO"
"""The binary frame that ends an utterance (WhisperLive's)."""
SERVER_READY = "SERVER_READY"
"""The handshake message a server sends when it takes the connection (WhisperLive's)."""
READY_MARKER = "parley-asr ready"
"""Printed (stdout) once the server's socket listens, with the ws:// URL: fixtures wait for it."""

BiasMode = Literal["initial_prompt", "hotwords", "none"]
"""How the accepted answers reach the decoder: faster-whisper's keyword, or not at all."""
BIAS_MODES: tuple[BiasMode, ...] = get_args(BiasMode)


def as_bias_mode(value: object) -> BiasMode:
    """`value` when it names a bias mode, else "none": an unknown mode never fails."""
    for mode in BIAS_MODES:
        if value == mode:
            return mode
    return "none"


class ParleyOptions(TypedDict):
    """The `"parley"` block of the connection options (the client's side of the contract)."""

    bias_phrases: list[str]
    bias_mode: BiasMode
    detect_language: bool
    streaming: bool


class FinalWord(TypedDict):
    word: str
    start: float
    end: float
    probability: float


class FinalSegment(TypedDict):
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    words: list[FinalWord]


class FinalMessage(TypedDict):
    """The `parley.final` message: times in seconds, probabilities 0..1, `asr_ms` in ms.

    A failed final pass sends only `type` and `error`.
    """

    type: str
    segments: NotRequired[list[FinalSegment]]
    text: NotRequired[str]
    language: NotRequired[str | None]
    language_probability: NotRequired[float | None]
    language_probabilities: NotRequired[dict[str, float]]
    transcript_language: NotRequired[str | None]
    bias_mode: NotRequired[str]
    audio_s: NotRequired[float]
    speech_s: NotRequired[float]
    no_speech: NotRequired[bool]
    asr_ms: NotRequired[int]
    error: NotRequired[str]


def bias_text(phrases: Iterable[str]) -> str:
    """The accepted answers as one prompt, each ending like a sentence.

    The one joining both sides use: the client for streaming bias, the server for the
    final pass, so partials and the final see the same prompt.
    """
    return " ".join(p if p[-1] in ".!?…" else p + "." for p in phrases if p)


def parse_message(raw: str | bytes) -> dict[str, Any] | None:
    """A JSON object from the socket, or None when the message is not one."""
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return message if isinstance(message, dict) else None
