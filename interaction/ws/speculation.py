"""The speculative verdict: the audio judge's outcome on the evidence of a pause, in memory.

`speculative_outcome` (pure) runs the audio judge (`interaction.audio_judging`) on the
evidence an evaluated hypothesis carries, with the turn's policy from the stream context: the
same decision the recording path makes on the same evidence. The turn (`ws/turn.py`) commits
it at once only when it is `correct`; every other one (a penalty, `unclear`, no speech)
waits for the end of the answer, so a learner who pauses mid-sentence is never cut off and
penalised.
"""

from __future__ import annotations

from interaction.asr.types import Hypothesis
from interaction.audio_evidence import AudioEvidence
from interaction.audio_judging import judge_audio
from interaction.stream_selectors import StreamContext


def speculative_outcome(hypothesis: Hypothesis, context: StreamContext) -> str | None:
    """The audio judge's outcome for an evaluated hypothesis; None without evidence/policy."""
    if not hypothesis.evidence or context.audio_policy is None:
        return None
    evidence = AudioEvidence.from_payload(hypothesis.evidence)
    return judge_audio(evidence, context.answers, context.audio_policy).outcome
