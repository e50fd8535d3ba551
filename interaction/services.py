"""Writes for the learner's world: starting sessions and recording attempts.

`attempt_record` is the one scoring path: the time-stop API and the streaming session both
call it. It judges (`answer_judge`, which touches no database and may be called on its own),
scores, and writes the attempt, its ledger row and the session in one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.db.models.functions import Greatest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from interaction.asr.types import Hypothesis
from interaction.audio_evidence import AudioEvidence
from interaction.audio_judging import AudioJudgingPolicy, AudioVerdict, judge_audio
from interaction.judging import Evidence, Policy, Verdict, judge
from interaction.language_text import text_language_probabilities
from interaction.languages import LanguagesInvalid, other_languages_clean
from interaction.ledger_rows import attempt_rows_insert, column_quoted, session_rows_insert
from interaction.models import Attempt, LearnerProfile, ScoreEvent, Session
from interaction.prepared import prepared_cursor
from interaction.scoring import Change, SessionNotActive, SessionState, score_apply
from interaction.selectors import (
    session_learner_languages_attach,
    session_learner_languages_get,
    turn_reveal_get,
)
from interaction.vocabulary import PENALISED_OUTCOMES, Mode, Outcome, SessionStatus, Source
from scenarios.models import Scenario, Turn
from scenarios.rules import Rules
from scenarios.selectors import (
    scenario_rules_get,
    scenario_turn_count_get,
    scenario_version_get,
    turn_due_get,
)
from scenarios.specs import SUPPORTED_LANGUAGES
from telemetry import metrics

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # the configured AUTH_USER_MODEL


class ScenarioNotPlayable(Exception):
    """The scenario has no turns (or cannot be played in the asked mode)."""


class TypedAnswersNotAllowed(Exception):
    """The scenario asks for spoken answers only."""


class RegistrationRefused(Exception):
    """A sign-up that cannot be made: `field` ("username", "password" or "other_languages")
    and why."""

    def __init__(self, field: str, messages: Sequence[str]) -> None:
        super().__init__(f"{field}: {' '.join(messages)}")
        self.field = field
        self.messages = list(messages)


@dataclass(frozen=True)
class Answer:
    """One answer to judge, typed or recognised from speech.

    confidence: 0..1 (None for typed answers). language_probabilities: code -> 0..1.
    words: [{word, start, end, probability}] from the recogniser (times in s).
    audio_ms / asr_ms: in ms. evidence: a spoken answer's evidence payload (the ASR
    server's evidence pass, docs/fair-judge.md), which the fair judge reads.
    """

    source: Source
    transcript: str
    language_probabilities: Mapping[str, float] = field(default_factory=dict)
    confidence: float | None = None
    no_speech: bool = False
    words: Sequence[Mapping[str, Any]] = ()
    audio_ms: int | None = None
    asr_ms: int | None = None
    auto_finalised: bool = False
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AttemptResult:
    attempt: Attempt
    session: Session
    verdict: Verdict
    change: Change
    next_turn: Turn | None
    reveal: str | None = None
    """The closest accepted answer, once the learner may see it (`turn_reveal_get`)."""


def learner_register(*, username: str, password: str, other_languages: Sequence[str] = ()) -> User:
    """Create a learner with a password that passes the validators; refuse a taken name.

    other_languages: the languages the learner speaks besides the one they learn (codes
    Parley supports, `languages.other_languages_clean`); none named: the global default.
    """
    user_model = get_user_model()
    try:
        languages = other_languages_clean(other_languages)
    except LanguagesInvalid as invalid:
        raise RegistrationRefused("other_languages", [str(invalid)]) from invalid
    try:
        validate_password(password, user_model(username=username))
    except DjangoValidationError as weak:
        raise RegistrationRefused("password", weak.messages) from weak
    try:
        with transaction.atomic():
            learner = user_model.objects.create_user(username=username, password=password)
            if languages:
                LearnerProfile.objects.create(user=learner, other_languages=list(languages))
            return learner
    except IntegrityError as taken:
        raise RegistrationRefused("username", ["This username is taken."]) from taken


def learner_languages_set(*, learner: Any, other_languages: Sequence[str]) -> LearnerProfile:
    """Store the languages `learner` speaks besides the one they learn: supported codes, each
    once, in the order given (`languages.other_languages_clean`; else `LanguagesInvalid`).

    The judge suspects a spoken answer of exactly these; an empty list means none named, and
    the global default (`PARLEY_JUDGING["other_languages"]`) applies. The API, the settings
    page and the admin all save through here.
    """
    languages = other_languages_clean(other_languages)
    profile, _ = LearnerProfile.objects.update_or_create(
        user=learner, defaults={"other_languages": list(languages)}
    )
    return profile


def learner_token_create(*, learner: User) -> Token:
    """The API token a newly registered learner signs in with."""
    return Token.objects.create(user=learner)


def answer_from_hypothesis(
    hypothesis: Hypothesis, *, audio_ms: int, auto_finalised: bool = False
) -> Answer:
    """A spoken answer from the recogniser's final hypothesis (time-stop or streamed)."""
    return Answer(
        source=Source.AUDIO,
        transcript=hypothesis.text,
        language_probabilities=dict(hypothesis.language_probabilities),
        confidence=round(hypothesis.confidence, 4),
        no_speech=hypothesis.no_speech,
        words=[asdict(word) for word in hypothesis.words],
        audio_ms=audio_ms,
        asr_ms=hypothesis.asr_ms,
        auto_finalised=auto_finalised,
        evidence=dict(hypothesis.evidence),
    )


def answer_from_text(*, text: str) -> Answer:
    """A typed answer with its text-detected language probabilities."""
    return Answer(
        source=Source.TYPED,
        transcript=text.strip(),
        language_probabilities=text_language_probabilities(text),
    )


def session_start(
    *, learner: Any, scenario: Scenario, mode: Mode = Mode.TIME_STOP, stream_owner: str = ""
) -> Session:
    """Start a session with the scenario's effective lives; the ledger's first row grants them.

    stream_owner: the stream connection that opens it (`stream_services.stream_session_open`).
    Its rows are one statement (`session_rows_insert`), all or nothing by itself: no
    transaction or savepoint of its own, which were two more round trips on every stream's
    start.
    """
    turn_count = scenario_turn_count_get(scenario=scenario)
    if turn_count == 0:
        raise ScenarioNotPlayable(f"Scenario {scenario.slug!r} has no turns.")
    if mode == Mode.STREAMING and not (scenario.streaming_enabled and settings.STREAMING_ENABLED):
        raise ScenarioNotPlayable(f"Streaming is turned off for {scenario.slug!r}.")
    rules = scenario_rules_get(scenario=scenario)
    session = Session(
        learner=learner,
        scenario=scenario,
        mode=mode,
        score=0,
        lives_total=rules.lives,
        lives_remaining=rules.lives,
        turn_count=turn_count,
        stream_owner=stream_owner,
    )
    first = ScoreEvent(
        session=session,
        reason=ScoreEvent.Reason.SESSION_START,
        score_delta=0,
        lives_delta=rules.lives,
        score_after=0,
        lives_after=rules.lives,
    )
    session_rows_insert(session=session, ledger=first)
    return session


def session_abandon_stale(*, older_than: timedelta) -> int:
    """Mark `abandoned` every active session untouched for `older_than`; return how many.

    Touched: an answer recorded (`updated_at`) or a stream event stored, whichever is later.
    Score, lives and the ledger stay as they were: an abandoned session keeps its result, and
    a learner who comes back starts a new one. A session answered meanwhile is left alone
    (Postgres re-checks the condition on the row the answer's transaction wrote).
    """
    cutoff = timezone.now() - older_than
    stale = (
        Session.objects.filter(status=SessionStatus.ACTIVE)
        .annotate(touched=Greatest("updated_at", Max("events__created_at")))
        .filter(touched__lt=cutoff)
        .values("pk")
    )
    return Session.objects.filter(
        pk__in=stale, status=SessionStatus.ACTIVE, updated_at__lt=cutoff
    ).update(status=SessionStatus.ABANDONED, ended_at=timezone.now())


def answer_policy_get(
    *, source: Source, target_language: str, rules: Rules, other_languages: Sequence[str]
) -> Policy:
    """The judging policy for one answer in `target_language`.

    other_languages: the learner's (`learner_other_languages_get`); only speech uses them.
    """
    # Audio language ID is weak between neighbouring languages (FINDINGS.md), so speech is
    # only suspected of the learner's own other languages; text detection is reliable enough
    # to suspect every other language we teach.
    suspects = other_languages if source == Source.AUDIO else SUPPORTED_LANGUAGES
    return Policy(
        target_language=target_language,
        suspect_languages=tuple(code for code in suspects if code != target_language),
        wrong_language_probability=rules.wrong_language_probability,
        answer_similarity=rules.answer_similarity,
        ignore_accents=settings.PARLEY_JUDGING["ignore_accents"],
    )


def audio_policy_get(
    *, target_language: str, rules: Rules, other_languages: Sequence[str]
) -> AudioJudgingPolicy:
    """The fair judge's policy for one spoken answer: the rules' thresholds (global →
    difficulty → scenario, `Rules.audio_judging`) over the policy's own defaults."""
    return AudioJudgingPolicy(
        target_language=target_language,
        other_languages=tuple(code for code in other_languages if code != target_language),
        ignore_accents=settings.PARLEY_JUDGING["ignore_accents"],
        **rules.audio_judging,  # keys: scenarios.rules.AUDIO_JUDGING_BOUNDS
    )


def spoken_verdict(
    *, answer: Answer, accepted: Sequence[str], policy: AudioJudgingPolicy
) -> tuple[Verdict, AudioVerdict]:
    """The fair judge's verdict on a spoken answer's evidence, and the same as a `Verdict`.

    An answer without an evidence payload (a provider that gives only a transcript) is
    judged on what it has: its transcript and language probabilities, no answer scores, so
    it can score or be wrong-language but never an incorrect answer (that needs the scores).
    """
    payload = answer.evidence or {
        "transcript": answer.transcript,
        "no_speech": answer.no_speech,
        "language_probabilities": dict(answer.language_probabilities),
    }
    audio = judge_audio(AudioEvidence.from_payload(payload), accepted, policy)
    outcome = Outcome(audio.outcome)
    return (
        Verdict(
            outcome=outcome,
            similarity=audio.similarity,
            best_answer=audio.best_answer,
            language=audio.language,
            language_probability=audio.language_probability,
            suspect_language=audio.other_language if outcome == Outcome.WRONG_LANGUAGE else None,
        ),
        audio,
    )


@dataclass(frozen=True)
class Judgement:
    """What the judges made of one answer to one turn, before anything is stored.

    evidence: what the attempt stores as its evidence (a spoken answer's evidence payload
    with the fair judge's verdict under "verdict"; empty for a typed answer).
    judge_ms: how long judging took, in ms.
    """

    verdict: Verdict
    evidence: Mapping[str, Any]
    judge_ms: int


def answer_judge(
    *,
    answer: Answer,
    accepted: Sequence[str],
    target_language: str,
    rules: Rules,
    other_languages: Sequence[str] = (),
) -> Judgement:
    """Judge `answer` against a turn's accepted answers; no database, nothing stored.

    A spoken answer is judged by the fair judge (`interaction.audio_judging.judge_audio`) on
    its evidence, suspected of `other_languages` (the learner's); a typed one by
    `interaction.judging.judge` on its text, suspected of every language we teach.
    """
    started = time.perf_counter()
    evidence: dict[str, Any] = {}
    if answer.source == Source.AUDIO:
        verdict, audio_verdict = spoken_verdict(
            answer=answer,
            accepted=accepted,
            policy=audio_policy_get(
                target_language=target_language, rules=rules, other_languages=other_languages
            ),
        )
        evidence = {**answer.evidence, "verdict": audio_verdict.as_payload()}
    else:
        verdict = judge(
            Evidence(
                transcript=answer.transcript,
                language_probabilities=answer.language_probabilities,
                no_speech=answer.no_speech,
            ),
            accepted,
            answer_policy_get(
                source=answer.source,
                target_language=target_language,
                rules=rules,
                other_languages=(),
            ),
        )
    judge_ms = round((time.perf_counter() - started) * 1000)
    return Judgement(verdict=verdict, evidence=evidence, judge_ms=judge_ms)


def turn_answer_judge(
    *, turn: Turn, answer: Answer, other_languages: Sequence[str], rules: Rules
) -> Judgement:
    """`answer_judge` on `turn`: its accepted answers, its scenario's language, and for speech
    the learner's `other_languages` (attempts and the designers' playground alike)."""
    return answer_judge(
        answer=answer,
        accepted=[accepted.text for accepted in turn.answers.all()],
        target_language=turn.scenario.language,
        rules=rules,
        other_languages=other_languages if answer.source == Source.AUDIO else (),
    )


def attempt_record(*, session: Session, answer: Answer) -> AttemptResult:
    """Judge `answer` for the turn now due and record it; raise SessionNotActive if ended.

    One transaction: the session's row is locked (`session_lock`: two attempts at once can
    neither lose nor double a change), then `locked_attempt_record`.
    """
    with transaction.atomic():
        return locked_attempt_record(session=session_lock(session_id=session.pk), answer=answer)


def session_lock(*, session_id: Any) -> Session:
    """The session's row, locked until the transaction ends, with its scenario (as of the
    row's version: `scenarios.selectors.scenario_version_get`) and the learner's languages
    (`selectors.session_learner_languages_get`). One statement whose SQL is made once per
    process: every live answer takes this lock, and compiling the ORM's query with its joins
    was a fifth of recording one."""
    with prepared_cursor() as cursor:
        cursor.execute(_session_lock_sql(), [session_id])
        row = cursor.fetchone()
    if row is None:
        raise Session.DoesNotExist(f"No session {session_id}.")
    *values, version, named = row
    # Built as the ORM builds a row's model (`from_db`), without a RawQuerySet's per-call
    # work of matching columns to fields: its fields need no converters.
    session = Session.from_db(connection.alias, _session_columns(), values)
    session.scenario = scenario_version_get(scenario_id=session.scenario_id, version=version)
    return session_learner_languages_attach(session=session, named=named)


@cache
def _session_columns() -> list[str]:
    return [field.attname for field in Session._meta.concrete_fields]


@cache
def _session_lock_sql() -> str:
    quote = connection.ops.quote_name
    sessions, scenarios = quote(Session._meta.db_table), quote(Scenario._meta.db_table)
    profiles = quote(LearnerProfile._meta.db_table)
    columns = ", ".join(f"s.{column_quoted(field)}" for field in Session._meta.concrete_fields)
    return (
        f"SELECT {columns}, c.updated_at, p.other_languages::text "
        f"FROM {sessions} s JOIN {scenarios} c ON c.id = s.scenario_id "
        f"LEFT JOIN {profiles} p ON p.user_id = s.learner_id "
        f"WHERE s.id = %s FOR UPDATE OF s"
    )


def locked_attempt_record(*, session: Session, answer: Answer) -> AttemptResult:
    """`attempt_record` on a session whose row the caller holds locked (`session_lock`).

    The answer is judged and scored (`attempt_plan`), then the attempt, its ledger row and
    the session written in one statement (`attempt_rows_insert`). `unclear` and `no_speech`
    attempts are stored with no ledger row: the turn stays.
    """
    planned = attempt_plan(session=session, answer=answer)
    attempt_rows_insert(
        attempt=planned.result.attempt,
        ledger=planned.ledger,
        session=session,
        session_fields=STANDING_FIELDS,
    )
    transaction.on_commit(lambda: attempt_counted(planned.result))
    return planned.result


@dataclass(frozen=True)
class PlannedAttempt:
    """An answer judged and scored, its rows built, nothing written: `result.session` holds
    the new standing, `result.attempt` is not saved, `ledger` is its ledger row (None when
    neither score nor lives changed)."""

    result: AttemptResult
    ledger: ScoreEvent | None


def attempt_plan(*, session: Session, answer: Answer) -> PlannedAttempt:
    """Judge `answer` for the turn `session` is on (`turn_answer_judge`), score it
    (`score_apply`) and build its rows; `session` takes the new standing. Reads only (the
    turn, its rules, earlier wrong answers for a reveal): the caller writes the rows with
    the session's row locked, or on condition that it is as `session` was read
    (`stream_services.stream_attempt_record_unlocked`). Raises SessionNotActive if ended."""
    if session.status != SessionStatus.ACTIVE:
        raise SessionNotActive(session.status)
    turn = _turn_due(session=session, source=answer.source)
    rules = scenario_rules_get(scenario=session.scenario, turn=turn)
    judgement = turn_answer_judge(
        turn=turn,
        answer=answer,
        other_languages=session_learner_languages_get(session=session),
        rules=rules,
    )
    change = score_apply(
        state=SessionState(
            score=session.score,
            lives_remaining=session.lives_remaining,
            turn_index=session.turn_index,
            turn_count=session.turn_count,
        ),
        outcome=judgement.verdict.outcome,
        rules=rules,
    )
    attempt, ledger = _attempt_rows(
        session=session, turn=turn, answer=answer, judgement=judgement, change=change
    )
    result = AttemptResult(
        attempt=attempt,
        session=session,
        verdict=judgement.verdict,
        change=change,
        next_turn=_turn_next(session=session),
        reveal=_reveal_after(session=session, turn=turn, attempt=attempt),
    )
    return PlannedAttempt(result=result, ledger=ledger)


def attempt_counted(result: AttemptResult) -> None:
    """The attempt in the process's metrics, once its rows are committed."""
    metrics.attempt_counted(
        outcome=result.verdict.outcome,
        source=result.attempt.source,
        mode=result.session.mode,
        score_delta=result.attempt.score_delta,
        lives_delta=result.attempt.lives_delta,
    )


def _turn_due(*, session: Session, source: Source) -> Turn:
    """The turn the locked session is on, with its accepted answers; typed answers allowed?"""
    scenario = session.scenario
    if source == Source.TYPED and not scenario.typed_answers:
        raise TypedAnswersNotAllowed(f"Scenario {scenario.slug!r} takes spoken answers only.")
    return _turn_at(session=session)


STANDING_FIELDS = ("score", "lives_remaining", "turn_index", "status", "ended_at", "updated_at")


def _attempt_rows(
    *, session: Session, turn: Turn, answer: Answer, judgement: Judgement, change: Change
) -> tuple[Attempt, ScoreEvent | None]:
    """The attempt and its ledger row (when it changed score or lives), not saved; the
    session takes its new standing."""
    verdict = judgement.verdict
    attempt = Attempt(
        session=session,
        turn=turn,
        turn_index=session.turn_index,
        source=answer.source,
        transcript=answer.transcript,
        confidence=answer.confidence,
        language=verdict.language or "",
        language_probability=verdict.language_probability,
        language_probabilities=dict(answer.language_probabilities),
        words=[dict(word) for word in answer.words],
        evidence=dict(judgement.evidence),
        outcome=verdict.outcome,
        similarity=verdict.similarity,
        matched_answer=verdict.best_answer or "",
        score_delta=change.score_delta,
        lives_delta=change.lives_delta,
        auto_finalised=answer.auto_finalised,
        audio_ms=answer.audio_ms,
        asr_ms=answer.asr_ms,
        judge_ms=judgement.judge_ms,
    )
    ledger = None
    if change.score_delta or change.lives_delta:
        ledger = ScoreEvent(
            session=session,
            reason=verdict.outcome,
            score_delta=change.score_delta,
            lives_delta=change.lives_delta,
            score_after=change.state.score,
            lives_after=change.state.lives_remaining,
        )
    session.score = change.state.score
    session.lives_remaining = change.state.lives_remaining
    session.turn_index = change.state.turn_index
    session.status = change.state.status
    if session.status != SessionStatus.ACTIVE:
        session.ended_at = timezone.now()
    return attempt, ledger


def _turn_next(*, session: Session) -> Turn | None:
    """The turn due after an attempt; None once the session has ended."""
    if session.status != SessionStatus.ACTIVE:
        return None
    return _turn_at(session=session)


def _turn_at(*, session: Session) -> Turn:
    """The turn at the session's index, with its accepted answers (read once per version)."""
    return turn_due_get(scenario=session.scenario, order=session.turn_index)


def _reveal_after(*, session: Session, turn: Turn, attempt: Attempt) -> str | None:
    """Only a wrong answer on a turn that stays (or that ended the game) reveals anything;
    `attempt` (that answer, not written yet) counts as the newest wrong one."""
    if attempt.outcome in PENALISED_OUTCOMES and session.turn_index == turn.order:
        return turn_reveal_get(session=session, turn=turn, unsaved=attempt)
    return None
