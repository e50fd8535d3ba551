"""The fitted judge's features: the miscue detector and the evidence as bounded numbers."""

from __future__ import annotations

import math

import pytest

from interaction.audio_evidence import AnswerScore, AudioEvidence
from interaction.judge_features import (
    answer_features,
    feature_names,
    language_features,
    miscues,
    word_key,
)

HEARD_TEE = (("Ich", -0.1), ("möchte", -0.2), ("einen", -0.1), ("Tee,", -0.05), ("bitte.", -0.1))
ANSWER_KAFFEE = (
    ("Ich", -0.1),
    ("möchte", -0.2),
    ("einen", -0.1),
    ("Kaffee,", -9.0),
    ("bitte.", -0.2),
)


@pytest.mark.parametrize(
    ("word", "key"),
    [("Café,", "cafe"), ("s'il", "sil"), ("PLAÎT?", "plait"), ("München", "munchen")],
)
def test_word_keys_fold_case_accents_and_punctuation(word: str, key: str) -> None:
    assert word_key(word) == key


@pytest.mark.parametrize(
    ("answer", "heard", "differing", "answer_min", "gap"),
    [
        # a clearly heard wrong word: the answer's word is refused, the heard one is not
        (ANSWER_KAFFEE, HEARD_TEE, 1, -9.0, -8.95),
        # the same words: nothing differs
        (HEARD_TEE, HEARD_TEE, 0, 0.0, 0.0),
        # misheard: the recogniser's word is as unsure as the answer's
        (
            (("sport", -0.3), ("de", -0.1), ("plein", -1.2), ("air", -0.8)),
            (("Sport", -0.3), ("de", -0.1), ("planaire", -1.5)),
            2,
            -1.2,
            -0.25,
        ),
        # the learner left a word out: the answer's extra word has nothing to be compared with
        (
            (("un", -0.2), ("grand", -6.0), ("café", -0.1)),
            (("un", -0.2), ("café", -0.1)),
            1,
            -6.0,
            -6.0,
        ),
    ],
)
def test_miscues_compare_the_differing_words(
    answer: tuple[tuple[str, float], ...],
    heard: tuple[tuple[str, float], ...],
    differing: int,
    answer_min: float,
    gap: float,
) -> None:
    found = miscues(answer, heard)
    assert found.differing == differing
    assert found.answer_min == pytest.approx(answer_min)
    assert found.gap == pytest.approx(gap)
    assert found.answer_words == len(answer)


def evidence(**overrides: object) -> AudioEvidence:
    values: dict[str, object] = {
        "transcript": "Ich möchte einen Tee, bitte.",
        "speech_s": 1.8,
        "language_probabilities": {"de": 0.8, "en": 0.15, "es": 0.05},
        "transcript_logprob": -0.11,
        "transcript_word_logprobs": HEARD_TEE,
        "decode_logprob": -0.2,
        "other_logprobs": {"en": -0.9, "es": -1.6},
        "answers": (
            AnswerScore("Ich möchte einen Kaffee, bitte", -1.9, word_logprobs=ANSWER_KAFFEE),
            AnswerScore(
                "Ich möchte einen Kaffee, bitte",
                -3.0,
                filler="Äh",
                word_logprobs=(("Äh,", -8.0), *ANSWER_KAFFEE),
            ),
        ),
    }
    values.update(overrides)
    return AudioEvidence(**values)  # type: ignore[arg-type]


def test_features_of_a_clearly_heard_wrong_answer() -> None:
    features = answer_features(
        evidence(), ("Ich möchte einen Kaffee, bitte",), target="de", others=("en",)
    )
    assert set(features) == set(feature_names())
    assert features["margin"] == pytest.approx(-1.9 + 0.11)
    assert features["miscue_min"] == -9.0
    assert features["miscue_share"] == pytest.approx(0.2)
    assert features["filler"] == 0.0  # the best variant is the answer alone
    assert 0 < features["similarity"] < 1
    assert features["other_log_odds"] == pytest.approx(math.log(0.1501 / 0.8001), abs=1e-4)


def test_an_answer_that_was_not_scored_gets_the_worst_values() -> None:
    features = answer_features(evidence(), ("Zwei Stück Kuchen",), target="de", others=("en",))
    assert features["answer_logprob"] == -10.0
    assert features["miscue_share"] == 1.0


def test_every_feature_is_bounded() -> None:
    wild = evidence(
        transcript_logprob=-80.0,
        decode_logprob=-50.0,
        other_logprobs={"en": 30.0},
        language_probabilities={"de": 0.0, "en": 1.0},
        speech_s=0.0,
    )
    features = answer_features(
        wild, ("Ich möchte einen Kaffee, bitte",), target="de", others=("en",)
    )
    assert all(math.isfinite(v) and -25 <= v <= 25 for v in features.values())


def test_language_features_read_only_the_learners_languages() -> None:
    spoken = evidence(language_probabilities={"de": 0.2, "en": 0.1, "es": 0.7})
    as_english_speaker = language_features(spoken, target="de", others=("en",))
    as_spanish_speaker = language_features(spoken, target="de", others=("es",))
    both = language_features(spoken, target="de", others=("en", "es"))
    assert both["other_probability"] == 0.7
    assert both["other_fit"] == pytest.approx(-0.9 + 0.2)  # the better of the two decodes
    assert as_english_speaker["other_probability"] == 0.1
    assert as_spanish_speaker["other_probability"] == 0.7
    assert as_spanish_speaker["other_fit"] == pytest.approx(-1.6 + 0.2)
    assert as_english_speaker["other_fit"] == pytest.approx(-0.9 + 0.2)
    none = language_features(spoken, target="de", others=())
    assert none["has_suspects"] == 0.0
    assert none["other_probability"] == 0.0
