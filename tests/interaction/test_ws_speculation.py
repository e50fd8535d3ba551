"""interaction/ws/speculation.py: the audio judge's verdict on the evidence of a pause."""

from __future__ import annotations

from dataclasses import replace

from interaction.audio_judging import AudioJudgingPolicy
from interaction.ws.speculation import speculative_outcome
from tests.interaction.test_consumer import ANSWERS, BIERE, CAFE, WRONG, evaluated
from tests.interaction.test_ws_outbox import context

POLICY = AudioJudgingPolicy(target_language="fr", other_languages=("en",))
TURN = context(answers=ANSWERS[:2], audio_policy=POLICY)


def test_the_evidence_of_a_correct_answer_is_judged_correct() -> None:
    assert speculative_outcome(evaluated(CAFE), TURN) == "correct"


def test_the_evidence_of_another_answer_is_not() -> None:
    assert speculative_outcome(evaluated(BIERE, **WRONG), TURN) not in (None, "correct")


def test_without_evidence_or_policy_there_is_no_verdict() -> None:
    assert speculative_outcome(replace(evaluated(CAFE), evidence={}), TURN) is None
    assert speculative_outcome(evaluated(CAFE), replace(TURN, audio_policy=None)) is None
