"""Reads for the live stream: what a connection needs to know about its session."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db import connection

from interaction.asr.types import RecognitionOptions
from interaction.audio_judging import AudioJudgingPolicy
from interaction.events import Standing, StoredEvent, TurnInfo
from interaction.models import LearnerProfile, Session, SessionEvent
from interaction.prepared import prepared_cursor
from interaction.presenters import session_standing, turn_payload
from interaction.selectors import LEARNER_LANGUAGES, session_learner_languages_get
from interaction.services import audio_policy_get
from interaction.vocabulary import SessionStatus
from scenarios.models import Scenario, Turn
from scenarios.selectors import scenario_rules_get, scenario_version_get, turn_due_get


@dataclass(frozen=True)
class StreamContext:
    """What a live stream needs to know about its session, refreshed after every attempt.

    answer_similarity: 0..100, the effective rule of the turn due.
    audio_policy: the audio judge's policy for that turn (`services.audio_policy_get`, as
    the recording path builds it): a speculative verdict is judged with it in memory before
    the recording path judges the same evidence again.
    """

    session_id: str
    status: str
    mode: str
    standing: Standing
    language: str
    turn: TurnInfo | None
    answers: tuple[str, ...]
    other_languages: tuple[str, ...]
    answer_similarity: float
    event_seq: int
    audio_policy: AudioJudgingPolicy | None = None
    session: Session | None = field(default=None, compare=False, repr=False)
    """The session's row as this context was made from it, with its scenario's version and
    the learner's languages (None: read without them): the next answer is judged from it
    and written on condition that the row is unchanged
    (`stream_services.stream_attempt_record_unlocked`). Read it, never change it."""
    active: bool = field(init=False)
    recognition_options: RecognitionOptions = field(init=False)
    """How the turn due is recognised: its language, the suspects, answers to score."""

    def __post_init__(self) -> None:
        # Read for every audio frame and every turn: worked out once, here.
        object.__setattr__(self, "active", self.status == SessionStatus.ACTIVE)
        options = RecognitionOptions(
            language=self.language, other_languages=self.other_languages, candidates=self.answers
        )
        object.__setattr__(self, "recognition_options", options)


def stream_context_get(*, session: Session, turn_due: Turn | None = None) -> StreamContext:
    """`turn_due`: the session's turn now, when the caller has it (a query less)."""
    scenario = session.scenario
    turn = None
    if session.status == SessionStatus.ACTIVE:
        turn = turn_due or turn_due_get(scenario=scenario, order=session.turn_index)
    rules = scenario_rules_get(scenario=scenario, turn=turn)
    other_languages = session_learner_languages_get(session=session)
    return StreamContext(
        session_id=str(session.pk),
        status=session.status,
        mode=session.mode,
        standing=session_standing(session),
        language=scenario.language,
        turn=turn_payload(turn, session=session),
        answers=tuple(answer.text for answer in turn.answers.all()) if turn else (),
        other_languages=other_languages,
        answer_similarity=rules.answer_similarity,
        event_seq=session.event_seq,
        audio_policy=audio_policy_get(
            target_language=scenario.language,
            rules=rules,
            other_languages=other_languages,
        ),
        session=session if hasattr(session, LEARNER_LANGUAGES) else None,
    )


def stream_events_after(*, session: Session, seq: int) -> list[StoredEvent]:
    """The stored events after `seq`, in order: what a resuming client missed."""
    return [
        event.payload
        for event in SessionEvent.objects.filter(session=session, seq__gt=seq).order_by("seq")
    ]


def stream_session_owner_get(*, learner: Any, session_id: str) -> str:
    """The connection holding the learner's session ("" when none, or no such session)."""
    owner = (
        Session.objects.filter(pk=session_id, learner=learner)
        .values_list("stream_owner", flat=True)
        .first()
    )
    return owner or ""


@dataclass(frozen=True)
class StreamOpening:
    """What opening a stream's session reads: the scenario (as of its version, shared: read
    it, never change it) and the learner's languages as stored (their profile's JSON text;
    None: no profile), for `selectors.session_learner_languages_attach`."""

    scenario: Scenario
    learner_languages: str | None


def stream_opening_get(*, learner: Any, scenario_slug: str) -> StreamOpening | None:
    """The scenario named `scenario_slug` and the learner's languages, in one statement whose
    SQL is made once per process (a learner opens a session every few answers: three
    compiled ORM queries were over half of opening one); None: no such scenario."""
    with prepared_cursor() as cursor:
        cursor.execute(_opening_sql(), [learner.pk, scenario_slug])
        row = cursor.fetchone()
    if row is None:
        return None
    scenario_id, version, named = row
    return StreamOpening(
        scenario=scenario_version_get(scenario_id=scenario_id, version=version),
        learner_languages=named,
    )


@cache
def _opening_sql() -> str:
    quote = connection.ops.quote_name
    scenarios, profiles = quote(Scenario._meta.db_table), quote(LearnerProfile._meta.db_table)
    return (
        f"SELECT c.id, c.updated_at, (SELECT p.other_languages::text FROM {profiles} p "
        f"WHERE p.user_id = %s) FROM {scenarios} c WHERE c.slug = %s"
    )
