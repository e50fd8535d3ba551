"""The endpointer as a table: blocks of 0.1 s in (V voiced, S silent), decisions out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from interaction.ws.endpointing import Action, Endpointer, EndpointingParams, is_voiced

BLOCK = 1_600  # 0.1 s at 16 kHz
BLOCKS = {"V": np.full(BLOCK, 0.3, np.float32), "S": np.zeros(BLOCK, np.float32)}
CODES = {
    Action.WAIT: "w",
    Action.SEND: "s",
    Action.SPECULATE: "p",
    Action.END: "e",
    Action.TOO_LONG: "t",
    Action.DROP: "d",
}


def play(endpointer: Endpointer, blocks: str) -> str:
    """One letter per block: w/s/p/e/t/d for the action, upper case when the block opened one,
    "r" when voice came back after a speculation (the speculative verdict is dropped)."""
    out = ""
    for block in blocks:
        step = endpointer.push(BLOCKS[block])
        code = "r" if step.resumed else CODES[step.action]
        out += code.upper() if step.opened else code
    return out


@pytest.mark.parametrize(
    ("params", "blocks", "expected"),
    [
        ({}, "SSS", "www"),
        ({}, "SV", "wS"),
        ({}, "VVVV", "Ssss"),
        # voice, then 0.5 s of trailing silence after at least 0.3 s of voice: the end
        # (a speculative verdict is asked for after 0.3 s of it)
        ({"silence_end_s": 0.5}, "VVVSSSSSS", "Ssssspsee"),
        # too little voice to count as speech: silence never ends it (nor speculates)
        ({"silence_end_s": 0.5}, "VSSSSSSSS", "Sssssssss"),
        # voice that comes back resets the trailing silence
        ({"silence_end_s": 0.5}, "VVVSSSSVSSSS", "Ssssspsrssps"),
        # the defaults: a verdict after 0.3 s of silence, the end after 1.0 s
        ({}, "VVVV" + "S" * 10, "Ssssssp" + "s" * 6 + "e"),
        # a pause mid-sentence (0.7 s): speculated, resumed (that verdict is dropped), never
        # ended; the end comes only after the second half and a full second of silence
        (
            {},
            "VVVV" + "S" * 7 + "VVVV" + "S" * 10,
            "Ssssssp" + "ssss" + "rsss" + "ssp" + "s" * 6 + "e",
        ),
        # a correct answer 0.3 s after the last word: the SPECULATE step is the moment
        ({"speculate_silence_s": 0.3}, "VVVSSS", "Sssssp"),
        # one speculation per pause: it comes again only after voice came back
        ({"speculate_silence_s": 0.2, "silence_end_s": 5.0}, "VVVSSSSVSS", "Sssspssrsp"),
        # a speculation never comes at or past the end of the utterance
        ({"speculate_silence_s": 2.0, "silence_end_s": 0.5}, "VVVSSSSS", "Ssssssse"),
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


def test_the_tail_of_an_answer_committed_early_is_dropped() -> None:
    """'Sur place' is committed 0.3 s after its last word; the learner goes on ('…, s'il
    vous plaît') 0.4 s later: that tail is never sent nor judged as the next answer."""
    endpointer = Endpointer(EndpointingParams(tail_hold_s=1.0))
    assert play(endpointer, "VVVV" + "SSS") == "Ssss" + "ssp"
    assert endpointer.end(hold=True)  # it says it holds the tail now
    assert play(endpointer, "SSSS" + "VVV" + "S" * 10 + "V") == "wwww" + "ddd" + "w" * 10 + "S"


def test_each_step_says_whether_a_tail_is_still_held() -> None:
    endpointer = Endpointer(EndpointingParams(tail_hold_s=0.3, tail_gap_s=0.2))
    play(endpointer, "VVVV" + "SSS")
    assert endpointer.end(hold=True)
    held = [endpointer.push(BLOCKS[block]).held for block in "SSSV"]
    assert held == [True, True, False, False]  # over at 0.3 s (silent for 0.2 s at least)
    assert not endpointer.holding
    assert not endpointer.end(hold=False)


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        # voice that begins within tail_hold_s (0.8 s) of the commit is the tail
        ("S" * 7 + "V", "w" * 7 + "d"),
        # voice that begins later, after a gap, is the next answer (the next prompt is shown)
        ("S" * 8 + "V", "w" * 8 + "S"),
        # a tail goes on past the window through gaps under tail_gap_s (0.4 s), then ends
        ("SS" + "VVV" + "SS" + "VVV" + "SSSS" + "V", "ww" + "ddd" + "ww" + "ddd" + "wwww" + "S"),
    ],
)
def test_after_an_early_commit_a_window_holds_the_tail(blocks: str, expected: str) -> None:
    endpointer = Endpointer(EndpointingParams())
    play(endpointer, "VVVV" + "SSS")
    endpointer.end(hold=True)
    assert play(endpointer, blocks) == expected


def test_an_answer_ended_without_hold_lets_the_next_voice_open_at_once() -> None:
    endpointer = Endpointer(EndpointingParams())
    play(endpointer, "VVVV" + "SSS")
    endpointer.end()
    assert play(endpointer, "SV") == "wS"


def test_clear_forgets_a_held_answer() -> None:
    endpointer = Endpointer(EndpointingParams(tail_hold_s=1.0))
    play(endpointer, "VVVV" + "SSS")
    endpointer.end(hold=True)
    endpointer.clear()
    assert play(endpointer, "V") == "S"


def test_no_hold_without_a_window() -> None:
    endpointer = Endpointer(EndpointingParams(tail_hold_s=0.0))
    play(endpointer, "VVVV" + "SSS")
    endpointer.end(hold=True)
    assert play(endpointer, "SV") == "wS"


def test_the_caller_may_wait_longer_for_the_end() -> None:
    """After words that do not end an answer the turn passes a longer silence."""
    endpointer = Endpointer(EndpointingParams())
    play(endpointer, "VVVV")
    steps = [endpointer.push(BLOCKS["S"], silence_end_s=2.5) for _ in range(25)]
    assert [step.action for step in steps].count(Action.SPECULATE) == 1
    assert [step.action for step in steps][-2:] == [Action.SEND, Action.END]
    assert endpointer.trailing_s == pytest.approx(2.5)


def test_a_failed_utterance_drops_its_voice_until_the_long_silence() -> None:
    endpointer = Endpointer(EndpointingParams())
    play(endpointer, "VVVV")
    endpointer.end(discard=True)
    assert play(endpointer, "VV" + "S" * 10 + "V") == "dd" + "w" * 10 + "S"


@pytest.mark.parametrize("level", [0.0099, 0.01005, 0.0101, 0.05, 0.5])
def test_the_voice_check_on_float32_samples_decides_as_the_exact_rms(level: float) -> None:
    """The RMS is summed in float32 (no float64 copy per frame): blocks of real-looking
    noise scaled to within 1 % of the threshold, either side, still fall on the side the
    float64 RMS puts them."""
    rng = np.random.default_rng(7)
    for _ in range(50):
        noise = rng.standard_normal(BLOCK)
        block = (noise * (level / np.sqrt(np.mean(noise**2)))).astype(np.float32)
        exact = float(np.sqrt(np.mean(block.astype(np.float64) ** 2)))
        assert is_voiced(block, voice_rms=0.01) == (exact >= 0.01)
    assert not is_voiced(np.zeros(0, np.float32), voice_rms=0.01)
