"""The fair judge of a spoken answer: evidence from the audio in, one of five outcomes out.

Pure: no Django, no numpy. The evidence comes from `interaction.asr.server.evidence.answer_evidence`
(the payload of the ASR server's final message); the thresholds from the scenario rules.

Three tiers (docs/fair-judge.md says why each threshold is where it is). Signals:
`margin` = best accepted answer's teacher-forced mean log-probability per word token minus
the free transcript's (≤ 0 when the transcript is the model's best guess); `similarity` of
the transcript to the closest answer (0..100, interaction.judging); `other_probability`, the
restricted language ID of the learner's likeliest other language; `other_fit`, how much
better a decode forced to that language explains the audio than the target-language one.

- **confident correct → `correct`**: not near-certainly another language, not a translation
  by the decoder (`other_probability` ≥ `wrong_language_probability` with `other_fit` ≥
  `wrong_language_other_fit`), the answer explains the utterance to its end (at most
  `correct_max_unexplained_s` of speech after its last word, cross-attention DTW), and one of:
  an accepted answer explains the audio nearly as well as the transcript (`margin` ≥
  `correct_margin`, similarity ≥ `correct_margin_similarity`); the transcript *is* an
  accepted answer (similarity ≥ `correct_similarity`) that does not explain the audio badly
  (`correct_similarity_margin`); or, for audio the recogniser could not make out, the answer
  explains it as well as the recogniser's own words at any similarity (`loose_*`: margin,
  the answer's own mean log-probability, language ID not leaning away);
- **confident wrong → the penalty**: `wrong_language` when the other language is confident,
  its own decode is confident (`wrong_language_min_other_logprob`) and either the decoder
  translated, the language ID is near-certain, or no answer explains the audio (`margin` <
  `wrong_language_margin`); `incorrect_answer` when the language is the target's, the
  recogniser heard the words clearly (transcript mean log-probability ≥
  `incorrect_min_transcript_logprob`, no loop), they are not an accepted answer (similarity
  < `incorrect_similarity`) and no answer explains the audio (`margin` < `incorrect_margin`),
  unless language ID leans away *and* the other language's decode fits as well
  (`incorrect_doubt_*`);
- **otherwise `unclear`**: no points, no lives, "say it again".

The house principle: a learner never loses a heart on doubt; a wrong answer never earns
points. So each penalty needs two signals that agree, and points need the audio's support.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from interaction.audio_evidence import AnswerScore, AudioEvidence
from interaction.judging import answer_match
from interaction.vocabulary import Outcome


@dataclass(frozen=True)
class AudioJudgingPolicy:
    """Thresholds of the three tiers (rules: global → difficulty → scenario).

    Similarities are 0..100 (interaction.judging.similarity); margins and fits are differences
    of mean natural log-probabilities per token (answer − transcript: ≤ 0 when the transcript
    is the model's best guess; other-language decode − target decode); probabilities 0..1
    over the restricted language set; `correct_max_unexplained_s` in seconds of speech.
    `loose_*`: the tier for audio the recogniser could not make out (margin ≥ `loose_margin`,
    the answer's own mean log-probability ≥ `loose_min_answer_logprob`, similarity ≥
    `loose_similarity`, other-language probability < `loose_max_other_probability`).
    Defaults: tuned on the bench's tuning split (docs/fair-judge.md says how and why).
    """

    target_language: str
    other_languages: tuple[str, ...] = ("en",)
    correct_margin: float = -1.0
    correct_margin_similarity: float = 60.0
    correct_similarity: float = 90.0
    correct_similarity_margin: float = -3.0
    correct_max_other_probability: float = 0.99
    correct_max_other_fit: float = 0.7
    wrong_language_probability: float = 0.9
    wrong_language_margin: float = -1.5
    wrong_language_other_fit: float = 0.5
    wrong_language_min_other_logprob: float = -1.0
    wrong_language_min_fit: float = -9.0
    wrong_language_certain_probability: float = 0.99
    incorrect_similarity: float = 90.0
    incorrect_margin: float = -3.0
    incorrect_max_other_probability: float = 0.95
    incorrect_doubt_probability: float = 0.5
    incorrect_doubt_other_fit: float = -0.5
    incorrect_min_transcript_logprob: float = -1.3
    correct_max_unexplained_s: float = 99.0
    correct_max_behind_transcript_s: float = 0.35
    loose_margin: float = -0.25
    loose_similarity: float = 0.0
    loose_min_answer_logprob: float = -2.5
    loose_max_other_probability: float = 0.8
    ignore_accents: bool = True


@dataclass(frozen=True)
class AudioVerdict:
    """outcome: an `Outcome` (a `str`, equal to its value); reason: which rule decided.

    similarity: 0..100 of the transcript to `best_answer` (the closest by text);
    margin: best answer's mean log-probability minus the transcript's (None without scores);
    scored_answer: the answer that explains the audio best (with `filler` if one was scored);
    language / language_probability: the most probable of the restricted languages;
    other_language / other_probability: the likeliest of the learner's other languages.
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
    other_fit: float | None = None
    unexplained_s: float | None = None
    behind_transcript_s: float | None = None


def best_score(scores: Iterable[AnswerScore]) -> AnswerScore | None:
    """The answer (any filler variant) with the highest mean log-probability per token."""
    return max(scores, key=lambda score: score.mean_logprob, default=None)


def _unexplained(score: AnswerScore | None, evidence: AudioEvidence) -> float | None:
    """Seconds of speech after the answer's last word (None without DTW times)."""
    if score is None or score.end_s is None or evidence.speech_end_s is None:
        return None
    return max(0.0, evidence.speech_end_s - score.end_s)


def _behind_transcript(score: AnswerScore | None, evidence: AudioEvidence) -> float | None:
    """Seconds between the answer's last word's end and the transcript's (None if unknown)."""
    if score is None or score.word_end_s is None or evidence.transcript_word_end_s is None:
        return None
    return max(0.0, evidence.transcript_word_end_s - score.word_end_s)


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
    evidence: AudioEvidence, answers: Iterable[str], policy: AudioJudgingPolicy
) -> AudioVerdict:
    """The three-tier decision (module docstring): no speech, correct, penalty, or unclear."""
    answers = tuple(answers)
    top = max(evidence.language_probabilities.items(), key=lambda item: item[1], default=None)
    language, language_probability = top if top else (None, None)
    other, other_probability = likeliest_other(
        evidence.language_probabilities,
        target=policy.target_language,
        others=policy.other_languages,
    )
    base: dict[str, Any] = {
        "language": language,
        "language_probability": language_probability,
        "other_language": other,
        "other_probability": other_probability,
    }
    if evidence.no_speech or not evidence.transcript.strip():
        return AudioVerdict(Outcome.NO_SPEECH, "no speech heard", **base)

    match = answer_match(
        evidence.transcript,
        answers,
        language=policy.target_language,
        ignore_accents=policy.ignore_accents,
    )
    scored = best_score(score for score in evidence.answers if score.answer in answers)
    margin = (
        round(scored.mean_logprob - evidence.transcript_logprob, 4)
        if scored is not None and evidence.transcript_logprob is not None
        else None
    )
    base.update(
        similarity=match.similarity,
        best_answer=match.answer,
        margin=margin,
        scored_answer=scored.answer if scored else None,
        filler=scored.filler if scored else None,
    )
    similarity = match.similarity if match.answer is not None else 0.0
    unexplained = _unexplained(scored, evidence)
    base["unexplained_s"] = round(unexplained, 3) if unexplained is not None else None
    behind = _behind_transcript(scored, evidence)
    base["behind_transcript_s"] = round(behind, 3) if behind is not None else None
    matched = best_score(score for score in evidence.answers if score.answer == match.answer)

    def covers(score: AnswerScore | None) -> bool:
        """The answer explains the utterance to its end (no DTW times: no veto)."""
        left = _unexplained(score, evidence)
        behind = _behind_transcript(score, evidence)
        return (left is None or left <= policy.correct_max_unexplained_s) and (
            behind is None or behind <= policy.correct_max_behind_transcript_s
        )

    def verdict(outcome: Outcome, reason: str) -> AudioVerdict:
        return AudioVerdict(outcome, reason, **base)

    fits = [
        logprob - evidence.decode_logprob
        for lang, logprob in evidence.other_logprobs.items()
        if lang in policy.other_languages and evidence.decode_logprob is not None
    ]
    other_fit = max(fits) if fits else None
    base["other_fit"] = round(other_fit, 4) if other_fit is not None else None
    confident_other = other_probability >= policy.wrong_language_probability
    # The decoder forced to the target may *translate* (English "Thank you very much" comes
    # out as "Merci beaucoup."): then the other language's own decode explains it better.
    translated = (
        confident_other and other_fit is not None and other_fit >= policy.wrong_language_other_fit
    )

    # Tier 1: an accepted answer the audio supports.
    # A decode in the other language that explains the audio much better, at any language
    # ID: the target transcript may be a translation ("No, gracias" → "Gracias", English
    # decode "No, thank you"), so no points on it.
    better_other = other_fit is not None and other_fit >= policy.correct_max_other_fit
    if (
        not translated
        and not better_other
        and other_probability < policy.correct_max_other_probability
    ):
        if (
            margin is not None
            and margin >= policy.correct_margin
            and similarity >= policy.correct_margin_similarity
            and covers(scored)
        ):
            return verdict(Outcome.CORRECT, "an accepted answer explains the audio")
        if (
            similarity >= policy.correct_similarity
            and (margin is None or margin >= policy.correct_similarity_margin)
            and covers(matched)
        ):
            return verdict(Outcome.CORRECT, "the transcript matches an accepted answer")
        if (
            scored is not None
            and margin is not None
            and margin >= policy.loose_margin
            and similarity >= policy.loose_similarity
            and scored.mean_logprob >= policy.loose_min_answer_logprob
            and other_probability < policy.loose_max_other_probability
            and covers(scored)
        ):
            return verdict(Outcome.CORRECT, "an accepted answer explains all of the unclear audio")

    # Tier 2: confident penalties, two signals agreeing.
    badly_explained = margin is None or margin < policy.wrong_language_margin
    other_understood = (
        any(
            logprob >= policy.wrong_language_min_other_logprob
            for lang, logprob in evidence.other_logprobs.items()
            if lang in policy.other_languages
        )
        or not evidence.other_logprobs
    )
    other_no_worse = other_fit is None or other_fit >= policy.wrong_language_min_fit
    # Near-certain language ID with a decode in that language at least as good: whatever
    # the target-language decode made of it, the learner spoke the other language.
    certain_other = other_probability >= policy.wrong_language_certain_probability and (
        other_fit is None or other_fit >= 0.0
    )
    if (
        confident_other
        and other_understood
        and (translated or certain_other or (badly_explained and other_no_worse))
    ):
        return verdict(
            Outcome.WRONG_LANGUAGE, f"spoken in {other}, no accepted answer fits the audio"
        )
    if (
        not evidence.looped
        and other_probability < policy.incorrect_max_other_probability
        and not (
            # language ID leans away and the other language's decode fits about as well:
            # the target-language transcript is not to be trusted with a penalty
            other_probability >= policy.incorrect_doubt_probability
            and other_fit is not None
            and other_fit >= policy.incorrect_doubt_other_fit
        )
        and similarity < policy.incorrect_similarity
        and margin is not None
        and margin < policy.incorrect_margin
        and evidence.transcript_logprob is not None
        and evidence.transcript_logprob >= policy.incorrect_min_transcript_logprob
    ):
        return verdict(
            Outcome.INCORRECT_ANSWER, "heard in the target language, no accepted answer fits"
        )
    # Tier 3: doubt.
    return verdict(Outcome.UNCLEAR, "not sure: ask the learner to say it again")
