"""Parley's block of the connection options, as the server reads it: leniently.

A bad block never refuses a connection; it falls back to safe values (no bias, detect the
language, stream partials). Stock WhisperLive clients send no block and get stock behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..wire import PARLEY_OPTIONS_KEY, BiasMode, as_bias_mode, bias_text

MAX_BIAS_PHRASES = 32
MAX_BIAS_CHARS = 800


@dataclass(frozen=True)
class FinalPassOptions:
    """The `"parley"` connection options, validated leniently (never reject a connection)."""

    language: str | None
    bias_phrases: tuple[str, ...] = ()
    bias_mode: BiasMode = "none"
    detect_language: bool = True
    streaming: bool = True

    @classmethod
    def from_connection(cls, options: Mapping[str, Any]) -> FinalPassOptions | None:
        """None when the client did not ask for a final pass (a stock WhisperLive client)."""
        raw = options.get(PARLEY_OPTIONS_KEY)
        if not isinstance(raw, Mapping):
            return None
        language = options.get("language")
        phrases: list[str] = []
        budget = MAX_BIAS_CHARS
        raw_phrases = raw.get("bias_phrases")
        for phrase in raw_phrases if isinstance(raw_phrases, list | tuple) else ():
            text = str(phrase).strip()
            if not text or len(phrases) >= MAX_BIAS_PHRASES or len(text) > budget:
                continue
            phrases.append(text)
            budget -= len(text)
        bias_mode = as_bias_mode(raw.get("bias_mode", "none")) if phrases else "none"
        return cls(
            language=language if isinstance(language, str) and language else None,
            bias_phrases=tuple(phrases) if bias_mode != "none" else (),
            bias_mode=bias_mode,
            detect_language=bool(raw.get("detect_language", True)),
            streaming=bool(raw.get("streaming", True)),
        )

    def decode_bias(self) -> dict[str, str]:
        """faster-whisper keyword arguments carrying the bias phrases, if any."""
        if self.bias_mode == "none" or not self.bias_phrases:
            return {}
        return {self.bias_mode: bias_text(self.bias_phrases)}
