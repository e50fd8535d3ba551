"""The one confidence formula: (1 - no_speech) * mean(word probabilities)."""

from __future__ import annotations

import pytest

from interaction.asr.confidence import SegmentStats, no_speech_probability, utterance_confidence

S = SegmentStats


@pytest.mark.parametrize(
    ("words", "segments", "expected"),
    [
        ([], [], 0.0),  # nothing recognised
        ([], [S(0, 2, 0.0)], 0.0),  # segments but no words
        ([1.0, 1.0], [], 1.0),  # no segment statistics: no down-weighting
        ([0.9, 0.8, 0.7], [], 0.8),
        ([0.9, 0.8, 0.7], [S(0, 2, 0.1)], 0.72),
        ([0.5], [S(0, 1, 1.0)], 0.0),  # certainly no speech
        # one bad word costs its share, not the whole answer
        ([0.56, 0.55, 0.03, 0.94, 0.34, 0.97, 0.88, 0.77], [S(0, 2.08, 0.044)], 0.6023),
        # an English answer forced into French: words near zero
        ([0.0, 0.63, 0.1, 0.02, 0.01, 0.68, 0.22, 0.54], [S(0, 1.98, 0.053)], 0.2604),
        # no-speech probability weighted by segment duration: (3*0.0 + 1*0.4) / 4 = 0.1
        ([0.8], [S(0, 3, 0.0), S(3, 4, 0.4)], 0.72),
        # out-of-range and NaN inputs are clamped, never leak outside 0..1
        ([1.5, -0.5], [S(0, 1, -1.0)], 0.5),
        ([float("nan"), 1.0], [S(0, 1, float("nan"))], 0.5),
        # segments without a no-speech probability (streaming partials) do not count
        ([0.6], [S(0, 1, None), S(1, 2, 0.5)], 0.3),
    ],
)
def test_utterance_confidence(words, segments, expected):
    assert utterance_confidence(words, segments) == pytest.approx(expected, abs=1e-4)


def test_zero_length_segments_still_count():
    assert no_speech_probability([S(1.0, 1.0, 0.5)]) == pytest.approx(0.5)


def test_accepts_generators():
    assert utterance_confidence(p for p in (0.5, 1.0)) == pytest.approx(0.75)
