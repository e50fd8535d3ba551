"""Judging one answer: the language check, then the match against the accepted answers.

Pure: evidence and policy in, a frozen `Verdict` out; no Django imports.

The language check follows FINDINGS.md: an answer is wrong-language only when a *suspect*
language (for speech: the learner's other languages; for typed text: any language but the
target) reaches `wrong_language_probability` **and** outranks the target. Weak or ambiguous
language evidence never costs a life: the answer is judged on its words instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from num2words import num2words
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from interaction.vocabulary import Outcome

_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
_APOSTROPHES = re.compile(r"['’ʼ`´]")
WORD_SNAP_RATIO = 75.0
"""A spoken word this close (rapidfuzz ratio, 0..100) to an answer's word counts as that word."""


@dataclass(frozen=True)
class Evidence:
    """What we know about one answer.

    language_probabilities: language code -> 0..1, from audio language ID over the utterance
    (speech) or from a text language detector (typed answers).
    """

    transcript: str
    language_probabilities: Mapping[str, float] = field(default_factory=dict)
    no_speech: bool = False


@dataclass(frozen=True)
class Policy:
    target_language: str
    suspect_languages: tuple[str, ...]
    wrong_language_probability: float
    answer_similarity: float
    ignore_accents: bool = True


@dataclass(frozen=True)
class Verdict:
    """outcome: what the answer was judged to be.

    similarity: 0..100 to `best_answer`, the closest accepted answer (None when not matched).
    language / language_probability: the most probable language of the evidence.
    suspect_language: the language that made the answer wrong-language, else None.
    """

    outcome: Outcome
    similarity: float | None = None
    best_answer: str | None = None
    language: str | None = None
    language_probability: float | None = None
    suspect_language: str | None = None


@lru_cache(maxsize=4096)
def normalise(text: str, *, language: str, ignore_accents: bool = True) -> str:
    """Fold case, numbers (spelled out in `language`), accents, punctuation and spacing.

    Apostrophes join (s'il → sil) so elisions match however the recogniser writes them.
    Remembered (a pure function): a turn's accepted answers are folded on every judgement.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _APOSTROPHES.sub("", text)
    text = _DIGITS.sub(lambda match: _spell_number(match.group(), language), text)
    if ignore_accents:
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(char for char in decomposed if not unicodedata.combining(char))
    text = "".join(" " if unicodedata.category(char)[0] in "PS" else char for char in text)
    return _SPACES.sub(" ", text).strip()


def _spell_number(digits: str, language: str) -> str:
    try:
        return f" {num2words(int(digits), lang=language)} "
    except (NotImplementedError, OverflowError, ValueError):
        return digits


@dataclass(frozen=True)
class Match:
    answer: str | None
    similarity: float


def similarity(spoken: str, answer: str, **_: object) -> float:
    """0..100: the lower of the character ratio and a word-level similarity of folded texts.

    Characters forgive recognition slips ("plais" for "plaît"); words keep one wrong content
    word from passing ("thé" for "café" is 93 by characters alone). Before the word-level
    Levenshtein, each spoken word within WORD_SNAP_RATIO of one of the answer's words is
    counted as that word.
    """
    answer_words = answer.split()
    snapped = []
    for word in spoken.split():
        best = process.extractOne(word, answer_words, scorer=fuzz.ratio)
        snapped.append(best[0] if best and best[1] >= WORD_SNAP_RATIO else word)
    words = 100.0 * Levenshtein.normalized_similarity(snapped, answer_words)
    return min(fuzz.ratio(spoken, answer), words)


def answer_match(
    transcript: str, answers: Iterable[str], *, language: str, ignore_accents: bool = True
) -> Match:
    """The accepted answer closest to `transcript` by `similarity` (0..100) after folding.

    Remembered (a pure function): the judge and its features ask for the same match."""
    return _answer_match(transcript, tuple(answers), language, ignore_accents)


@lru_cache(maxsize=1024)
def _answer_match(
    transcript: str, answers: tuple[str, ...], language: str, ignore_accents: bool
) -> Match:
    candidates = {
        answer: normalise(answer, language=language, ignore_accents=ignore_accents)
        for answer in answers
    }
    spoken = normalise(transcript, language=language, ignore_accents=ignore_accents)
    if not candidates or not spoken:
        return Match(answer=None, similarity=0.0)
    best = process.extractOne(spoken, candidates, scorer=similarity)
    assert best is not None
    _normalised, score, answer = best
    return Match(answer=answer, similarity=round(float(score), 2))


def language_suspect(
    probabilities: Mapping[str, float], *, target: str, suspects: Iterable[str], threshold: float
) -> tuple[str, float] | None:
    """The suspect language that reaches `threshold` and outranks `target`, if any."""
    target_probability = probabilities.get(target, 0.0)
    ranked = sorted(
        ((language, probabilities.get(language, 0.0)) for language in set(suspects) - {target}),
        key=lambda item: item[1],
        reverse=True,
    )
    if ranked and ranked[0][1] >= threshold and ranked[0][1] > target_probability:
        return ranked[0]
    return None


def judge(evidence: Evidence, answers: Iterable[str], policy: Policy) -> Verdict:
    """No speech → NO_SPEECH; a suspect language → WRONG_LANGUAGE; else match the answers."""
    top = max(evidence.language_probabilities.items(), key=lambda item: item[1], default=None)
    language, language_probability = top if top else (None, None)
    if evidence.no_speech or not evidence.transcript.strip():
        return Verdict(
            Outcome.NO_SPEECH, language=language, language_probability=language_probability
        )
    suspect = language_suspect(
        evidence.language_probabilities,
        target=policy.target_language,
        suspects=policy.suspect_languages,
        threshold=policy.wrong_language_probability,
    )
    match = answer_match(
        evidence.transcript,
        answers,
        language=policy.target_language,
        ignore_accents=policy.ignore_accents,
    )
    if suspect is not None:
        outcome = Outcome.WRONG_LANGUAGE
    elif match.answer is not None and match.similarity >= policy.answer_similarity:
        outcome = Outcome.CORRECT
    else:
        outcome = Outcome.INCORRECT_ANSWER
    return Verdict(
        outcome,
        similarity=match.similarity,
        best_answer=match.answer,
        language=language,
        language_probability=language_probability,
        suspect_language=suspect[0] if suspect else None,
    )
