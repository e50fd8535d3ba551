"""The fair judge's decision is pure: evidence tables in, one of five outcomes out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from interaction.audio_evidence import AnswerScore, AudioEvidence
from interaction.audio_judging import AudioJudgingPolicy, best_score, judge_audio, likeliest_other
from interaction.vocabulary import Outcome

CAFE = ("Je voudrais un café, s'il vous plaît", "Un café, s'il vous plaît")
# Explicit thresholds, so the tables test the rule, not today's tuned defaults.
POLICY = AudioJudgingPolicy(
    target_language="fr",
    other_languages=("en",),
    correct_margin=-0.8,
    correct_margin_similarity=60.0,
    correct_similarity=90.0,
    correct_similarity_margin=-2.5,
    correct_max_other_probability=0.99,
    correct_max_other_fit=99.0,
    wrong_language_probability=0.95,
    wrong_language_margin=-1.5,
    wrong_language_other_fit=0.5,
    wrong_language_min_other_logprob=-1.2,
    wrong_language_certain_probability=0.995,
    incorrect_similarity=90.0,
    incorrect_margin=-2.5,
    incorrect_max_other_probability=0.95,
    incorrect_min_transcript_logprob=-1.3,
    incorrect_doubt_probability=0.5,
    incorrect_doubt_other_fit=-0.5,
    correct_max_unexplained_s=0.8,
    correct_max_behind_transcript_s=99.0,
    loose_margin=-0.8,
    loose_similarity=0.0,
    loose_min_answer_logprob=-2.5,
    loose_max_other_probability=0.5,
)

# Short names for the tables below.
CORRECT, INCORRECT_ANSWER, NO_SPEECH, UNCLEAR, WRONG_LANGUAGE = (
    Outcome.CORRECT,
    Outcome.INCORRECT_ANSWER,
    Outcome.NO_SPEECH,
    Outcome.UNCLEAR,
    Outcome.WRONG_LANGUAGE,
)


def evidence(
    transcript: str,
    *,
    en: float = 0.05,
    transcript_logprob: float | None = -0.5,
    scores: dict[str, float] | None = None,
    filler_scores: dict[str, float] | None = None,
    english_logprob: float | None = None,
    looped: bool = False,
    no_speech: bool = False,
    ends: dict[str, float] | None = None,
    speech_end_s: float | None = None,
    word_ends: dict[str, float] | None = None,
    transcript_word_end_s: float | None = None,
) -> AudioEvidence:
    answers = tuple(
        AnswerScore(
            answer,
            lp,
            tokens=8,
            end_s=(ends or {}).get(answer),
            word_end_s=(word_ends or {}).get(answer),
        )
        for answer, lp in (scores or {}).items()
    )
    answers += tuple(
        AnswerScore(answer, lp, tokens=10, filler="Euh")
        for answer, lp in (filler_scores or {}).items()
    )
    return AudioEvidence(
        transcript=transcript,
        no_speech=no_speech,
        speech_s=2.0,
        language_probabilities={"fr": round(1 - en, 4), "en": en},
        transcript_logprob=transcript_logprob,
        answers=answers,
        looped=looped,
        decode_logprob=transcript_logprob,
        other_logprobs={"en": english_logprob} if english_logprob is not None else {},
        speech_end_s=speech_end_s,
        transcript_word_end_s=transcript_word_end_s,
    )


THE = "Je voudrais un thé, s'il vous plaît."
TOILETS = "Où sont les toilettes ?"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # no speech: VAD found none, or nothing was transcribed
        (evidence("", no_speech=True), NO_SPEECH),
        (evidence("   ", scores={CAFE[0]: -0.4}), NO_SPEECH),
        # tier 1, by likelihood: the answer explains the audio nearly as well as the transcript,
        # even when the recogniser misheard a word ("bougrai")
        (evidence("Je bougrai un café, s'il vous plaît.", scores={CAFE[0]: -1.2}), CORRECT),
        # tier 1, by text: the transcript is an accepted answer (punctuation costs likelihood)
        (evidence("Un café, s'il vous plaît.", scores={CAFE[1]: -2.4}), CORRECT),
        # ... but not when the answer explains the audio badly
        (evidence("Un café, s'il vous plaît.", scores={CAFE[1]: -3.2}), UNCLEAR),
        # accented target speech that language ID calls English: the answer still explains it
        (
            evidence("Je voudrais un café s'il vous plaît", en=0.9, scores={CAFE[0]: -0.6}),
            CORRECT,
        ),
        # tier 2, wrong language: confident English, and no answer explains the audio
        (
            evidence("I would like a coffee.", en=0.99, scores={CAFE[0]: -3.0}),
            WRONG_LANGUAGE,
        ),
        # the decoder translated: the English decode explains the audio better → no points
        (
            evidence(
                "Un café, s'il vous plaît.", en=0.96, scores={CAFE[1]: -0.5}, english_logprob=0
            ),
            WRONG_LANGUAGE,
        ),
        (evidence("Un café, s'il vous plaît.", en=0.96, scores={CAFE[1]: -0.5}), CORRECT),
        # ... and near-certain English never earns points, even when the answer fits
        (evidence("Je voudrais un café.", en=0.992, scores={CAFE[0]: -0.55}), UNCLEAR),
        # tier 2, incorrect answer: target language, heard clearly, no answer explains it
        (evidence(THE, scores={CAFE[0]: -3.1}), INCORRECT_ANSWER),
        (evidence(TOILETS, scores={CAFE[0]: -3.2, CAFE[1]: -3.5}), INCORRECT_ANSWER),
        # tier 3: the evidence disagrees or is weak → unclear, never a penalty
        (evidence(THE, scores={CAFE[0]: -1.5}), UNCLEAR),
        (evidence(TOILETS, en=0.7, scores={CAFE[0]: -0.3}), UNCLEAR),
        # the recogniser itself was unsure of what it heard: no penalty on a guess
        (
            evidence("Vous les toilettes", transcript_logprob=-2.0, scores={CAFE[0]: -5.0}),
            UNCLEAR,
        ),
        # a loop (cut by the evidence pass) never costs a life on its own
        (evidence("Euh euh", looped=True, scores={CAFE[0]: -3.5}), UNCLEAR),
        # without scores there is no likelihood evidence: the text alone decides only "correct"
        (evidence("Un café, s'il vous plaît.", transcript_logprob=None), CORRECT),
        (evidence(TOILETS, transcript_logprob=None), UNCLEAR),
    ],
)
def test_three_tiers(case: AudioEvidence, expected: str) -> None:
    assert judge_audio(case, CAFE, POLICY).outcome == expected


def test_a_leading_filler_is_forgiven_by_its_scored_variant() -> None:
    said = evidence(
        "Euh, je voudrais un café, s'il vous plaît.",
        transcript_logprob=-0.45,
        scores={CAFE[0]: -1.5},
        filler_scores={CAFE[0]: -0.5},
    )
    verdict = judge_audio(said, CAFE, POLICY)
    assert verdict.outcome == CORRECT
    assert verdict.filler == "Euh"
    assert verdict.margin == pytest.approx(-0.05)
    # Without the filler variant the answer explains the audio worse, and the filler keeps
    # the text below the match threshold: the learner would be asked again.
    without = replace(said, answers=tuple(s for s in said.answers if s.filler is None))
    assert judge_audio(without, CAFE, POLICY).outcome == UNCLEAR


def test_scores_of_answers_not_accepted_for_this_turn_are_ignored() -> None:
    said = evidence("Un thé.", scores={"Un thé": -0.3, CAFE[1]: -3.1})
    verdict = judge_audio(said, CAFE, POLICY)
    assert verdict.scored_answer == CAFE[1]
    assert verdict.outcome == INCORRECT_ANSWER


@pytest.mark.parametrize(
    ("english_logprob", "answer_logprob", "expected"),
    [
        # the English decode explains the audio far better than the French one: English
        (-0.2, -1.5, WRONG_LANGUAGE),
        # the English decode is no better and the answer fits somewhat: not sure
        (-1.5, -1.5, UNCLEAR),
        # no answer fits and the English decode is understood: English
        (-1.0, -3.0, WRONG_LANGUAGE),
        # no answer fits, but the English decode is garbage too: not sure which language
        (-2.0, -3.0, UNCLEAR),
    ],
)
def test_the_other_language_decode_backs_the_language_id(
    english_logprob: float, answer_logprob: float, expected: str
) -> None:
    said = evidence(
        "Je voudrais que la fille",
        en=0.96,
        transcript_logprob=-1.0,
        scores={CAFE[0]: answer_logprob},
        english_logprob=english_logprob,
    )
    assert judge_audio(said, CAFE, POLICY).outcome == expected


def test_a_worse_other_language_decode_can_veto_the_language_id() -> None:
    # German "Hier, bitte" mumbled: "Geer", language ID 0.99 English, English decode "Dear"
    # explains it worse than the German one. A policy may then refuse the penalty.
    said = evidence(
        "Geer", en=0.99, transcript_logprob=-0.4, scores={CAFE[1]: -4.0}, english_logprob=-1.1
    )
    assert judge_audio(said, CAFE, POLICY).outcome == WRONG_LANGUAGE
    strict = replace(POLICY, wrong_language_min_fit=-0.5)
    assert judge_audio(said, CAFE, strict).outcome == UNCLEAR


@pytest.mark.parametrize(
    ("en", "english_logprob", "expected"),
    [
        # near-certain English, and the English decode is at least as good: English, even
        # though the answer explains the audio somewhat (margin -1.1)
        (0.999, -0.3, WRONG_LANGUAGE),
        # just below "near-certain": the margin is not bad enough for a penalty
        (0.99, -0.3, UNCLEAR),
        # near-certain, but the English decode explains it worse: not sure
        (0.999, -0.9, UNCLEAR),
    ],
)
def test_near_certain_language_id_needs_a_decode_as_good(
    en: float, english_logprob: float, expected: str
) -> None:
    said = evidence(
        "Thank you.",
        en=en,
        transcript_logprob=-0.6,
        scores={CAFE[1]: -1.7},
        english_logprob=english_logprob,
    )
    assert judge_audio(said, CAFE, POLICY).outcome == expected


def test_language_id_is_restricted_to_the_learners_other_languages() -> None:
    said = AudioEvidence(
        transcript="Ich möchte einen Kaffee.",
        language_probabilities={"fr": 0.03, "de": 0.97},
        transcript_logprob=-0.4,
        answers=(AnswerScore(CAFE[0], -3.0),),
    )
    # German is not one of this learner's other languages: judged on its words.
    assert judge_audio(said, CAFE, POLICY).outcome == INCORRECT_ANSWER
    german_speaker = replace(POLICY, other_languages=("de", "en"))
    verdict = judge_audio(said, CAFE, german_speaker)
    assert verdict.outcome == WRONG_LANGUAGE
    assert verdict.other_language == "de"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, CORRECT),
        # a hard scenario asks the answer to explain the audio better
        (
            {"correct_margin": -0.2, "correct_similarity": 95.0, "loose_margin": -0.2},
            UNCLEAR,
        ),
        # and may penalise sooner
        (
            {
                "correct_margin": -0.2,
                "correct_similarity": 95.0,
                "loose_margin": -0.2,
                "incorrect_margin": -0.25,
                "incorrect_similarity": 95.0,
            },
            INCORRECT_ANSWER,
        ),
    ],
)
def test_thresholds_come_from_the_policy(overrides: dict[str, Any], expected: str) -> None:
    said = evidence("Je voudrais un café, s'il vous.", scores={CAFE[0]: -0.8})
    assert judge_audio(said, CAFE, replace(POLICY, **overrides)).outcome == expected


def test_from_payload_reads_the_evidence_pass() -> None:
    payload = {
        "version": 1,
        "no_speech": False,
        "speech_s": 1.9,
        "transcript": "Un café, s'il vous plaît.",
        "transcript_score": {"tokens": 9, "mean_logprob": -0.31},
        "decode_logprob": -0.4,
        "language_probabilities": {"fr": 0.93, "en": 0.07},
        "looped": False,
        "answers": [
            {"answer": CAFE[1], "filler": None, "tokens": 8, "mean_logprob": -0.35},
            {"answer": CAFE[1], "filler": "Euh", "tokens": 11, "mean_logprob": -0.9},
            {"answer": "broken", "filler": None, "tokens": 0, "mean_logprob": None},
        ],
        "other_transcripts": {"en": {"text": "A coffee", "decode_logprob": -1.2}},
    }
    parsed = AudioEvidence.from_payload(payload)
    assert parsed.transcript_logprob == -0.31
    assert [(s.answer, s.filler) for s in parsed.answers] == [(CAFE[1], None), (CAFE[1], "Euh")]
    assert parsed.other_logprobs == {"en": -1.2}
    verdict = judge_audio(parsed, CAFE, POLICY)
    assert verdict.outcome == CORRECT
    assert verdict.other_fit == pytest.approx(-0.8)
    assert AudioEvidence.from_payload({}).no_speech is False
    assert judge_audio(AudioEvidence.from_payload({}), CAFE, POLICY).outcome == NO_SPEECH


def test_helpers() -> None:
    assert best_score([]) is None
    assert best_score([AnswerScore("a", -1.0), AnswerScore("b", -0.5)]) == AnswerScore("b", -0.5)
    probabilities = {"fr": 0.2, "en": 0.5, "de": 0.3}
    assert likeliest_other(probabilities, target="fr", others=("en", "de")) == ("en", 0.5)
    assert likeliest_other({"fr": 1.0}, target="fr", others=("fr",)) == (None, 0.0)


def test_outcomes_are_the_shared_vocabulary() -> None:
    verdict = judge_audio(AudioEvidence(transcript=""), CAFE, POLICY)
    assert isinstance(verdict.outcome, Outcome)
    assert verdict.outcome is Outcome.NO_SPEECH


VOILA = ("Voilà", "Voilà, merci beaucoup")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # the answer explains the whole utterance: its last word ends near the speech's end
        (
            evidence("Voilà !", scores={"Voilà": -0.5}, ends={"Voilà": 1.2}, speech_end_s=1.7),
            CORRECT,
        ),
        # "Voilà, bonne soirée": the short answer fits the start and leaves 1.3 s unexplained
        (
            evidence(
                "Voilà, bonne soirée !",
                scores={"Voilà": -0.5},
                ends={"Voilà": 0.4},
                speech_end_s=1.7,
            ),
            UNCLEAR,
        ),
        # the same check guards the text tier ("No, gracias" heard as "Gracias")
        (
            evidence("Voilà", scores={"Voilà": -0.5}, ends={"Voilà": 0.5}, speech_end_s=1.4),
            UNCLEAR,
        ),
        # no DTW times (an older payload): no veto
        (evidence("Voilà", scores={"Voilà": -0.5}), CORRECT),
    ],
)
def test_an_answer_must_explain_the_whole_utterance(case: AudioEvidence, expected: str) -> None:
    assert judge_audio(case, VOILA, POLICY).outcome == expected


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # unclear audio: the recogniser made other words of it ("Je m'ouvre dans la café"), the
        # answer explains the audio as well as they do, and covers it → points at any similarity
        (
            evidence("Je m'ouvre dans la café", transcript_logprob=-1.4, scores={CAFE[0]: -1.6}),
            CORRECT,
        ),
        # ... but not when the answer itself is improbable
        (evidence("Fyra tame", transcript_logprob=-3.3, scores={CAFE[0]: -3.3}), UNCLEAR),
        # ... nor when it leaves speech unexplained
        (
            evidence(
                "Je m'ouvre dans la café",
                transcript_logprob=-1.4,
                scores={CAFE[0]: -1.6},
                ends={CAFE[0]: 0.5},
                speech_end_s=2.0,
            ),
            UNCLEAR,
        ),
        # ... nor when language ID leans to the other language
        (
            evidence(
                "Je m'ouvre dans la café", en=0.6, transcript_logprob=-1.4, scores={CAFE[0]: -1.6}
            ),
            UNCLEAR,
        ),
    ],
)
def test_the_loose_tier_is_for_unclear_audio_only(case: AudioEvidence, expected: str) -> None:
    assert judge_audio(case, CAFE, POLICY).outcome == expected


def test_wrong_language_needs_a_confident_other_language_decode() -> None:
    # German "Hier, bitte" from a diphone voice: English ID 0.99, the English decode "Dear"
    # is itself unsure (−2.35 nats per token) → not a penalty on that alone
    said = evidence(
        "Geer", en=0.99, transcript_logprob=-1.7, scores={CAFE[0]: -4.8}, english_logprob=-2.35
    )
    assert judge_audio(said, CAFE, POLICY).outcome == UNCLEAR
    fluent = replace(said, other_logprobs={"en": -0.3})
    assert judge_audio(fluent, CAFE, POLICY).outcome == WRONG_LANGUAGE


def test_incorrect_answer_is_withheld_when_the_other_language_fits_as_well() -> None:
    # "Euh… à emporter" heard as "Ah, bon, t'es": far from every answer, but language ID gives
    # the other language 0.62 and its decode fits about as well → no penalty on that transcript
    policy = replace(POLICY, incorrect_doubt_probability=0.5, incorrect_doubt_other_fit=-0.5)
    said = evidence(
        "Ah, bon, t'es.",
        en=0.62,
        transcript_logprob=-1.15,
        scores={CAFE[0]: -4.3},
        english_logprob=-1.4,
    )
    assert judge_audio(said, CAFE, policy).outcome == UNCLEAR
    # accented target speech (espeak-ng Spanish: English 0.88) whose English decode is much
    # worse: the target transcript is trusted
    accented = replace(said, other_logprobs={"en": -3.0})
    assert judge_audio(accented, CAFE, policy).outcome == INCORRECT_ANSWER


def test_verdict_reports_the_unexplained_speech() -> None:
    case = evidence("Voilà !", scores={"Voilà": -0.5}, ends={"Voilà": 1.2}, speech_end_s=1.7)
    assert judge_audio(case, VOILA, POLICY).unexplained_s == pytest.approx(0.5)
    assert (
        judge_audio(evidence("Voilà", scores={"Voilà": -0.5}), VOILA, POLICY).unexplained_s is None
    )


@pytest.mark.parametrize(
    ("word_end", "transcript_word_end", "expected"),
    [
        (1.1, 1.2, CORRECT),  # the answer ends where the transcript's last word ends
        (0.4, 1.3, UNCLEAR),  # "Voilà" against "Voilà, bonne soirée !": 0.9 s of words left
        (None, 1.3, CORRECT),  # no times (older payload): no veto
    ],
)
def test_an_answer_must_reach_the_transcripts_last_word(
    word_end: float | None, transcript_word_end: float, expected: str
) -> None:
    policy = replace(POLICY, correct_max_behind_transcript_s=0.35)
    case = evidence(
        "Voilà, bonne soirée !",
        scores={"Voilà": -0.5},
        word_ends={"Voilà": word_end} if word_end is not None else {},
        transcript_word_end_s=transcript_word_end,
    )
    verdict = judge_audio(case, VOILA, policy)
    assert verdict.outcome == expected
    if word_end is not None:
        assert verdict.behind_transcript_s == pytest.approx(
            max(0.0, transcript_word_end - word_end)
        )


def test_no_points_when_the_other_language_decode_explains_the_audio_much_better() -> None:
    # "No, gracias" heard as "Gracias" (an accepted answer), while the English decode ("No,
    # thank you") fits 0.74 nats per token better: the target transcript dropped or
    # translated words, at any language ID → no points
    policy = replace(POLICY, correct_max_other_fit=0.7)
    said = evidence("Gracias", en=0.01, scores={"Gracias": -0.5}, english_logprob=0.24)
    assert judge_audio(said, ("Gracias",), policy).outcome == UNCLEAR
    assert judge_audio(said, ("Gracias",), POLICY).outcome == CORRECT  # the check off
    close = replace(said, other_logprobs={"en": 0.1})  # fit 0.6
    assert judge_audio(close, ("Gracias",), policy).outcome == CORRECT
