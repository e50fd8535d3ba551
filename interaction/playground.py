"""The designers' "Try an answer": the real judge on one turn, nothing stored.

`answer_try` judges an answer with `services.turn_answer_judge` (the step `attempt_record` takes)
and costs it with `scoring.score_apply` against a session just arrived at the turn: no
session, attempt or ledger row is written for anyone. The rest is pure presentation: the
learner's feedback line, and per accepted answer how well it explains the audio (read
leniently from the evidence payload: a missing field shows nothing) and which words differ.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from interaction.judging import normalise, similarity
from interaction.presenters import outcome_message
from interaction.scoring import Change, SessionState, score_apply
from interaction.selectors import learner_other_languages_get
from interaction.services import Answer, Judgement, turn_answer_judge
from interaction.vocabulary import Outcome, Source
from scenarios.models import Turn
from scenarios.selectors import scenario_rules_get, scenario_turn_count_get

AMPLE_SCORE = 1_000_000
"""The tried session's score: enough that a penalty's points are charged in full."""


@dataclass(frozen=True)
class TriedAnswer:
    """An answer judged on `turn` as a learner's would be. change: what it would do to a
    session arriving at the turn with full lives and enough points (deltas in points and
    lives, ≤ 0 for a penalty). typed_refused: learners of this scenario cannot type."""

    turn: Turn
    answer: Answer
    judgement: Judgement
    change: Change
    typed_refused: bool


def answer_try(*, turn: Turn, answer: Answer, learner: Any) -> TriedAnswer:
    """Judge `answer` on `turn` (the learner's other languages from `learner`); store nothing."""
    rules = scenario_rules_get(scenario=turn.scenario, turn=turn)
    judgement = turn_answer_judge(
        turn=turn,
        answer=answer,
        other_languages=learner_other_languages_get(learner=learner),
        rules=rules,
    )
    state = SessionState(
        score=AMPLE_SCORE,
        lives_remaining=rules.lives,
        turn_index=turn.order,
        turn_count=scenario_turn_count_get(scenario=turn.scenario),
    )
    return TriedAnswer(
        turn=turn,
        answer=answer,
        judgement=judgement,
        change=score_apply(state=state, outcome=judgement.verdict.outcome, rules=rules),
        typed_refused=answer.source == Source.TYPED and not turn.scenario.typed_answers,
    )


def cost_text(*, lives: int, points: int) -> str:
    """ "You lose 1 ♥ and 4 points." as the game says it (static/parley/play.js)."""
    parts = []
    if lives:
        parts.append(f"{lives} ♥")
    if points:
        parts.append(f"{points} point{'' if points == 1 else 's'}")
    return f"You lose {' and '.join(parts)}." if parts else ""


def learner_feedback(tried: TriedAnswer, *, language_name: Any) -> str:
    """The line the game shows the learner after this answer (static/parley/play.js's)."""
    verdict, change = tried.judgement.verdict, tried.change
    outcome = verdict.outcome
    if outcome == Outcome.CORRECT:
        said = f"“{tried.answer.transcript}” " if tried.answer.transcript else ""
        return f"Correct! {said}+{change.score_delta}"
    cost = cost_text(lives=-change.lives_delta, points=-change.score_delta)
    if outcome == Outcome.WRONG_LANGUAGE:
        target = language_name(tried.turn.scenario.language)
        heard = verdict.suspect_language
        sounded = f" That sounded like {language_name(heard)}." if heard else ""
        return " ".join(part for part in (f"Answer in {target}!{sounded}", cost) if part)
    if outcome == Outcome.INCORRECT_ANSWER:
        hint = f" Hint: {tried.turn.hint}" if tried.turn.hint else ""
        return " ".join(part for part in (f"Not quite.{hint}", cost) if part)
    return outcome_message(outcome) or ""


@dataclass(frozen=True)
class WordDiff:
    """One step from the heard words to an answer's: `equal`, `replace` (heard → answer),
    `extra` (heard, not in the answer) or `missing` (in the answer, not heard)."""

    op: str
    heard: tuple[str, ...]
    answer: tuple[str, ...]


_OPS = {"equal": "equal", "replace": "replace", "delete": "extra", "insert": "missing"}


def word_diff(
    heard: str, answer: str, *, language: str, ignore_accents: bool = True
) -> list[WordDiff]:
    """The words of `heard` against `answer`'s, compared folded (case, punctuation, accents,
    numbers: `judging.normalise`) and shown as written. Pure."""

    def words(text: str) -> list[tuple[str, str]]:
        pairs = [
            (word, normalise(word, language=language, ignore_accents=ignore_accents))
            for word in text.split()
        ]
        return [(word, key) for word, key in pairs if key]

    said, wanted = words(heard), words(answer)
    matcher = difflib.SequenceMatcher(
        None, [key for _, key in said], [key for _, key in wanted], autojunk=False
    )
    return [
        WordDiff(
            op=_OPS[op],
            heard=tuple(word for word, _ in said[i1:i2]),
            answer=tuple(word for word, _ in wanted[j1:j2]),
        )
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
    ]


@dataclass(frozen=True)
class AnswerEvidence:
    """One accepted answer against what was heard.

    fit: mean log-probability per token of the answer forced on the audio (≤ 0; None when
    the payload has none, e.g. a typed answer); fit_per_token: exp(fit), 0..1.
    similarity: 0..100, the text judge's similarity of the heard words to the answer."""

    answer: str
    fit: float | None
    similarity: float
    diff: tuple[WordDiff, ...]
    best: bool

    @property
    def fit_per_token(self) -> float | None:
        return None if self.fit is None else math.exp(self.fit)


def answer_fits(evidence: Mapping[str, Any]) -> dict[str, float]:
    """answer → its best mean log-probability per token in an evidence payload's `answers`
    list (any filler variant), read leniently: an item without both fields is left out."""
    fits: dict[str, float] = {}
    for item in evidence.get("answers") or ():
        if not isinstance(item, Mapping):
            continue
        text, fit = item.get("answer"), item.get("mean_logprob")
        if isinstance(text, str) and isinstance(fit, int | float):
            fits[text] = max(fits.get(text, -math.inf), float(fit))
    return fits


def transcript_fit(evidence: Mapping[str, Any]) -> float | None:
    """The free transcript's own mean log-probability per token, if the payload has it."""
    score = evidence.get("transcript_score")
    value = score.get("mean_logprob") if isinstance(score, Mapping) else None
    return float(value) if isinstance(value, int | float) else None


def answers_evidence(
    *, heard: str, accepted: Sequence[str], evidence: Mapping[str, Any], language: str
) -> list[AnswerEvidence]:
    """Each accepted answer's fit to the audio and word differences, in the turn's order;
    `best`: the one that explains the audio best (or, without fits, the closest text)."""
    fits = answer_fits(evidence)
    accents = settings.PARLEY_JUDGING["ignore_accents"]
    rows = [
        AnswerEvidence(
            answer=text,
            fit=fits.get(text),
            similarity=round(
                similarity(
                    normalise(heard, language=language, ignore_accents=accents),
                    normalise(text, language=language, ignore_accents=accents),
                ),
                1,
            ),
            diff=tuple(word_diff(heard, text, language=language, ignore_accents=accents)),
            best=False,
        )
        for text in accepted
    ]
    if not rows:
        return rows
    if any(row.fit is not None for row in rows):
        best = max(rows, key=lambda row: -math.inf if row.fit is None else row.fit)
    else:
        best = max(rows, key=lambda row: row.similarity)
    return [
        AnswerEvidence(row.answer, row.fit, row.similarity, row.diff, row is best) for row in rows
    ]
