"""Whether the words so far end an answer, as a table: (language, heard, answers) → pause."""

from __future__ import annotations

import pytest

from interaction.ws.pauses import FILLERS, OPEN_ENDINGS, Pause, pause_kind

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
