"""Judging is pure: normalisation, answer matching and the language check, as tables."""

from __future__ import annotations

import pytest

from interaction.judging import (
    Evidence,
    Policy,
    answer_match,
    judge,
    language_suspect,
    normalise,
)
from interaction.vocabulary import Outcome

CAFE = ["Je voudrais un café, s'il vous plaît", "Un café, s'il vous plaît"]


@pytest.mark.parametrize(
    ("text", "language", "ignore_accents", "expected"),
    [
        ("Je voudrais un café, s'il vous plaît!", "fr", True, "je voudrais un cafe sil vous plait"),
        ("Je voudrais un café", "fr", False, "je voudrais un café"),
        ("  UN   Café…  ", "fr", True, "un cafe"),
        ("Pour 2 nuits", "fr", True, "pour deux nuits"),
        ("21 Euro", "de", True, "einundzwanzig euro"),
        ("vingt-et-un", "fr", True, "vingt et un"),
        ("s’il vous plaît", "fr", True, "sil vous plait"),
        ("J'ai une réservation", "fr", True, "jai une reservation"),
        ("Straße", "de", True, "strasse"),
        ("", "fr", True, ""),
    ],
)
def test_normalise(text: str, language: str, ignore_accents: bool, expected: str) -> None:
    assert normalise(text, language=language, ignore_accents=ignore_accents) == expected


@pytest.mark.parametrize(
    ("transcript", "best", "at_least", "below"),
    [
        ("je voudrais un cafe s'il vous plait", CAFE[0], 100, None),
        ("Je voudrais un café s'il vous plaît.", CAFE[0], 100, None),
        ("Je voudrais un cafe, s'il vous plais", CAFE[0], 90, None),
        ("je voudrais un café sil vous plaît", CAFE[0], 100, None),
        ("Un café, s'il vous plaît", CAFE[1], 100, None),
        ("Je voudrais un thé, s'il vous plaît", CAFE[0], 80, 90),
        ("Je voudrais un café", CAFE[0], 50, 90),
        ("Bonjour", None, 0, 60),
    ],
)
def test_answer_match(
    transcript: str, best: str | None, at_least: float, below: float | None
) -> None:
    match = answer_match(transcript, CAFE, language="fr")
    if best is not None:
        assert match.answer == best
    assert match.similarity >= at_least
    if below is not None:
        assert match.similarity < below


@pytest.mark.parametrize(
    ("spoken", "answer", "expected"),
    [
        ("un cafe", "un cafe", 100.0),
        ("un the", "un cafe", 50.0),  # one word of two is wrong
        ("sur plaice", "sur place", 94.74),  # a slip snaps to the answer's word
    ],
)
def test_similarity_is_the_lower_of_characters_and_words(spoken, answer, expected) -> None:
    from interaction.judging import similarity

    assert similarity(spoken, answer) == pytest.approx(expected, abs=0.01)


def test_answer_match_with_no_answers_or_empty_transcript() -> None:
    assert answer_match("un café", [], language="fr").answer is None
    assert answer_match("  ", CAFE, language="fr").similarity == 0.0


@pytest.mark.parametrize(
    ("probabilities", "suspects", "expected"),
    [
        ({"en": 0.9, "fr": 0.05}, ["en"], ("en", 0.9)),
        ({"en": 0.6, "fr": 0.3}, ["en"], ("en", 0.6)),  # threshold is inclusive
        ({"en": 0.59, "fr": 0.1}, ["en"], None),  # below threshold
        ({"en": 0.7, "fr": 0.75}, ["en"], None),  # must outrank the target
        ({"en": 0.7, "fr": 0.7}, ["en"], None),  # a tie does not outrank
        ({"es": 0.9, "fr": 0.05}, ["en"], None),  # not a suspect language
        ({"es": 0.9, "en": 0.65}, ["en", "es"], ("es", 0.9)),  # the strongest suspect
        ({"fr": 0.99}, ["fr", "en"], None),  # the target is never a suspect
        ({}, ["en"], None),
    ],
)
def test_language_suspect(probabilities, suspects, expected) -> None:
    assert (
        language_suspect(probabilities, target="fr", suspects=suspects, threshold=0.6) == expected
    )


POLICY = Policy(
    target_language="fr",
    suspect_languages=("en",),
    wrong_language_probability=0.6,
    answer_similarity=90,
)


@pytest.mark.parametrize(
    ("evidence", "outcome"),
    [
        (Evidence("Je voudrais un café, s'il vous plaît", {"fr": 0.8, "en": 0.1}), Outcome.CORRECT),
        (
            Evidence("Un café s'il vous plaît", {}),
            Outcome.CORRECT,
        ),  # no language evidence: judge words
        (
            Evidence("Je voudrais un café, s'il vous plaît", {"fr": 0.3, "en": 0.65}),
            Outcome.WRONG_LANGUAGE,
        ),
        (
            Evidence("I would like a coffee please", {"en": 0.95, "fr": 0.01}),
            Outcome.WRONG_LANGUAGE,
        ),
        (
            Evidence("I would like a coffee please", {"en": 0.55, "fr": 0.2}),
            Outcome.INCORRECT_ANSWER,
        ),
        (Evidence("Je voudrais une bière", {"fr": 0.9}), Outcome.INCORRECT_ANSWER),
        (Evidence("", {"fr": 0.9}), Outcome.NO_SPEECH),
        (Evidence("   ", {}), Outcome.NO_SPEECH),
        (Evidence("Un café", {"fr": 0.9}, no_speech=True), Outcome.NO_SPEECH),
    ],
)
def test_judge_outcomes(evidence: Evidence, outcome: str) -> None:
    assert judge(evidence, CAFE, POLICY).outcome == outcome


def test_verdict_reports_the_language_evidence_and_the_best_answer() -> None:
    verdict = judge(Evidence("I want coffee", {"en": 0.9, "fr": 0.05}), CAFE, POLICY)
    assert verdict.outcome == Outcome.WRONG_LANGUAGE
    assert (verdict.language, verdict.language_probability) == ("en", 0.9)
    assert verdict.suspect_language == "en"
    assert verdict.best_answer in CAFE

    verdict = judge(Evidence("Un café s'il vous plaît", {"fr": 0.7}), CAFE, POLICY)
    assert (verdict.outcome, verdict.best_answer, verdict.similarity) == (
        Outcome.CORRECT,
        CAFE[1],
        100.0,
    )
    assert verdict.suspect_language is None


def test_similarity_threshold_comes_from_the_policy() -> None:
    near = Evidence("Je voudrais un thé, s'il vous plaît", {"fr": 0.9})
    strict = judge(near, CAFE, POLICY)
    lenient = judge(near, CAFE, Policy("fr", ("en",), 0.6, answer_similarity=85))
    assert (strict.outcome, lenient.outcome) == (Outcome.INCORRECT_ANSWER, Outcome.CORRECT)


def test_accents_can_count() -> None:
    evidence = Evidence("Je voudrais un cafe, s'il vous plait", {"fr": 0.9})
    strict = Policy("fr", ("en",), 0.6, answer_similarity=100, ignore_accents=False)
    assert judge(evidence, CAFE, strict).outcome == Outcome.INCORRECT_ANSWER
    folded = Policy("fr", ("en",), 0.6, answer_similarity=100, ignore_accents=True)
    assert judge(evidence, CAFE, folded).outcome == Outcome.CORRECT
