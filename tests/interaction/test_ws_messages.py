"""interaction/ws/messages.py: client frames parsed once into frozen dataclasses."""

from __future__ import annotations

import pytest

from interaction.ws.errors import StreamError
from interaction.ws.messages import Ping, Reset, Start, Stop, message_parse


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ('{"type": "stop"}', Stop()),
        ('{"type": "reset"}', Reset()),
        ('{"type": "ping", "t": 3}', Ping(t=3.0)),
        ('{"type": "ping", "t": 3, "rtt": 42}', Ping(t=3.0, rtt=42)),
        ('{"type": "start", "scenario": "cafe"}', Start(scenario="cafe", session=None)),
        (
            '{"type": "start", "scenario": "cafe", "sample_rate": 48000, "encoding": "webm_opus"}',
            Start(scenario="cafe", session=None, sample_rate=48_000, encoding="webm_opus"),
        ),
    ],
)
def test_frames_parse(text: str, parsed: object) -> None:
    assert message_parse(text) == parsed


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("nope", "bad_json"),
        ('{"type": "fly"}', "unknown_type"),
        ('{"type": "start"}', "bad_message"),
        ('{"type": "start", "scenario": "cafe", "encoding": "mp3"}', "bad_encoding"),
    ],
)
def test_bad_frames_are_refused_with_a_code(text: str, code: str) -> None:
    with pytest.raises(StreamError) as refused:
        message_parse(text)
    assert refused.value.code == code
