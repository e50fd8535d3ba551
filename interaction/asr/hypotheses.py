"""WhisperLive's messages read into `Hypothesis`: streaming segments and Parley's final.

Pure functions with no I/O: the stream client feeds them what the socket says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .confidence import SegmentStats, utterance_confidence
from .types import Hypothesis, Word


def partial_hypothesis(
    segments: Sequence[Mapping[str, Any]], words_by_text: dict[str, tuple[Word, ...]] | None = None
) -> Hypothesis:
    """A partial from WhisperLive's `segments` list (times may be strings, as it sends them).

    A segment WhisperLive completes by repetition carries no words; `words_by_text` (text →
    words from earlier updates) fills them in.
    """
    cache = words_by_text if words_by_text is not None else {}
    texts: list[str] = []
    words: list[Word] = []
    stats: list[SegmentStats] = []
    audio_end = 0.0
    for segment in segments:
        text = str(segment.get("text", "")).strip()
        if not text:
            continue
        seg_words = _words(segment.get("words"))
        if seg_words:
            cache[text] = seg_words
        else:
            seg_words = cache.get(text, ())
        texts.append(text)
        words.extend(seg_words)
        start, end = float(segment.get("start", 0)), float(segment.get("end", 0))
        stats.append(SegmentStats(start, end, _optional_float(segment.get("no_speech_prob"))))
        audio_end = max(audio_end, end)
    return Hypothesis(
        text=" ".join(texts),
        confidence=utterance_confidence((w.probability for w in words), stats),
        words=tuple(words),
        no_speech=not texts,
        final=False,
        audio_ms=round(audio_end * 1000),
    )


def final_hypothesis(message: Mapping[str, Any], *, final: bool = True) -> Hypothesis:
    """The hypothesis of a `parley.final` (or `parley.evidence`, final=False) message.

    Text, words and language probabilities come from the evidence pass's payload (the free
    transcript, decoded without any prompt); the payload itself rides along as `evidence`.
    """
    evidence = message.get("evidence") or {}
    probabilities = {
        str(lang): float(p) for lang, p in (evidence.get("language_probabilities") or {}).items()
    }
    top = max(probabilities, key=probabilities.__getitem__) if probabilities else None
    text = str(evidence.get("transcript") or "").strip()
    no_speech = bool(evidence.get("no_speech", True)) or not text
    words = () if no_speech else _words(evidence.get("words"))
    speech_s = float(evidence.get("speech_s") or 0.0)
    stats = [SegmentStats(0.0, speech_s, _optional_float(evidence.get("no_speech_prob")))]
    confidence = utterance_confidence((w.probability for w in words), stats)
    return Hypothesis(
        text="" if no_speech else text,
        confidence=0.0 if no_speech else confidence,
        words=words,
        language=top,
        language_probability=probabilities.get(top) if top else None,
        language_probabilities=probabilities,
        no_speech=no_speech,
        final=final,
        audio_ms=round(float(evidence.get("audio_s") or 0) * 1000),
        asr_ms=int(message.get("asr_ms") or 0),
        evidence=dict(evidence),
    )


def _words(raw: Any) -> tuple[Word, ...]:
    if not raw:
        return ()
    return tuple(
        Word(
            word=str(w["word"]).strip(),
            start=float(w["start"]),
            end=float(w["end"]),
            probability=float(w["probability"]),
        )
        for w in raw
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)
