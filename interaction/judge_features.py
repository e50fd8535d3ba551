"""The numbers the fitted judge reads: one spoken answer's evidence as named features.

Pure: no Django, no numpy. `answer_features(evidence, answers, …)` turns the evidence pass's
payload (`interaction.audio_evidence.AudioEvidence`) into a flat mapping of floats, the
same for the bench that fits the judge (bench/realvoice_fit.py) and for the product. Every
feature is bounded (clipped) so that one freak value cannot swamp the decision.

The miscue detector (`miscues`) is what a sentence mean misses: the best accepted answer and
the free transcript are aligned word by word, and where they differ the answer's words are
compared with the heard words, both teacher-forced against the same audio. A misheard
correct answer has answer words about as likely as the heard ones; a clearly heard wrong
answer ("Tee" for "Kaffee") has one answer word the audio flatly refuses.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from interaction.audio_evidence import AnswerScore, AudioEvidence
from interaction.judging import answer_match

_LETTERS = re.compile(r"[^\w]+")
EXTRA_CONFIDENT = -1.0
"""A heard word this likely (natural log-probability) was said, not guessed."""


def word_key(word: str) -> str:
    """A word as the alignment compares it: case, accents, apostrophes and punctuation off."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _LETTERS.sub("", plain)


@dataclass(frozen=True)
class Miscues:
    """Where the best answer and the transcript differ, in natural log-probabilities.

    differing: the answer's words that the transcript does not have (0 when they agree);
    answer_min / answer_mean: the lowest / mean log-probability of those answer words
    (0 when none differ); gap: per differing answer word, the answer words' total minus the
    heard words' total over the same stretch (≤ 0 when the recogniser's words explain the
    audio better); worst_gap: that difference over the worst single stretch; heard_mean: the
    mean log-probability of the heard words in the differing stretches (near 0: the learner
    clearly said something else; low: the recogniser was guessing); agreed_mean: the mean
    log-probability of the answer words both share; extra / extra_confident: heard words the
    answer has nothing for (all / those heard with log-probability ≥ EXTRA_CONFIDENT: the
    learner clearly said more than the answer, "No, gracias" for "Gracias").
    """

    answer_words: int
    differing: int
    answer_min: float
    answer_mean: float
    gap: float
    worst_gap: float
    heard_mean: float
    agreed_mean: float
    extra: int = 0
    extra_confident: int = 0


def miscues(answer: Sequence[tuple[str, float]], heard: Sequence[tuple[str, float]]) -> Miscues:
    """Align the answer's words with the heard words and compare where they differ."""
    answer_keys = [word_key(word) for word, _ in answer]
    heard_keys = [word_key(word) for word, _ in heard]
    matcher = SequenceMatcher(a=answer_keys, b=heard_keys, autojunk=False)
    differing: list[float] = []
    heard_differing: list[float] = []
    agreed: list[float] = []
    gaps: list[float] = []
    extra: list[float] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        answer_part = [logprob for _, logprob in answer[i1:i2]]
        heard_part = [logprob for _, logprob in heard[j1:j2]]
        if tag == "equal":
            agreed.extend(answer_part)
            continue
        if tag == "insert":  # heard words the answer has nothing for
            extra.extend(heard_part)
            continue
        differing.extend(answer_part)
        heard_differing.extend(heard_part)
        gaps.append(sum(answer_part) - sum(heard_part))
    count = len(differing)
    return Miscues(
        answer_words=len(answer),
        differing=count,
        answer_min=min(differing, default=0.0),
        answer_mean=sum(differing) / count if count else 0.0,
        gap=sum(gaps) / max(count, 1),
        worst_gap=min(gaps, default=0.0),
        heard_mean=sum(heard_differing) / len(heard_differing) if heard_differing else 0.0,
        agreed_mean=sum(agreed) / len(agreed) if agreed else 0.0,
        extra=len(extra),
        extra_confident=sum(1 for logprob in extra if logprob >= EXTRA_CONFIDENT),
    )


def _clip(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def best_answer_score(evidence: AudioEvidence, answers: Sequence[str]) -> AnswerScore | None:
    """The accepted answer (any filler variant) the audio explains best, or None unscored."""
    return max(
        (score for score in evidence.answers if score.answer in answers),
        key=lambda score: score.mean_logprob,
        default=None,
    )


def _answer_words(score: AnswerScore) -> tuple[tuple[str, float], ...]:
    """The answer's own words (a leading filler's word left out)."""
    words = score.word_logprobs
    return words[1:] if score.filler and words else words


def language_features(
    evidence: AudioEvidence, *, target: str, others: Sequence[str]
) -> dict[str, float]:
    """Language ID over the target and the learner's languages, and how much better a decode
    forced to one of theirs explains the audio than the target's (the decoder may translate).

    other_log_odds: log(P(likeliest other) / P(target)), restricted language ID, ±8.
    other_fit: the best other-language decode's mean log-probability minus the target
    decode's, ±5; other_logprob: that decode's own mean log-probability.
    """
    probabilities = evidence.language_probabilities
    suspects = [lang for lang in others if lang != target]
    target_p = probabilities.get(target, 0.0)
    other_p = max((probabilities.get(lang, 0.0) for lang in suspects), default=0.0)
    decodes = [
        evidence.other_logprobs[lang] for lang in suspects if lang in evidence.other_logprobs
    ]
    best_other = max(decodes, default=None)
    fit = (
        best_other - evidence.decode_logprob
        if best_other is not None and evidence.decode_logprob is not None
        else 0.0
    )
    return {
        "target_probability": target_p,
        "other_probability": other_p,
        "other_log_odds": _clip(math.log((other_p + 1e-4) / (target_p + 1e-4)), -8, 8),
        "other_fit": _clip(fit, -5, 5),
        "other_logprob": _clip(best_other if best_other is not None else -5.0, -5, 0),
        "has_suspects": 1.0 if suspects else 0.0,
    }


def answer_features(
    evidence: AudioEvidence,
    answers: Sequence[str],
    *,
    target: str,
    others: Sequence[str],
    ignore_accents: bool = True,
) -> dict[str, float]:
    """Every feature of one spoken answer (module docstring); bounded floats."""
    scored = best_answer_score(evidence, answers)
    match = answer_match(
        evidence.transcript, answers, language=target, ignore_accents=ignore_accents
    )
    transcript_lp = evidence.transcript_logprob if evidence.transcript_logprob is not None else -5.0
    answer_lp = scored.mean_logprob if scored is not None else -10.0
    found = miscues(_answer_words(scored), evidence.transcript_word_logprobs) if scored else None
    features = {
        "margin": _clip(answer_lp - transcript_lp, -10, 2),
        "answer_logprob": _clip(answer_lp, -10, 0),
        "transcript_logprob": _clip(transcript_lp, -5, 0),
        "heard_min": _clip(
            min((lp for _, lp in evidence.transcript_word_logprobs), default=-5.0), -10, 0
        ),
        "similarity": (match.similarity if match.answer is not None else 0.0) / 100,
        "decode_logprob": _clip(evidence.decode_logprob or -5.0, -5, 0),
        "no_speech_prob": evidence.no_speech_prob or 0.0,
        "looped": 1.0 if evidence.looped else 0.0,
        "log_speech_s": math.log(max(evidence.speech_s, 0.1)),
        "filler": 1.0 if scored is not None and scored.filler else 0.0,
        **_coverage(scored, evidence),
        **_miscue_features(found, len(evidence.transcript_word_logprobs)),
        **language_features(evidence, target=target, others=others),
    }
    # A margin or a refused word means more when the recogniser was sure of what it heard
    # (a clearly heard wrong answer) than when it was guessing (a misheard correct one).
    features["margin_if_clear"] = features["margin"] * math.exp(features["transcript_logprob"])
    features["miscue_if_clear"] = features["miscue_min"] * math.exp(features["miscue_heard_mean"])
    return {name: round(float(value), 5) for name, value in features.items()}


def _coverage(score: AnswerScore | None, evidence: AudioEvidence) -> dict[str, float]:
    """Seconds of speech after the answer's last word, and behind the transcript's (0..3)."""
    unexplained = behind = 0.0
    if score is not None and score.end_s is not None and evidence.speech_end_s is not None:
        unexplained = evidence.speech_end_s - score.end_s
    if (
        score is not None
        and score.word_end_s is not None
        and evidence.transcript_word_end_s is not None
    ):
        behind = evidence.transcript_word_end_s - score.word_end_s
    return {"unexplained_s": _clip(unexplained, 0, 3), "behind_s": _clip(behind, 0, 3)}


def _miscue_features(found: Miscues | None, heard_words: int) -> dict[str, float]:
    if found is None or found.answer_words == 0:
        return {
            "miscue_share": 1.0,
            "miscue_min": -15.0,
            "miscue_mean": -15.0,
            "miscue_gap": -15.0,
            "miscue_worst_gap": -15.0,
            "miscue_heard_mean": 0.0,
            "agreed_mean": -5.0,
            "log_answer_words": 0.0,
            "extra_share": 0.0,
            "extra_confident_share": 0.0,
        }
    return {
        "miscue_share": found.differing / found.answer_words,
        "miscue_min": _clip(found.answer_min, -15, 0),
        "miscue_mean": _clip(found.answer_mean, -15, 0),
        "miscue_gap": _clip(found.gap, -15, 5),
        "miscue_worst_gap": _clip(found.worst_gap, -15, 5),
        "miscue_heard_mean": _clip(found.heard_mean, -5, 0),
        "agreed_mean": _clip(found.agreed_mean, -5, 0),
        "log_answer_words": math.log(found.answer_words),
        "extra_share": found.extra / max(heard_words, 1),
        "extra_confident_share": found.extra_confident / max(heard_words, 1),
    }


def feature_names() -> tuple[str, ...]:
    """The features' names in a fixed order (the fitted model's file lists its own)."""
    empty = AudioEvidence(transcript="x")
    return tuple(answer_features(empty, ("x",), target="en", others=("fr",)))


def as_vector(features: Mapping[str, float], names: Sequence[str]) -> list[float]:
    return [float(features.get(name, 0.0)) for name in names]
