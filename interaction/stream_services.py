"""Database side of streaming: attach a connection to a session, store its events, record.

Synchronous (the socket calls them through `interaction.ws.db.db_call`: a thread pool, one
transaction per call, bounded lock waits). A stream connection *owns* its session
while attached (`Session.stream_owner`): every write checks ownership under the session's
row lock, so after a resume elsewhere the old connection can no longer write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.db import transaction

from interaction.events import StoredEvent
from interaction.models import PartialTranscript, Session, SessionEvent
from interaction.presenters import attempt_events
from interaction.services import Answer, ScenarioNotPlayable, attempt_record, session_start
from interaction.stream_selectors import StreamContext, stream_context_get, stream_events_after
from interaction.vocabulary import Mode
from scenarios.models import Scenario


class StreamSuperseded(Exception):
    """Another connection resumed this session; this one may no longer write."""


class StreamRefused(Exception):
    """A start or resume that cannot be served; `code` names the reason for the error event."""

    def __init__(self, code: str, message: str, *, fallback: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.fallback = fallback


@dataclass(frozen=True)
class PartialRow:
    """One partial transcript as stored; confidence and similarity 0..1, times in ms."""

    turn_index: int
    utterance: str
    seq: int
    transcript: str
    confidence: float
    similarity: float | None
    audio_ms: int
    latency_ms: int


def stream_session_open(*, learner: Any, scenario_slug: str, owner: str) -> StreamContext:
    """Start a streaming session owned by connection `owner`."""
    scenario = Scenario.objects.filter(slug=scenario_slug).first()
    if scenario is None:
        raise StreamRefused("unknown_scenario", f"No scenario {scenario_slug!r}.")
    try:
        with transaction.atomic():
            session = session_start(learner=learner, scenario=scenario, mode=Mode.STREAMING)
            session.stream_owner = owner
            session.save(update_fields=["stream_owner"])
    except ScenarioNotPlayable as refused:
        raise StreamRefused("streaming_unavailable", str(refused), fallback=True) from refused
    return stream_context_get(session=session)


@transaction.atomic
def stream_session_resume(
    *, learner: Any, session_id: str, last_seq: int, owner: str
) -> tuple[StreamContext, list[StoredEvent]]:
    """Take over `session_id` for connection `owner`; return it and the events after last_seq.

    last_seq must lie between 0 and the session's own last stored seq (the connection that
    held the session stores what it sent before it hands over): a larger one is refused,
    never stored, so a client cannot push the numbering out of range.
    """
    session = (
        Session.objects.select_for_update(of=("self",))
        .select_related("scenario")
        .filter(pk=session_id, learner=learner)
        .first()
    )
    if session is None:
        raise StreamRefused("unknown_session", "No such session for this learner.")
    if last_seq > session.event_seq:
        raise StreamRefused(
            "bad_last_seq",
            f"last_seq {last_seq} is past this session's last event ({session.event_seq}); "
            f"resume with last_seq between 0 and {session.event_seq}.",
        )
    missed = stream_events_after(session=session, seq=last_seq)
    session.stream_owner = owner
    session.save(update_fields=["stream_owner"])
    return stream_context_get(session=session), missed


def _locked_for(session_id: str, owner: str) -> Session:
    session = (
        Session.objects.select_for_update(of=("self",))
        .select_related("scenario")
        .get(pk=session_id)
    )
    if session.stream_owner != owner:
        raise StreamSuperseded(f"Session {session_id} was resumed by another connection.")
    return session


def _store(session: Session, events: Sequence[StoredEvent], partials: Sequence[PartialRow]) -> None:
    if events:
        # A batch put back after a store whose outcome was lost may be stored twice: the
        # (session, seq) pair is unique, so the second copy is skipped, not an error.
        SessionEvent.objects.bulk_create(
            (
                SessionEvent(session=session, seq=event["seq"], type=event["type"], payload=event)
                for event in events
            ),
            ignore_conflicts=True,
        )
        session.event_seq = max(session.event_seq, max(event["seq"] for event in events))
        Session.objects.filter(pk=session.pk).update(event_seq=session.event_seq)
    if partials:
        PartialTranscript.objects.bulk_create(
            PartialTranscript(session=session, **asdict(row)) for row in partials
        )


@transaction.atomic
def stream_events_store(
    *,
    session_id: str,
    owner: str,
    events: Sequence[StoredEvent],
    partials: Sequence[PartialRow] = (),
) -> None:
    """Store events already sent (and partial transcripts) in one batch."""
    _store(_locked_for(session_id, owner), events, partials)


@transaction.atomic
def stream_attempt_record(
    *,
    session_id: str,
    owner: str,
    answer: Answer,
    utterance: str,
    auto: bool,
    next_seq: int,
    pending_events: Sequence[StoredEvent] = (),
    pending_partials: Sequence[PartialRow] = (),
) -> tuple[list[StoredEvent], StreamContext]:
    """Record a streamed answer through `attempt_record` and store the events it produces.

    The events (numbered from next_seq) are stored in the attempt's transaction, so a client
    can never see a score the database does not have, and a resume always replays them.
    """
    session = _locked_for(session_id, owner)
    _store(session, pending_events, pending_partials)
    result = attempt_record(session=session, answer=answer)
    events = attempt_events(result, next_seq=next_seq, utterance=utterance, auto=auto)
    _store(result.session, events, ())
    return events, stream_context_get(session=result.session)


@transaction.atomic
def stream_session_release(*, session_id: str, owner: str) -> None:
    """Let go of the session when the connection closes (if still its owner)."""
    Session.objects.filter(pk=session_id, stream_owner=owner).update(stream_owner="")
