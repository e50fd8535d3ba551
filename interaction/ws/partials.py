"""What a partial hypothesis becomes: the `partial` event the learner sees, and its stored row.

Matched against the turn's accepted answers for display (`intent`); partials never decide a
verdict (the evidence pass does).
"""

from __future__ import annotations

from collections.abc import Callable

from interaction.asr.types import Hypothesis
from interaction.events import PartialEvent, Standing, partial_event
from interaction.judging import answer_match
from interaction.stream_selectors import StreamContext
from interaction.stream_services import PartialRow


def partial_outputs(
    context: StreamContext,
    *,
    utterance_id: str,
    hypothesis: Hypothesis,
    latency_ms: int,
    ignore_accents: bool,
) -> tuple[Callable[[int, Standing], PartialEvent], Callable[[int], PartialRow]]:
    """Builders, by seq (and standing), of the partial's event and of its stored row."""
    match = answer_match(
        hypothesis.text, context.answers, language=context.language, ignore_accents=ignore_accents
    )
    matched = match.similarity >= context.answer_similarity

    def event(seq: int, standing: Standing) -> PartialEvent:
        return partial_event(
            seq=seq,
            standing=standing,
            utterance=utterance_id,
            transcript=hypothesis.text,
            confidence=round(hypothesis.confidence, 4),
            language=context.language,
            language_probability=None,
            intent=match.answer if matched else None,
            similarity=match.similarity,
            audio_ms=hypothesis.audio_ms,
        )

    def row(seq: int) -> PartialRow:
        return PartialRow(
            turn_index=context.turn["index"] if context.turn else 0,
            utterance=utterance_id,
            seq=seq,
            transcript=hypothesis.text,
            confidence=hypothesis.confidence,
            similarity=match.similarity,
            audio_ms=hypothesis.audio_ms,
            latency_ms=latency_ms,
        )

    return event, row
