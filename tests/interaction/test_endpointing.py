"""The endpointer as a table: blocks of 0.1 s in (V voiced, S silent), decisions out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from interaction.ws.endpointing import Action, Endpointer, EndpointingParams, auto_finalise_due

BLOCK = 1_600  # 0.1 s at 16 kHz
BLOCKS = {"V": np.full(BLOCK, 0.3, np.float32), "S": np.zeros(BLOCK, np.float32)}
CODES = {Action.WAIT: "w", Action.SEND: "s", Action.END: "e", Action.TOO_LONG: "t"}


def play(endpointer: Endpointer, blocks: str) -> str:
    """One letter per block: w/s/e/t for the action, upper case when the block opened one."""
    out = ""
    for block in blocks:
        step = endpointer.push(BLOCKS[block])
        code = CODES[step.action]
        out += code.upper() if step.opened else code
    return out


@pytest.mark.parametrize(
    ("params", "blocks", "expected"),
    [
        ({}, "SSS", "www"),
        ({}, "SV", "wS"),
        ({}, "VVVV", "Ssss"),
        # voice, then 0.5 s of trailing silence after at least 0.3 s of voice: the end
        ({"silence_end_s": 0.5}, "VVVSSSSSS", "Sssssssee"),
        # too little voice to count as speech: silence never ends it
        ({"silence_end_s": 0.5}, "VSSSSSSSS", "Sssssssss"),
        # voice that comes back resets the trailing silence
        ({"silence_end_s": 0.5}, "VVVSSSSVSSSS", "S" + "s" * 11),
        # past the maximum the utterance is dropped; the next voice opens a new one
        ({"max_utterance_s": 0.5}, "VVVVVVV", "SsssstS"),
        ({"voice_rms": 0.5}, "VVV", "www"),
    ],
)
def test_decisions(params: dict[str, Any], blocks: str, expected: str) -> None:
    assert play(Endpointer(EndpointingParams(**params)), blocks) == expected


@pytest.mark.parametrize(
    ("blocks", "sent"),
    [
        ("V", BLOCK),
        ("SV", 2 * BLOCK),
        ("SSSSSV", 4 * BLOCK),  # at most 0.3 s of pre-roll is kept before the onset
    ],
)
def test_the_onset_carries_the_preroll(blocks: str, sent: int) -> None:
    endpointer = Endpointer(EndpointingParams())
    steps = [endpointer.push(BLOCKS[block]) for block in blocks]
    assert steps[-1].audio is not None
    assert (steps[-1].audio.size, steps[-1].samples) == (sent, sent)


def test_an_utterance_the_session_ended_is_forgotten() -> None:
    endpointer = Endpointer(EndpointingParams())
    assert play(endpointer, "VV") == "Ss"
    endpointer.end()
    assert not endpointer.in_utterance
    assert play(endpointer, "SV") == "wS"


def test_clear_drops_the_preroll() -> None:
    endpointer = Endpointer(EndpointingParams())
    play(endpointer, "SS")
    endpointer.clear()
    step = endpointer.push(BLOCKS["V"])
    assert step.audio is not None
    assert step.audio.size == BLOCK


@pytest.mark.parametrize(
    ("similarity", "confidence", "lives", "due"),
    [
        (0.9, 0.9, 3, True),
        (0.8, 0.8, 1, True),  # at the thresholds exactly
        (0.79, 0.9, 3, False),
        (0.9, 0.79, 3, False),
        (0.9, 0.9, 0, False),
    ],
)
def test_auto_finalise_rule(similarity: float, confidence: float, lives: int, due: bool) -> None:
    assert (
        auto_finalise_due(
            similarity=similarity,
            answer_similarity=0.8,
            confidence=confidence,
            confidence_threshold=0.8,
            lives_remaining=lives,
        )
        is due
    )
