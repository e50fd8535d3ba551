"""Whether the words heard so far end an answer: the pause that follows them waits accordingly.

Pure: text, the turn's accepted answers and its language in; `Pause.UNFINISHED` or
`Pause.COMPLETE` out. A learner who stops after "Je travaille toute la" or "Je voudrais
euh" is looking for the next word: the turn waits longer for it (`Turn`, with
`EndpointingParams.unfinished_silence_end_s`) than after "Je voudrais un café, s'il vous
plaît", which a short silence ends.

Unfinished, in this order of evidence:
- the words match an accepted answer as a whole (`COMPLETE`, whatever follows), unless
  they are, word for word, its first words with a word or more to come ("Votre mot de
  passe a été" is that close to "Votre mot de passe a été changé", and unfinished);
- they are a strict prefix of an accepted answer, within recognition slips (`similarity`
  of the folded words against the answer's first words, at `PREFIX_SIMILARITY`);
- they are a word or two, far shorter than every accepted answer (`SHORT_WORDS`,
  `SHORT_SHARE`): a learner who stops after one word is not cut off (a one-word wrong
  answer to a long prompt waits longer for its penalty);
- their last word is a filler ("euh", "um", "äh") or a word that cannot end a sentence in
  that language (an article, a preposition, a conjunction: "le", "the", "de", "und", "di").
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache

from interaction.judging import normalise, similarity

WHOLE_SIMILARITY = 85.0
"""Folded words this close (0..100) to an accepted answer are that answer: complete."""
PREFIX_SIMILARITY = 80.0
"""Folded words this close (0..100) to an answer's first words are its unfinished prefix."""
SHORT_SHARE = 0.5
SHORT_WORDS = 2
"""At most SHORT_WORDS words, shorter (in folded characters) than SHORT_SHARE of every
accepted answer, are the start of something: a first word the recogniser garbled ("Vunet"
for "Vous n'êtes plus en ligne") is no answer yet."""


class Pause(StrEnum):
    COMPLETE = "complete"  # nothing says the learner is still looking for a word
    UNFINISHED = "unfinished"  # a prefix of an answer, a filler, a word no sentence ends on


FILLERS: dict[str, frozenset[str]] = {
    "fr": frozenset({"euh", "heu", "euhm", "hum", "hmm", "mmh", "bah", "ben"}),
    "en": frozenset({"uh", "um", "er", "erm", "uhm", "hmm", "mm", "mmm"}),
    "es": frozenset({"eh", "em", "ehm", "mmm", "hmm", "este"}),
    "de": frozenset({"äh", "ähm", "öhm", "hm", "hmm", "mhm"}),
    "it": frozenset({"ehm", "eh", "ehh", "mmm", "uhm", "hmm"}),
}
"""Hesitation sounds, as recognisers write them."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


OPEN_ENDINGS: dict[str, frozenset[str]] = {
    "fr": _words(
        "le la les l un une des du de d au aux à en dans sur sous pour par avec sans chez vers"
        " entre et ou mais que qu car si quand comme parce mon ma mes ton ta tes son sa ses"
        " notre nos votre vos leurs ce cet cette ces je j tu très"
    ),
    "en": _words(
        "the a an of to and or but with for from in at by into onto my your his their our its"
        " i very would could should because than if"
    ),
    "es": _words(
        "el la los las un una unos unas de del al a en con para por sin y e o u pero que mi"
        " mis tu tus su sus muy me te se porque si"
    ),
    "de": _words(
        "der die das den dem des ein eine einen einem einer und oder aber für von zum zur im"
        " ins am mein meine meinen dein deine sein seine ich sehr weil dass wenn"
    ),
    "it": _words(
        "il lo la i gli le un uno una di del dello della dei degli delle a al allo alla ai agli"
        " alle da dal dalla in nel nella con per su sul sulla e o ma che mi ti molto perché"
        " se"
    ),
}
"""Words that cannot end a sentence: articles, prepositions, conjunctions, possessives."""


def _folded(words: frozenset[str], language: str) -> frozenset[str]:
    return frozenset(normalise(word, language=language) for word in words)


_FOLDED = {
    language: _folded(FILLERS.get(language, frozenset()), language)
    | _folded(OPEN_ENDINGS.get(language, frozenset()), language)
    for language in FILLERS.keys() | OPEN_ENDINGS.keys()
}


def pause_kind(text: str, answers: Iterable[str], *, language: str) -> Pause:
    """Whether a pause after `text` (what was heard so far) ends the answer or not.

    `language` is the turn's (fr, en, es, de, it have word lists; any other language is
    judged by the accepted answers alone). Asked at every audio frame with the same words
    until the next partial: remembered (a few thousand recent answers)."""
    return _pause_kind(text, tuple(answers), language)


@lru_cache(maxsize=4096)
def _pause_kind(text: str, answers: tuple[str, ...], language: str) -> Pause:
    heard = normalise(text, language=language).split()
    if not heard:
        return Pause.COMPLETE  # nothing heard yet: the ordinary silence decides
    spoken = " ".join(heard)
    prefix, short = False, len(heard) <= SHORT_WORDS
    for answer in answers:
        words = normalise(answer, language=language).split()
        whole = " ".join(words)
        starts = len(heard) < len(words) and words[: len(heard)] == heard
        if not starts and similarity(spoken, whole) >= WHOLE_SIMILARITY:
            return Pause.COMPLETE
        prefix = prefix or starts or _is_strict_prefix(heard, words)
        short = short and len(spoken) < SHORT_SHARE * len(whole)
    if prefix or (answers and short) or heard[-1] in _FOLDED.get(language, frozenset()):
        return Pause.UNFINISHED
    return Pause.COMPLETE


def _is_strict_prefix(heard: list[str], answer: list[str]) -> bool:
    """Whether `heard` is the start of `answer`, a word more or less (a slip of the
    recogniser), with at least one of the answer's words still to come."""
    spoken = " ".join(heard)
    whole = similarity(spoken, " ".join(answer))
    for length in (len(heard) - 1, len(heard), len(heard) + 1):
        if 0 < length < len(answer):
            start = similarity(spoken, " ".join(answer[:length]))
            if start >= PREFIX_SIMILARITY and start > whole:
                return True
    return False
