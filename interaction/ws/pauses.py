"""What the words heard so far mean for the turn: the answer they name, and whether they end one.

Pure: the words (and, at a pause, the recogniser's evidence) and the turn's accepted answers
in; a `Reading` out. `read` is all the turn asks:

- `intent`, `similarity`: the accepted answer the words are closest to (0..100), named when
  at least `Answers.intent_similarity` close: a partial's display, never a verdict;
- `unfinished`: whether the words do not end an answer. A learner who stops after "Je
  travaille toute la" or "Je voudrais euh" is looking for the next word: the turn waits
  longer for it (`Turn`, with `EndpointingParams.unfinished_silence_end_s`) than after "Je
  voudrais un café, s'il vous plaît", which a short silence ends;
- `outcome`: on a pause's evidence, the audio judge's verdict (`audio_judging.judge_audio`
  with the turn's policy), the same decision the recording path makes on that evidence.

Unfinished, in this order of evidence:
- the words match an accepted answer as a whole (`COMPLETE`, whatever follows), unless
  they are, word for word, its first words with a word or more to come ("Votre mot de
  passe a été" is that close to "Votre mot de passe a été changé", and unfinished);
- they are a strict prefix of an accepted answer, within recognition slips (`similarity`
  of the folded words against the answer's first words, at `PREFIX_SIMILARITY`);
- at a pause whose evidence is in hand: they *sound* like an answer's first words (the
  folded letters, spaces left out, at `SOUND_SIMILARITY`: the recogniser cuts and spells
  words its own way — "Messagerie à ces risques" for "Messagerie Asterisk"), and the
  teacher-forced scores of that answer say the same: its words up to there are in the
  audio (none below `SAID_LOGPROB`, the first left aside) and its next word is not (at
  most `UNSAID_LOGPROB`) — the learner said the start of that answer and stopped;
- they are a word or two, far shorter than every accepted answer (`SHORT_WORDS`,
  `SHORT_SHARE`): a learner who stops after one word is not cut off (a one-word wrong
  answer to a long prompt waits longer for its penalty);
- their last word is a filler ("euh", "um", "äh") or a word that cannot end a sentence in
  that language (an article, a preposition, a conjunction: "le", "the", "de", "und", "di";
  a digit is a number, never an article: "appuyez sur 1").

bench/pause_evidence.py measures these rules on real prompts cut at their pauses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz

from interaction.audio_evidence import AudioEvidence
from interaction.audio_judging import AudioJudgingPolicy, judge_audio
from interaction.judging import Match, answer_match, normalise

WHOLE_SIMILARITY = 85.0
"""Folded words this close (0..100) to an accepted answer are that answer: complete."""
PREFIX_SIMILARITY = 80.0
"""Folded words this close (0..100) to an answer's first words are its unfinished prefix."""
SOUND_SIMILARITY = 75.0
"""Folded letters, spaces left out, this close (0..100) to an answer's first words sound
like them; with the evidence's word scores agreeing, they are its unfinished start."""
SOUND_LENGTH_SHARE = 1.2
"""…and at most this many times as long: more letters than that are more words said."""
SAID_LOGPROB = -10.0
"""An answer's word scored above this (natural log-probability, teacher-forced on the audio,
summed over its tokens) was said, however the recogniser spelled it; below it, another
word was said in its place."""
UNSAID_LOGPROB = -5.0
"""An answer's word scored at most this was not said (the audio stops, or goes elsewhere)."""
SHORT_SHARE = 0.5
SHORT_WORDS = 2
"""At most SHORT_WORDS words, shorter (in folded characters) than SHORT_SHARE of every
accepted answer, are the start of something: a first word the recogniser garbled ("Vunet"
for "Vous n'êtes plus en ligne") is no answer yet."""


class Pause(StrEnum):
    COMPLETE = "complete"  # nothing says the learner is still looking for a word
    UNFINISHED = "unfinished"  # a prefix of an answer, a filler, a word no sentence ends on


@dataclass(frozen=True)
class Answers:
    """The turn due, as the words heard are read against it.

    texts: its accepted answers; language: its language (fr, en, es, de, it have word
    lists; any other is read by the answers alone); intent_similarity: 0..100, how close a
    partial must be to name an answer; policy: the audio judge's, for a pause's evidence
    (None: no verdict)."""

    texts: tuple[str, ...] = ()
    language: str = ""
    intent_similarity: float = 85.0
    ignore_accents: bool = True
    policy: AudioJudgingPolicy | None = None


@dataclass(frozen=True)
class Reading:
    intent: str | None  # the accepted answer the words name (a partial's display)
    similarity: float  # 0..100 to the closest accepted answer
    unfinished: bool  # the words do not end an answer: the pause after them waits longer
    outcome: str | None = None  # the audio judge's verdict on the evidence, if any


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


def read(text: str, answers: Answers, *, evidence: Mapping[str, Any] | None = None) -> Reading:
    """What `text` (the words heard so far) means for the turn `answers` describes.

    `evidence`: the recogniser's evidence payload on the same audio (a pause's evaluation):
    its answers' word scores may find an answer's start the words alone do not, and the
    audio judge gives its verdict on it. Without it, the words alone are read (remembered:
    partials repeat)."""
    words = _reading(text, answers)
    if not evidence:
        return words
    parsed = AudioEvidence.from_payload(evidence)
    outcome = (
        judge_audio(parsed, answers.texts, answers.policy).outcome
        if answers.policy is not None
        else None
    )
    unfinished = words.unfinished or _sounds_like_a_start(text, answers, parsed)
    return Reading(words.intent, words.similarity, unfinished, outcome)


@lru_cache(maxsize=4096)
def _reading(text: str, answers: Answers) -> Reading:
    match = _closest(text, answers.texts, answers.language, ignore_accents=answers.ignore_accents)
    intent = match.answer if match.similarity >= answers.intent_similarity else None
    unfinished = _pause_kind(text, answers) == Pause.UNFINISHED
    return Reading(intent, match.similarity, unfinished)


def pause_kind(text: str, answers: Sequence[str], *, language: str) -> Pause:
    """Whether a pause after `text` ends the answer or not, by the words alone."""
    return _pause_kind(text, Answers(tuple(answers), language))


def _pause_kind(text: str, answers: Answers) -> Pause:
    language = answers.language
    heard = _fold(text, language)
    if not heard:
        return Pause.COMPLETE  # nothing heard yet: the ordinary silence decides
    spoken = " ".join(heard)
    folded = [_fold(answer, language) for answer in answers.texts]
    started = [len(heard) < len(words) and words[: len(heard)] == heard for words in folded]
    others = [" ".join(words) for words, starts in zip(folded, started, strict=True) if not starts]
    if _closest(spoken, others, language).similarity >= WHOLE_SIMILARITY:
        return Pause.COMPLETE
    if any(started) or any(_is_strict_prefix(heard, words, language) for words in folded):
        return Pause.UNFINISHED
    short = len(heard) <= SHORT_WORDS and all(
        len(spoken) < SHORT_SHARE * len(" ".join(words)) for words in folded
    )
    ends_open = heard[-1] in _FOLDED.get(language, frozenset()) and not _is_number(text)
    return Pause.UNFINISHED if (folded and short) or ends_open else Pause.COMPLETE


def _is_number(text: str) -> bool:
    """Whether the last word heard was written as a number ("1", not "un")."""
    last = text.split()[-1].strip(".,;:!?…") if text.split() else ""
    return last.isdigit()


def _is_strict_prefix(heard: tuple[str, ...], answer: tuple[str, ...], language: str) -> bool:
    """Whether `heard` is the start of `answer`, a word more or less (a slip of the
    recogniser), with at least one of the answer's words still to come."""
    spoken = " ".join(heard)
    starts = [
        " ".join(answer[:length])
        for length in (len(heard) - 1, len(heard), len(heard) + 1)
        if 0 < length < len(answer)
    ]
    if not starts:
        return False
    start = _closest(spoken, starts, language).similarity
    whole = _closest(spoken, [" ".join(answer)], language).similarity
    return start >= PREFIX_SIMILARITY and start > whole


def _sounds_like_a_start(text: str, answers: Answers, evidence: AudioEvidence) -> bool:
    """Whether the words sound like an answer's first words, its teacher-forced word scores
    agreeing: those words said, the next one not (module docstring)."""
    language = answers.language
    heard = "".join(_fold(text, language))
    if not heard:
        return False
    scored = {score.answer: score.word_logprobs for score in evidence.answers if not score.filler}
    for answer in answers.texts:
        words = _fold(answer, language)
        per_word = _per_answer_word(words, scored.get(answer, ()), language)
        if per_word is None:
            continue
        whole = fuzz.ratio(heard, "".join(words))
        for said in range(1, len(words)):
            start = "".join(words[:said])
            sounds = fuzz.ratio(heard, start)
            if (
                sounds >= SOUND_SIMILARITY
                and sounds > whole
                and len(heard) <= SOUND_LENGTH_SHARE * len(start)
                and per_word[said] <= UNSAID_LOGPROB
                and min(per_word[1:said], default=0.0) >= SAID_LOGPROB
            ):
                return True
    return False


def _per_answer_word(
    words: tuple[str, ...], scored: Sequence[tuple[str, float]], language: str
) -> list[float] | None:
    """The log-probability of each folded answer word: the evidence's words (the tokenizer's
    split, "d" "'appel") summed until they spell it ("dappel"). None when the two splits do
    not meet at every word (no scores, or another spelling)."""
    ends, length = [], 0
    for word in words:
        length += len(word)
        ends.append(length)
    out: list[float] = []
    spelled, total = 0, 0.0
    for word, logprob in scored:
        spelled += len("".join(_fold(word, language)))
        total += logprob
        if len(out) < len(ends) and spelled == ends[len(out)]:
            out.append(total)
            total = 0.0
        elif len(out) < len(ends) and spelled > ends[len(out)]:
            return None
    return out if len(out) == len(words) else None


@lru_cache(maxsize=16384)
def _fold(text: str, language: str) -> tuple[str, ...]:
    """The words of `text` folded as the judge folds them (case, accents, numbers spelled
    out, punctuation); remembered: the same answers are folded at every partial."""
    return tuple(normalise(text, language=language).split())


def _closest(
    spoken: str, texts: Sequence[str], language: str, *, ignore_accents: bool = True
) -> Match:
    """The text of `texts` closest to `spoken`, by the judge's similarity (0..100)."""
    return answer_match(spoken, texts, language=language, ignore_accents=ignore_accents)
