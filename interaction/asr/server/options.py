"""Parley's block of the connection options, as the server reads it: leniently.

A bad block never refuses a connection; it falls back to safe values (no candidates, English
as the other language, stream partials). Stock WhisperLive clients send no block and get
stock behaviour. The candidates are only ever *scored* (`answer_evidence`): nothing here
builds a prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..wire import PARLEY_OPTIONS_KEY

MAX_CANDIDATES = 16
"""Each candidate is teacher-forced twice (alone and after a filler): bound the batch."""
MAX_CANDIDATE_CHARS = 800
MAX_OTHER_LANGUAGES = 4
DEFAULT_OTHER_LANGUAGES = ("en",)


@dataclass(frozen=True)
class FinalPassOptions:
    """The `"parley"` connection options, validated leniently (never reject a connection).

    target_language: None when neither the block nor WhisperLive's `language` names one
    (the evidence pass then has nothing to judge against and uses English). reuse: only a
    literal `true` keeps the connection after the final.
    """

    target_language: str | None
    other_languages: tuple[str, ...] = DEFAULT_OTHER_LANGUAGES
    candidates: tuple[str, ...] = ()
    streaming: bool = True
    reuse: bool = False

    @classmethod
    def from_connection(cls, options: Mapping[str, Any]) -> FinalPassOptions | None:
        """None when the client did not ask for a final pass (a stock WhisperLive client)."""
        raw = options.get(PARLEY_OPTIONS_KEY)
        if not isinstance(raw, Mapping):
            return None
        target = raw.get("target_language") or options.get("language")
        target = target if isinstance(target, str) and target else None
        candidates: list[str] = []
        budget = MAX_CANDIDATE_CHARS
        for candidate in _as_list(raw.get("candidates")):
            text = str(candidate).strip()
            if not text or len(candidates) >= MAX_CANDIDATES or len(text) > budget:
                continue
            candidates.append(text)
            budget -= len(text)
        others = tuple(
            dict.fromkeys(
                str(lang)
                for lang in _as_list(raw.get("other_languages"))
                if isinstance(lang, str) and lang and lang != target
            )
        )[:MAX_OTHER_LANGUAGES]
        return cls(
            target_language=target,
            other_languages=others
            if "other_languages" in raw
            else tuple(lang for lang in DEFAULT_OTHER_LANGUAGES if lang != target),
            candidates=tuple(dict.fromkeys(candidates)),
            streaming=bool(raw.get("streaming", True)),
            reuse=raw.get("reuse") is True,
        )


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []
