"""The fair judge's decision is pure: evidence tables in, one of five outcomes out.

The tables judge with a small model written here (`RULE`), so they test the decision, not
today's fitted coefficients; the shipped model is checked apart, on evidence no fit should
get wrong, and for its shape.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from interaction.audio_evidence import AnswerScore, AudioEvidence
from interaction.audio_judging import AudioJudgingPolicy, judge_audio, likeliest_other
from interaction.judge_model import MODEL_FILE, JudgeModel, judge_model, tier
from interaction.vocabulary import Outcome

CAFE = ("Je voudrais un café, s'il vous plaît", "Un café, s'il vous plaît")
POLICY = AudioJudgingPolicy(target_language="fr", other_languages=("en",))
CORRECT, INCORRECT_ANSWER, NO_SPEECH, UNCLEAR, WRONG_LANGUAGE = (
    Outcome.CORRECT,
    Outcome.INCORRECT_ANSWER,
    Outcome.NO_SPEECH,
    Outcome.UNCLEAR,
    Outcome.WRONG_LANGUAGE,
)
# A readable model: points follow the margin and the worst differing word, a penalty their
# opposite, the wrong language the log-odds of the learner's other language.
RULE = JudgeModel.from_mapping(
    {
        "classes": ["correct", "incorrect_answer", "wrong_language"],
        "features": ["margin", "miscue_min", "other_log_odds"],
        "mean": [0.0, 0.0, 0.0],
        "scale": [1.0, 1.0, 1.0],
        "weights": [[3.0, 0.5, -1.0], [-3.0, -0.5, 0.0], [-1.0, 0.0, 3.0]],
        "intercepts": [2.0, 0.0, -2.0],
        "floors": {"correct": 0.9, "incorrect_answer": 0.8, "wrong_language": 0.8},
    }
)


def words(text: str, logprob: float = -0.1) -> tuple[tuple[str, float], ...]:
    return tuple((word, logprob) for word in text.split())


def evidence(
    heard: str,
    *,
    en: float = 0.02,
    scores: dict[str, tuple[float, dict[str, float]]] | None = None,
    **overrides: Any,
) -> AudioEvidence:
    """Heard `heard` clearly (-0.1 a word); scores: answer → (mean log-prob, {word: logprob}
    for the words the audio refuses)."""
    answers = tuple(
        AnswerScore(
            answer,
            mean,
            word_logprobs=tuple((w, refused.get(w, -0.1)) for w in answer.split()),
        )
        for answer, (mean, refused) in (scores or {}).items()
    )
    values: dict[str, Any] = {
        "transcript": heard,
        "speech_s": 1.8,
        "language_probabilities": {"fr": 1 - en, "en": en},
        "transcript_logprob": -0.2,
        "transcript_word_logprobs": words(heard),
        "decode_logprob": -0.3,
        "other_logprobs": {"en": -1.5},
        "answers": answers,
        **overrides,
    }
    return AudioEvidence(**values)


def judged(said: AudioEvidence, policy: AudioJudgingPolicy = POLICY) -> Outcome:
    return judge_audio(said, CAFE, policy, model=RULE).outcome


SAID_RIGHT = evidence(CAFE[1], scores={CAFE[1]: (-0.2, {})})
SAID_TEA = evidence("Un thé, s'il vous plaît", scores={CAFE[1]: (-2.2, {"café,": -9.0})})
SAID_IN_ENGLISH = evidence("A coffee, please", en=0.97, scores={CAFE[1]: (-2.0, {"café,": -3.0})})
MUMBLED = evidence("Un ca... plaît", scores={CAFE[1]: (-0.6, {"café,": -1.5})})


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        pytest.param(SAID_RIGHT, CORRECT, id="the answer, clearly"),
        pytest.param(SAID_TEA, INCORRECT_ANSWER, id="one word clearly wrong"),
        pytest.param(SAID_IN_ENGLISH, WRONG_LANGUAGE, id="the learner's other language"),
        pytest.param(MUMBLED, UNCLEAR, id="no outcome reaches its floor"),
        pytest.param(evidence("", scores={CAFE[1]: (-0.2, {})}), NO_SPEECH, id="nothing heard"),
        pytest.param(replace(SAID_RIGHT, no_speech=True), NO_SPEECH, id="the VAD kept nothing"),
    ],
)
def test_three_tiers(said: AudioEvidence, expected: Outcome) -> None:
    assert judged(said) == expected


@pytest.mark.parametrize(
    ("floors", "said", "expected"),
    [
        ({"correct_floor": 1.0}, SAID_RIGHT, UNCLEAR),
        ({"incorrect_floor": 1.0}, SAID_TEA, UNCLEAR),
        ({"wrong_language_floor": 1.0}, SAID_IN_ENGLISH, UNCLEAR),
        ({"correct_floor": 0.3}, MUMBLED, CORRECT),
    ],
)
def test_the_rules_floors_replace_the_fitted_ones(
    floors: dict[str, Any], said: AudioEvidence, expected: Outcome
) -> None:
    assert judged(said, replace(POLICY, **floors)) == expected


def test_only_the_learners_languages_are_suspected() -> None:
    """English language ID counts only for a learner who speaks English."""
    spanish_speaker = replace(POLICY, other_languages=("es",))
    assert judged(SAID_IN_ENGLISH) == WRONG_LANGUAGE
    assert judged(SAID_IN_ENGLISH, spanish_speaker) != WRONG_LANGUAGE
    heard_spanish = replace(
        SAID_IN_ENGLISH, language_probabilities={"fr": 0.03, "en": 0.02, "es": 0.95}
    )
    assert judged(heard_spanish, spanish_speaker) == WRONG_LANGUAGE


def test_scores_of_answers_not_accepted_for_this_turn_are_ignored() -> None:
    other_turn = evidence(CAFE[1], scores={"Sur place": (-0.1, {})})
    verdict = judge_audio(other_turn, CAFE, POLICY, model=RULE)
    assert verdict.scored_answer is None
    assert verdict.outcome == CORRECT  # text only: the transcript is an accepted answer
    assert "text only" in verdict.reason


@pytest.mark.parametrize(
    ("heard", "en", "expected"),
    [
        (CAFE[1], 0.02, CORRECT),
        ("A coffee, please", 0.95, WRONG_LANGUAGE),
        ("Un thé, s'il vous plaît", 0.02, UNCLEAR),  # never a penalty without the scores
    ],
)
def test_evidence_without_scores_is_judged_by_its_text(
    heard: str, en: float, expected: Outcome
) -> None:
    said = evidence(heard, en=en, transcript_logprob=None)
    assert judged(said) == expected


def test_the_verdict_says_what_the_model_read_and_gave() -> None:
    verdict = judge_audio(SAID_TEA, CAFE, POLICY, model=RULE)
    assert verdict.outcome == INCORRECT_ANSWER
    assert set(verdict.probabilities) == {"correct", "incorrect_answer", "wrong_language"}
    assert sum(verdict.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert verdict.features["miscue_min"] == -9.0
    assert verdict.margin == pytest.approx(-2.0)
    assert verdict.scored_answer == CAFE[1]
    assert "floor" in verdict.reason
    json.dumps(verdict.__dict__)  # stored with the attempt


@pytest.mark.parametrize(
    ("probabilities", "expected"),
    [
        ({"correct": 0.95, "incorrect_answer": 0.04, "wrong_language": 0.01}, "correct"),
        ({"correct": 0.85, "incorrect_answer": 0.1, "wrong_language": 0.05}, "unclear"),
        ({"correct": 0.1, "incorrect_answer": 0.85, "wrong_language": 0.05}, "incorrect_answer"),
        ({"correct": 0.1, "incorrect_answer": 0.05, "wrong_language": 0.85}, "wrong_language"),
        ({"correct": 0.2, "incorrect_answer": 0.45, "wrong_language": 0.35}, "unclear"),
    ],
)
def test_tiers(probabilities: dict[str, float], expected: str) -> None:
    assert tier(probabilities, RULE.floors) == expected


def test_a_model_file_with_mismatched_shapes_is_refused() -> None:
    data = json.loads(MODEL_FILE.read_text())
    with pytest.raises(ValueError, match="shapes"):
        JudgeModel.from_mapping({**data, "mean": data["mean"][:-1]})
    with pytest.raises(ValueError, match="classes"):
        JudgeModel.from_mapping({**data, "classes": ["a", "b", "c"]})


def test_the_shipped_model_reads_the_features_the_judge_computes() -> None:
    from interaction.judge_features import feature_names

    model = judge_model()
    assert set(model.features) == set(feature_names())
    assert 0.5 <= model.floors["correct"] < 1.0
    assert all(0.3 <= model.floors[name] < 1.0 for name in model.floors)


def fitted(said: AudioEvidence) -> Outcome:
    return judge_audio(said, CAFE, POLICY).outcome


def test_the_shipped_model_on_evidence_no_fit_should_get_wrong() -> None:
    assert fitted(SAID_RIGHT) == CORRECT
    # a crisp "thé" where the answer's "café" is refused outright (≈ e^-14)
    said_tea = evidence("Un thé, s'il vous plaît", scores={CAFE[1]: (-3.0, {"café,": -14.0})})
    assert fitted(said_tea) == INCORRECT_ANSWER
    very_english = replace(
        SAID_IN_ENGLISH,
        language_probabilities={"fr": 0.001, "en": 0.999},
        other_logprobs={"en": -0.15},
    )
    assert fitted(very_english) == WRONG_LANGUAGE


def test_from_payload_reads_the_evidence_pass() -> None:
    payload = {
        "version": 2,
        "no_speech": False,
        "speech_s": 1.9,
        "transcript": "Un café, s'il vous plaît.",
        "transcript_score": {
            "tokens": 9,
            "mean_logprob": -0.31,
            "word_logprobs": [["Un", -0.1], ["café,", -0.3], ["bad"], "x"],
        },
        "no_speech_prob": 0.01,
        "decode_logprob": -0.4,
        "language_probabilities": {"fr": 0.93, "en": 0.07},
        "answers": [
            {"answer": CAFE[1], "filler": None, "mean_logprob": -0.35, "word_logprobs": []},
            {"answer": CAFE[1], "filler": "Euh", "tokens": 11, "mean_logprob": -0.9},
            {"answer": "broken", "filler": None, "tokens": 0, "mean_logprob": None},
        ],
        "other_transcripts": {"en": {"text": "A coffee", "decode_logprob": -1.2}},
    }
    parsed = AudioEvidence.from_payload(payload)
    assert parsed.transcript_logprob == -0.31
    assert parsed.transcript_word_logprobs == (("Un", -0.1), ("café,", -0.3))
    assert parsed.no_speech_prob == 0.01
    assert [(s.answer, s.filler) for s in parsed.answers] == [(CAFE[1], None), (CAFE[1], "Euh")]
    assert parsed.other_logprobs == {"en": -1.2}
    assert AudioEvidence.from_payload({}).no_speech is False
    assert judge_audio(AudioEvidence.from_payload({}), CAFE, POLICY).outcome == NO_SPEECH


def test_likeliest_other() -> None:
    probabilities = {"fr": 0.2, "en": 0.5, "de": 0.3}
    assert likeliest_other(probabilities, target="fr", others=("en", "de")) == ("en", 0.5)
    assert likeliest_other({"fr": 1.0}, target="fr", others=("fr",)) == (None, 0.0)
