"""interaction/ws/partials.py: a partial hypothesis becomes its event and its stored row."""

from __future__ import annotations

from interaction.asr.types import Hypothesis
from interaction.events import Standing
from tests.interaction.test_ws_outbox import context

CAFE = "Je voudrais un café, s'il vous plaît"


def outputs(text: str):
    from interaction.ws.partials import partial_outputs

    return partial_outputs(
        context(answers=(CAFE,), turn={"index": 2}),
        utterance_id="u1",
        hypothesis=Hypothesis(text=text, confidence=0.91234, audio_ms=1200),
        latency_ms=340,
        ignore_accents=True,
    )


def test_a_partial_close_to_an_answer_names_it_as_its_intent() -> None:
    event, row = outputs("je voudrais un cafe s'il vous plait")
    sent = event(7, Standing(session="s1"))
    assert (sent["type"], sent["seq"], sent["intent"], sent["confidence"]) == (
        "partial",
        7,
        CAFE,
        0.9123,
    )
    stored = row(7)
    assert (stored.turn_index, stored.seq, stored.latency_ms, stored.utterance) == (2, 7, 340, "u1")


def test_a_partial_far_from_every_answer_has_no_intent() -> None:
    event, _ = outputs("Je voudrais")
    assert event(1, Standing(session="s1"))["intent"] is None
