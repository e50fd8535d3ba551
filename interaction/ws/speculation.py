"""The speculative verdict: judged in memory, committed at once only when confidently correct.

`speculative_outcome` (pure) runs the audio judge (`interaction.audio_judging`) on the
evidence an evaluated hypothesis carries, with the turn's policy from the stream context: the
same decision the recording path makes on the same evidence. `commits_at_once` says which
outcomes may be committed after the short silence; every other one (a penalty, `unclear`, no
speech) waits for the long silence or the stop gesture, so a learner who pauses mid-sentence
is never cut off and penalised.
"""

from __future__ import annotations

import asyncio

from interaction.asr.types import Hypothesis
from interaction.audio_evidence import AudioEvidence
from interaction.audio_judging import judge_audio
from interaction.stream_selectors import StreamContext
from interaction.vocabulary import Outcome


def speculative_outcome(hypothesis: Hypothesis, context: StreamContext) -> str | None:
    """The audio judge's outcome for an evaluated hypothesis; None without evidence/policy."""
    if not hypothesis.evidence or context.audio_policy is None:
        return None
    evidence = AudioEvidence.from_payload(hypothesis.evidence)
    return judge_audio(evidence, context.answers, context.audio_policy).outcome


def commits_at_once(outcome: str | None) -> bool:
    """Only a confident correct verdict is committed before the long silence."""
    return outcome == Outcome.CORRECT


async def pause_verdict(task: asyncio.Task[Hypothesis | None] | None) -> Hypothesis | None:
    """The current pause's evaluated hypothesis (waiting for it if it is on its way)."""
    if task is None:
        return None
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if task.cancelled():
            return None  # dropped while we waited (the learner went on)
        raise
