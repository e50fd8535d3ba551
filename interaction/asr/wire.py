"""What the WhisperLive client and Parley's ASR server both spell: one vocabulary, one place.

Stock WhisperLive messages are WhisperLive's own; Parley adds a `"parley"` block to the
connection options, one `parley.final` message after `END_OF_AUDIO`, and a mid-stream
request: the client's text frame `parley.evaluate` gets a `parley.evidence` reply over the
audio received so far while the stream goes on (docs/asr.md). The client
(`interaction.asr.whisperlive`) writes the block and reads the messages; the server
(`interaction.asr.server`) reads the block and writes them. No heavy import here: the app
imports this module without faster-whisper or whisper-live.
"""

from __future__ import annotations

import json
from typing import Any, NotRequired, TypedDict

PARLEY_OPTIONS_KEY = "parley"
"""Key of Parley's own block in the connection options; stock servers ignore it."""
FINAL_TYPE = "parley.final"
"""`type` of the message Parley's server sends after END_OF_AUDIO (stock messages have none)."""
EVALUATE_TYPE = "parley.evaluate"
"""`type` of the client's text frame asking for the evidence over the audio so far."""
EVIDENCE_TYPE = "parley.evidence"
"""`type` of the server's reply to `parley.evaluate` (same body as the final, plus its `id`)."""
CANCEL_TYPE = "parley.cancel"
"""`type` of the client's text frame that drops the utterance (no final pass) on a kept
connection: the server answers `parley.cancelled` and waits for the next utterance."""
CANCELLED_TYPE = "parley.cancelled"
"""`type` of the server's answer to `parley.cancel`."""
END_OF_AUDIO = b"END_OF_AUDIO"
"""The binary frame that ends an utterance (WhisperLive's)."""
SERVER_READY = "SERVER_READY"
"""The handshake message a server sends when it takes the connection (WhisperLive's)."""
READY_MARKER = "parley-asr ready"
"""Printed (stdout) once the server's socket listens, with the ws:// URL: fixtures wait for it."""


class ParleyOptions(TypedDict):
    """The `"parley"` block of the connection options (the client's side of the contract).

    target_language: the answer's language (the decode is forced to it); other_languages:
    the learner's other languages, the suspects of a wrong-language answer; candidates: the
    turn's accepted answers, **scored** against the audio (teacher forcing), never given to
    the recogniser as a prompt or hotwords; streaming: whether to decode partials; reuse:
    keep the connection after the final, for the client's next utterance.
    """

    target_language: str
    other_languages: list[str]
    candidates: list[str]
    streaming: bool
    reuse: bool


class EvaluateRequest(TypedDict):
    """The client's mid-stream text frame: `{"type": "parley.evaluate", "id": N}`."""

    type: str
    id: int


class FinalMessage(TypedDict):
    """`parley.final` (after END_OF_AUDIO) and `parley.evidence` (reply to an evaluate).

    evidence: `interaction.asr.server.evidence.answer_evidence`'s payload (docs/fair-judge.md:
    times in seconds, probabilities 0..1, log-probabilities natural); asr_ms: the server's
    wall time for it, in ms, including any wait for the shared model; id: the evaluate
    request's (evidence replies only). A failed pass sends `type`, `error` (and `id`).
    """

    type: str
    id: NotRequired[int]
    evidence: NotRequired[dict[str, Any]]
    asr_ms: NotRequired[int]
    error: NotRequired[str]


def parse_message(raw: str | bytes) -> dict[str, Any] | None:
    """A JSON object from the socket, or None when the message is not one."""
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return message if isinstance(message, dict) else None
