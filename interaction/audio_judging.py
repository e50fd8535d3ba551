"""The fair judge of a spoken answer: evidence from the audio in, one of five outcomes out.

Pure: no Django, no numpy. The evidence comes from `interaction.asr.server.evidence.answer_evidence`
(the payload of the ASR server's final message); the decision from a model fitted on
recordings of real people (`interaction.judge_model`, over `interaction.judge_features`).

- **no speech** when the VAD kept nothing or nothing was transcribed;
- otherwise the fitted model gives P(correct), P(incorrect_answer), P(wrong_language) from
  the evidence: how well each accepted answer explains the audio against the recogniser's
  own words (sentence and word by word, where they differ: the miscue detector), the
  language ID over the target and **the learner's** languages, and how much better a decode
  forced to one of those explains the audio;
- three tiers (`interaction.judge_model.tier`): points when P(correct) reaches its floor, a
  penalty when the likelier penalty reaches its own, else `unclear` ("say it again").

The floors were chosen on the bench's fitting part with the costs written down (a heart lost
on a correct answer costs far more than an `unclear`); a scenario may raise or lower them
(`correct_floor`, `incorrect_floor`, `wrong_language_floor` in its `audio_judging` rules).
Evidence without teacher-forced scores (a provider that gives a transcript only) is judged by
its text alone, and never with an `incorrect_answer` (that needs the scores).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from interaction.audio_evidence import AudioEvidence
from interaction.judge_features import answer_features, best_answer_score
from interaction.judge_model import JudgeModel, floors_with, judge_model, tier
from interaction.judging import answer_match
from interaction.vocabulary import Outcome

EXTRA_HEARD_VETO = 0.2
"""No points when this share (0..1) of the heard words are clearly heard words the accepted
answer does not have ("No, gracias" for "Gracias", "Voilà, bonne soirée" for "Voilà"): the
real-voice bench has no such answers to learn from (docs/fair-judge.md), so a rule keeps
them from scoring; they are asked again instead."""
TEXT_ONLY_SIMILARITY = 90.0
"""Without scores, a transcript this close (0..100) to an accepted answer earns points."""
TEXT_ONLY_OTHER_PROBABILITY = 0.9
"""Without scores, an answer is wrong-language only on language ID this sure (0..1)."""


@dataclass(frozen=True)
class AudioJudgingPolicy:
    """Who is judged against what: the target, the learner's other languages (the suspects
    of a wrong-language answer), and the rules' floors (0..1; None: the fitted model's)."""

    target_language: str
    other_languages: tuple[str, ...] = ("en",)
    correct_floor: float | None = None
    incorrect_floor: float | None = None
    wrong_language_floor: float | None = None
    ignore_accents: bool = True

    def floors(self, model: JudgeModel) -> dict[str, float]:
        """The model's fitted floors, where the rules set none."""
        return floors_with(
            (
                ("correct", self.correct_floor),
                ("incorrect_answer", self.incorrect_floor),
                ("wrong_language", self.wrong_language_floor),
            ),
            model,
        )


@dataclass(frozen=True)
class AudioVerdict:
    """outcome: an `Outcome` (a `str`, equal to its value); reason: why, in words.

    similarity: 0..100 of the transcript to `best_answer` (the closest by text);
    margin: the best-explaining answer's mean log-probability per token minus the
    transcript's (None without scores); scored_answer: that answer (`filler` if one was
    scored before it); language / language_probability: the most probable of the restricted
    languages; other_language / other_probability: the likeliest of the learner's other
    languages; probabilities: the fitted model's P(class), 0..1; features: what it read.
    """

    outcome: Outcome
    reason: str
    similarity: float | None = None
    best_answer: str | None = None
    margin: float | None = None
    scored_answer: str | None = None
    filler: str | None = None
    language: str | None = None
    language_probability: float | None = None
    other_language: str | None = None
    other_probability: float = 0.0
    probabilities: Mapping[str, float] = field(default_factory=dict)
    features: Mapping[str, float] = field(default_factory=dict)

    def as_payload(self) -> dict[str, Any]:
        """The verdict as stored under the attempt's evidence: `asdict`, without its deep
        copy of every float (a tenth of recording a live answer)."""
        return {
            name: dict(value) if isinstance(value, Mapping) else value
            for name, value in vars(self).items()
        }


def likeliest_other(
    probabilities: Mapping[str, float], *, target: str, others: Sequence[str]
) -> tuple[str | None, float]:
    ranked = sorted(
        ((lang, probabilities.get(lang, 0.0)) for lang in others if lang != target),
        key=lambda item: item[1],
        reverse=True,
    )
    return ranked[0] if ranked else (None, 0.0)


def judge_audio(
    evidence: AudioEvidence,
    answers: Iterable[str],
    policy: AudioJudgingPolicy,
    *,
    model: JudgeModel | None = None,
) -> AudioVerdict:
    """No speech, correct, a penalty, or unclear (module docstring). `model`: the fitted
    model shipped with the code unless given (tests give their own)."""
    answers = tuple(answers)
    top = max(evidence.language_probabilities.items(), key=lambda item: item[1], default=None)
    other, other_probability = likeliest_other(
        evidence.language_probabilities,
        target=policy.target_language,
        others=policy.other_languages,
    )
    match = answer_match(
        evidence.transcript,
        answers,
        language=policy.target_language,
        ignore_accents=policy.ignore_accents,
    )
    scored = best_answer_score(evidence, answers)
    margin = (
        round(scored.mean_logprob - evidence.transcript_logprob, 4)
        if scored is not None and evidence.transcript_logprob is not None
        else None
    )
    base = AudioVerdict(
        outcome=Outcome.UNCLEAR,
        reason="",
        similarity=match.similarity,
        best_answer=match.answer,
        margin=margin,
        scored_answer=scored.answer if scored else None,
        filler=scored.filler if scored else None,
        language=top[0] if top else None,
        language_probability=top[1] if top else None,
        other_language=other,
        other_probability=other_probability,
    )
    if evidence.no_speech or not evidence.transcript.strip():
        return _with(base, Outcome.NO_SPEECH, "no speech heard")
    if scored is None or evidence.transcript_logprob is None:
        return _text_only(base)
    features = answer_features(
        evidence,
        answers,
        target=policy.target_language,
        others=policy.other_languages,
        ignore_accents=policy.ignore_accents,
    )
    model = model or judge_model()
    probabilities = model.probabilities(features)
    floors = policy.floors(model)
    decided = tier(probabilities, floors)
    shown = {name: round(p, 4) for name, p in probabilities.items()}
    reason = (
        f"P({decided}) {probabilities[decided]:.2f} ≥ floor {floors[decided]:.2f}"
        if decided != "unclear"
        else "no outcome reaches its floor: ask the learner to say it again"
    )
    if decided == "correct" and features["extra_confident_share"] >= EXTRA_HEARD_VETO:
        decided, reason = "unclear", "the learner clearly said more than the accepted answer"
    verdict = _with(base, Outcome(decided), reason)
    return AudioVerdict(**{**verdict.__dict__, "probabilities": shown, "features": features})


def _with(base: AudioVerdict, outcome: Outcome, reason: str) -> AudioVerdict:
    return AudioVerdict(**{**base.__dict__, "outcome": outcome, "reason": reason})


def _text_only(base: AudioVerdict) -> AudioVerdict:
    """Evidence with no teacher-forced scores: the transcript and language ID alone."""
    if base.other_probability >= TEXT_ONLY_OTHER_PROBABILITY:
        return _with(base, Outcome.WRONG_LANGUAGE, f"spoken in {base.other_language} (text only)")
    if base.best_answer is not None and (base.similarity or 0.0) >= TEXT_ONLY_SIMILARITY:
        return _with(base, Outcome.CORRECT, "the transcript matches an accepted answer (text only)")
    return _with(base, Outcome.UNCLEAR, "no scores to judge by: ask the learner to say it again")
