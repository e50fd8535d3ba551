"""The one confidence formula Parley uses for every transcript (partial or final).

    confidence = (1 - no_speech) * mean(p_i)

- `p_i` is Whisper's probability of each recognised word (faster-whisper with
  `word_timestamps=True`: the product of its tokens' probabilities), clamped to [0, 1].
  The arithmetic mean is the expected fraction of words recognised correctly, if the word
  probabilities are read as calibrated; it is what the answer match (a fuzzy string
  similarity) can tolerate. A geometric mean was measured and rejected: one function word
  at 0.03 took a correct 8-word answer from 0.60 to 0.44, yet both means put an English
  answer forced into French ("J'ai un café…", words 0.00–0.68) far below (0.26 here).
- `no_speech` is Whisper's no-speech probability, averaged over the segments weighted by
  their duration (0 when no segment reports it), so `1 - no_speech` is the probability
  there was speech at all.
- No words (silence, or nothing recognised) gives 0.

The result is in [0, 1]. Pure: no Django, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentStats:
    """What the formula reads from one Whisper segment; times in seconds."""

    start: float
    end: float
    no_speech_prob: float | None = None


def utterance_confidence(
    word_probabilities: Iterable[float], segments: Iterable[SegmentStats] = ()
) -> float:
    """Confidence 0..1 of a transcript: `(1 - no_speech) * mean(word probabilities)`."""
    probabilities = [_clamp(p) for p in word_probabilities]
    if not probabilities:
        return 0.0
    mean_word = sum(probabilities) / len(probabilities)
    return _clamp((1.0 - no_speech_probability(segments)) * mean_word)


def no_speech_probability(segments: Iterable[SegmentStats]) -> float:
    """Duration-weighted mean no-speech probability of the segments that report one."""
    total = weight_sum = 0.0
    for segment in segments:
        if segment.no_speech_prob is None:
            continue
        # A zero-length segment still counts a little rather than dividing by zero.
        weight = max(segment.end - segment.start, 1e-3)
        total += weight * _clamp(segment.no_speech_prob)
        weight_sum += weight
    return total / weight_sum if weight_sum else 0.0


def _clamp(value: float) -> float:
    if value != value:  # NaN from a broken peer: treat as no evidence.
        return 0.0
    return min(1.0, max(0.0, float(value)))
