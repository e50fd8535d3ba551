"""What the words heard mean, as tables: (language, heard, answers) → pause, and at a pause
the evidence: the judge's verdict, an answer's start the recogniser spelled its own way."""

from __future__ import annotations

from dataclasses import replace

import pytest

from interaction.audio_judging import AudioJudgingPolicy
from interaction.ws.pauses import FILLERS, OPEN_ENDINGS, Answers, Pause, pause_kind, read
from tests.asr.whisperlive_peer import evidence_payload
from tests.interaction.test_consumer import ANSWERS, BIERE, WRONG, evaluated
from tests.interaction.test_consumer import CAFE as CONSUMER_CAFE

CAFE = ("Je voudrais un café, s'il vous plaît", "Un café, s'il vous plaît")
WEEK = ("Je travaille toute la semaine et le samedi matin",)
U, C = Pause.UNFINISHED, Pause.COMPLETE


@pytest.mark.parametrize(
    ("language", "heard", "answers", "expected"),
    [
        # nothing heard: the ordinary silence decides
        ("fr", "", CAFE, C),
        # an accepted answer, as a whole (slips forgiven): complete
        ("fr", "Je voudrais un café, s'il vous plaît.", CAFE, C),
        ("fr", "je voudrais un cafe sil vous plait", CAFE, C),
        ("fr", "Un café, s'il vous plaît", CAFE, C),
        # a strict prefix of an accepted answer, slips and a word more or less forgiven
        ("fr", "Je travaille toute la semaine", WEEK, U),
        ("fr", "Je travaille toute la semaine et", WEEK, U),
        ("fr", "Je travail toute la semain", WEEK, U),
        ("fr", "Je voudrais un café,", CAFE, U),
        ("fr", "Je voudrais", CAFE, U),
        # the first words exactly, one short word to come: as close as a whole answer
        # would be, and unfinished (a real voice paused there)
        ("fr", "Votre mot de passe a été", ("Votre mot de passe a été changé.",), U),
        ("fr", "Un café", ("Un café, s'il vous plaît", "Un café"), C),  # both accepted
        # another sentence, ending on a word that can end one: complete (judged at once)
        ("fr", "Je voudrais une bière", CAFE, C),
        ("fr", "Il pleut toute la journée", WEEK, C),
        # a filler, or a word no sentence ends on, whatever the answers
        ("fr", "Je voudrais euh", CAFE, U),
        ("fr", "Je voudrais une bière et", CAFE, U),
        ("fr", "J'aimerais de la", CAFE, U),
        ("en", "I would like a", ("A tea, please",), U),
        ("en", "I would like um", ("A tea, please",), U),
        ("en", "I would like a coffee", ("A tea, please",), C),
        ("es", "Quiero un café con", ("Un té, por favor",), U),
        ("es", "Quiero un café", ("Un té, por favor",), C),
        ("de", "Ich möchte einen Kaffee und", ("Einen Tee, bitte",), U),
        ("de", "Ich möchte äh", ("Einen Tee, bitte",), U),
        ("de", "Ich möchte einen Kaffee", ("Einen Tee, bitte",), C),
        ("it", "Vorrei", ("Vorrei un gelato",), U),
        ("it", "Vorrei ehm", ("Un caffè, per favore",), U),
        ("it", "Vorrei un caffè con la", ("Un tè, per favore",), U),
        ("it", "Vorrei un caffè", ("Un tè, per favore",), C),
        # far shorter than every accepted answer: the start of something (a garbled first
        # word), not an answer
        ("fr", "Vunet", ("Vous n'êtes plus en ligne.",), U),
        ("fr", "Oui", CAFE, U),
        ("fr", "Non", ("Oui",), C),  # as long as the answer: judged at once
        ("fr", "Je mange une pomme", WEEK, C),  # three words or more: judged at once
        # a number said as digits is the same word spelled out
        ("fr", "Appuyez sur 4", ("Appuyez sur 4 ou 6",), U),
        # …and a number, never an article ("un"): "appuyez sur 1" can end a sentence
        ("fr", "Pour enregistrer, appuyez sur 1.", ("Cette conférence est pleine.",), C),
        ("fr", "Pour enregistrer, appuyez sur un", ("Cette conférence est pleine.",), U),
        # a language without word lists: the accepted answers alone decide
        ("nl", "Ik wil graag een", ("Ik wil graag een koffie",), U),
        ("nl", "Ik wil graag de", ("Een thee",), C),
    ],
)
def test_pause_kind(language: str, heard: str, answers: tuple[str, ...], expected: Pause) -> None:
    assert pause_kind(heard, answers, language=language) == expected


@pytest.mark.parametrize("language", ["fr", "en", "es", "de", "it"])
def test_every_language_has_both_word_lists(language: str) -> None:
    assert FILLERS[language]
    assert OPEN_ENDINGS[language]


# --- read: the words and, at a pause, the evidence --------------------------------------
MESSAGERIE = "Messagerie Asterisk. Veuillez composer votre numéro de boite vocale."
SUIVI = "Veuillez composer votre numéro de conférence suivi du dièse."
POLICY = AudioJudgingPolicy(target_language="fr", other_languages=("en",))


def scored(transcript: str, answer: str, word_logprobs: str) -> dict:
    """An evidence payload whose one answer has these teacher-forced word scores
    ("word=logprob …", the tokenizer's words)."""
    payload = evidence_payload(transcript, answers={answer: -3.0})
    pairs = (item.rsplit("=", 1) for item in word_logprobs.split())
    payload["answers"][0]["word_logprobs"] = [[word, float(p)] for word, p in pairs]
    return payload


def test_a_partial_close_to_an_answer_names_it_and_a_far_one_does_not() -> None:
    answers = Answers(CAFE, "fr", intent_similarity=85.0)
    named = read("je voudrais un cafe s'il vous plait", answers)
    assert (named.intent, named.similarity) == (CAFE[0], 100.0)
    assert named.outcome is None  # no evidence: no verdict
    far = read("Je voudrais", answers)
    assert far.intent is None
    assert far.similarity < 85.0


def test_the_evidence_of_a_pause_carries_the_audio_judges_verdict() -> None:
    answers = Answers(ANSWERS[:2], "fr", policy=POLICY)
    correct = evaluated(CONSUMER_CAFE).evidence
    wrong = evaluated(BIERE, **WRONG).evidence
    assert read(CONSUMER_CAFE, answers, evidence=correct).outcome == "correct"
    assert read(BIERE, answers, evidence=wrong).outcome not in (None, "correct")
    assert read(CONSUMER_CAFE, replace(answers, policy=None), evidence=correct).outcome is None


@pytest.mark.parametrize(
    ("heard", "answer", "word_logprobs", "unfinished"),
    [
        # heard "Messagerie à ces risques." at a real pause: no prefix of the answer in
        # words, but it sounds like its first two, which the audio holds (-1.6, -5.4), and
        # the next is not in it (-12.9): the learner stopped inside the answer
        (
            "Messagerie à ces risques.",
            MESSAGERIE,
            "Messagerie=-1.6 Asterisk=-5.4 Veuillez=-12.9 composer=-11.8 votre=-6.0"
            " numéro=-7.2 de=-1.9 boite=-10.4 vocale=-14.0",
            True,
        ),
        # the same words, the answer's next word in the audio: not where it stops
        (
            "Messagerie à ces risques.",
            MESSAGERIE,
            "Messagerie=-1.6 Asterisk=-5.4 Veuillez=-0.6 composer=-0.2 votre=0.0"
            " numéro=-0.1 de=0.0 boite=-1.6 vocale=-1.8",
            False,
        ),
        # a whole answer whose last word the recogniser misheard ("10" for "dièse"): the
        # word is in the audio (-2.4), so it is complete and may be committed at once
        (
            "Veuillez composer votre numéro de conférence suivi du 10.",
            SUIVI,
            "Veuillez=-0.5 composer=-0.1 votre=0.0 numéro=0.0 de=0.0 conférence=-0.1"
            " suivi=-0.3 du=0.0 dièse=-2.4",
            False,
        ),
        # another word said in the answer's place ("thé", "une bière": "café" at -13, -14):
        # a wrong answer, judged at once — the letters beyond "Je voudrais un" are more
        # than a slip's
        (
            "Je voudrais un thé.",
            CAFE[0],
            "Je=-0.3 voudrais=-0.1 un=-0.2 café=-13.0 s=-9.0 'il=-4.0 vous=-3.0 plaît=-8.0",
            False,
        ),
        (
            "Je voudrais une bière.",
            CAFE[0],
            "Je=-0.3 voudrais=-0.1 un=-1.2 café=-14.0 s=-9.0 'il=-4.0 vous=-3.0 plaît=-8.0",
            False,
        ),
        # word scores that do not spell the answer: the words alone decide
        ("Messagerie à ces risques.", MESSAGERIE, "Message=-1.0", False),
    ],
)
def test_the_evidence_finds_the_start_of_an_answer_the_words_alone_do_not(
    heard: str, answer: str, word_logprobs: str, unfinished: bool
) -> None:
    answers = Answers((answer,), "fr")
    assert pause_kind(heard, (answer,), language="fr") == C  # the words alone: complete
    evidence = scored(heard, answer, word_logprobs)
    assert read(heard, answers, evidence=evidence).unfinished is unfinished
