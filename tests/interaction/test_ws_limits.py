"""interaction/ws/limits.py: STREAM_LIMITS, one flat dict, split into the stream's bounds."""

from __future__ import annotations

import pytest

from interaction.ws.limits import StreamLimits


def test_endpointing_names_go_to_the_endpointer(settings) -> None:
    settings.STREAM_LIMITS = {
        "silence_end_s": 0.8,
        "unfinished_silence_end_s": 2.0,
        "tail_hold_s": 0.5,
        "partial_interval_s": 0.5,
    }
    limits = StreamLimits.from_settings()
    assert (limits.endpointing.silence_end_s, limits.endpointing.unfinished_silence_end_s) == (
        0.8,
        2.0,
    )
    assert (limits.endpointing.tail_hold_s, limits.partial_interval_s) == (0.5, 0.5)
    assert limits.max_backlog_s == 10.0  # untouched: the default


def test_an_unknown_name_is_refused(settings) -> None:
    settings.STREAM_LIMITS = {"silence_end": 1.0}
    with pytest.raises(TypeError):
        StreamLimits.from_settings()
