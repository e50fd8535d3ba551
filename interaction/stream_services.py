"""Database side of streaming: attach a connection to a session, store its events, record.

Synchronous (the socket calls them through `interaction.ws.db.db_call`: a thread pool, one
transaction per call, bounded lock waits; the release and an answer written without the
lock, one statement each, through `db_statement`, in autocommit). A stream connection
*owns* its session while attached (`Session.stream_owner`): every write checks ownership,
under the session's row lock or in the statement that writes the row, so after a resume
elsewhere the old connection can no longer write.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import transaction

from interaction.events import StoredEvent
from interaction.json_rows import json_rows, json_rows_sql
from interaction.ledger_rows import AlsoWritten, SessionSeen, attempt_rows_insert
from interaction.models import PartialTranscript, Session, SessionEvent
from interaction.prepared import prepared_cursor
from interaction.presenters import attempt_events
from interaction.selectors import LEARNER_LANGUAGES, session_learner_languages_attach
from interaction.services import (
    STANDING_FIELDS,
    Answer,
    ScenarioNotPlayable,
    attempt_counted,
    attempt_plan,
    session_lock,
    session_start,
)
from interaction.stream_selectors import (
    StreamContext,
    stream_context_get,
    stream_events_after,
    stream_opening_get,
)
from interaction.vocabulary import Mode, SessionStatus


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
    """Start a streaming session owned by connection `owner`.

    Its rows are one statement (`session_start`), after reads that need no lock: the socket
    runs it in autocommit (`ws.db.db_statement`), where a transaction's `BEGIN` and `COMMIT`
    were two round trips more on every session."""
    opening = stream_opening_get(learner=learner, scenario_slug=scenario_slug)
    if opening is None:
        raise StreamRefused("unknown_scenario", f"No scenario {scenario_slug!r}.")
    try:
        session = session_start(
            learner=learner, scenario=opening.scenario, mode=Mode.STREAMING, stream_owner=owner
        )
    except ScenarioNotPlayable as refused:
        raise StreamRefused("streaming_unavailable", str(refused), fallback=True) from refused
    session_learner_languages_attach(session=session, named=opening.learner_languages)
    return stream_context_get(session=session)


@transaction.atomic(savepoint=False)
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


def _lock_owned(session_id: str, owner: str) -> None:
    """Lock the session's row until the transaction ends; it must still be `owner`'s.

    Reads the owner alone (no model, no joins): it runs before every store and record."""
    owners = (
        Session.objects.select_for_update(of=("self",))
        .filter(pk=session_id)
        .values_list("stream_owner", flat=True)
    )
    if list(owners) != [owner]:
        raise StreamSuperseded(f"Session {session_id} was resumed by another connection.")


class EncodedEvent(NamedTuple):
    """An event as it was sent: its seq, type and JSON text (stored as sent, not re-encoded)."""

    seq: int
    type: str
    text: str


def encoded(event: StoredEvent) -> EncodedEvent:
    return EncodedEvent(event["seq"], event["type"], json.dumps(event))


@dataclass(frozen=True)
class EventBatch:
    """One session's events and partial transcripts waiting to be stored."""

    session_id: str
    owner: str
    events: Sequence[EncodedEvent]
    partials: Sequence[PartialRow] = ()


def _insert(batches: Sequence[EventBatch]) -> None:
    """Every batch's events and partials, and each session's `event_seq` moved up to its
    highest event stored: one statement, whatever the count, the rows passed as two JSON
    parameters (interaction.json_rows).

    A batch put back after a store whose outcome was lost may be stored twice: the
    (session, seq) pair is unique, so the second copy of an event is skipped, not an error;
    `event_seq` never moves back."""
    if any(b.events or b.partials for b in batches):
        with prepared_cursor() as cursor:
            cursor.execute(_STORE, _rows_params(batches))


EVENT_COLUMNS = (("session_id", "uuid"), ("seq", "int"), ("type", "text"), ("payload", "text"))
"""A stored event's columns and SQL types; the payload is the JSON text as sent."""

PARTIAL_COLUMNS = (
    ("session_id", "uuid"),
    ("turn_index", "smallint"),
    ("utterance", "uuid"),
    ("seq", "int"),
    ("transcript", "text"),
    ("confidence", "float8"),
    ("similarity", "float8"),
    ("audio_ms", "int"),
    ("latency_ms", "int"),
)
"""A stored partial's columns and SQL types: the session's, then PartialRow's in order."""


_PARTIAL_NAMES = ", ".join(name for name, _ in PARTIAL_COLUMNS)


def _rows_ctes(gate: str) -> str:
    """CTEs storing events (`e`, then `stored`) and partials (`heard`) from the two JSON
    parameters, if `gate` (SQL) holds; an event already stored is skipped."""
    return (
        f"e AS (SELECT * FROM {json_rows_sql(EVENT_COLUMNS)}), "
        f"stored AS (INSERT INTO {SessionEvent._meta.db_table} "
        "(session_id, seq, type, payload, created_at) "
        f"SELECT session_id, seq, type, payload::jsonb, now() FROM e WHERE {gate} "
        "ON CONFLICT (session_id, seq) DO NOTHING), "
        f"heard AS (INSERT INTO {PartialTranscript._meta.db_table} ({_PARTIAL_NAMES}, created_at) "
        f"SELECT {_PARTIAL_NAMES}, now() FROM {json_rows_sql(PARTIAL_COLUMNS, alias='p')} "
        f"WHERE {gate})"
    )


_STORE = (
    f"WITH {_rows_ctes('true')} "
    f"UPDATE {Session._meta.db_table} AS s SET event_seq = t.q "
    "FROM (SELECT session_id, max(seq) AS q FROM e GROUP BY session_id) AS t "
    # The planner takes a JSON recordset for 100 rows, and joined to it as it is, it read
    # every session ever played; an array of the ids is an index lookup.
    "WHERE s.id = ANY(ARRAY(SELECT session_id FROM e)) AND s.id = t.session_id "
    "AND s.event_seq < t.q"
)
"""Events, partials and the sessions' `event_seq` tops: one round trip for a whole flush
(the data-modifying CTEs run whether or not the update reads them)."""


def _stored_with_attempt(
    session_id: str, events: Sequence[EncodedEvent], partials: Sequence[PartialRow]
) -> AlsoWritten:
    """An answer's events and the partials pending, written by the attempt's own statement
    (`attempt_rows_insert`) if it writes the session's row."""
    return AlsoWritten(
        event_seq=max(event.seq for event in events),
        ctes=f", {_rows_ctes('EXISTS (SELECT 1 FROM s)')}",
        params=_rows_params([EventBatch(session_id, "", events, partials)]),
    )


def _rows_params(batches: Sequence[EventBatch]) -> list[str]:
    events = [(b.session_id, e.seq, e.type, e.text) for b in batches for e in b.events]
    partials = [(b.session_id, *_partial_values(p)) for b in batches for p in b.partials]
    return [json_rows(EVENT_COLUMNS, events), json_rows(PARTIAL_COLUMNS, partials)]


def _partial_values(partial: PartialRow) -> tuple[Any, ...]:
    return tuple(getattr(partial, name) for name, _ in PARTIAL_COLUMNS[1:])


@transaction.atomic(savepoint=False)
def stream_events_store(
    *,
    session_id: str,
    owner: str,
    events: Sequence[EncodedEvent],
    partials: Sequence[PartialRow] = (),
) -> None:
    """Store events already sent (and partial transcripts) in one batch."""
    _lock_owned(session_id, owner)
    _insert([EventBatch(session_id, owner, events, partials)])


@dataclass(frozen=True)
class StoreOutcome:
    """The batches of a many-session store that were not stored: those of connections whose
    session another connection has taken over (`superseded_owners`), and of sessions locked
    by a transaction under way (`busy`, session ids)."""

    superseded_owners: frozenset[str]
    busy: frozenset[str]


@transaction.atomic(savepoint=False)
def stream_events_store_many(*, batches: Sequence[EventBatch]) -> StoreOutcome:
    """Store many sessions' batches in one transaction, a few statements in all.

    Only batches whose session their connection still owns are stored; sessions whose row
    another transaction holds (an answer being recorded) are skipped rather than waited
    for (`busy`: store them again later)."""
    ids = sorted({batch.session_id for batch in batches})
    locked = (
        Session.objects.select_for_update(skip_locked=True)
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "stream_owner")
    )
    owners = {str(key): owner for key, owner in locked}
    stored = [b for b in batches if owners.get(b.session_id) == b.owner]
    superseded = {b.owner for b in batches if owners.get(b.session_id, b.owner) != b.owner}
    _insert(stored)
    return StoreOutcome(
        superseded_owners=frozenset(superseded),
        busy=frozenset(set(ids) - set(owners)),
    )


class StreamedAnswer(NamedTuple):
    """A streamed answer to record: its utterance, whether it was auto-finalised, and the
    events before it: its own are numbered from `next_seq`, after the events and partials
    pending, which are stored with them."""

    answer: Answer
    utterance: str
    auto: bool
    next_seq: int
    pending_events: Sequence[EncodedEvent] = ()
    pending_partials: Sequence[PartialRow] = ()


@transaction.atomic(savepoint=False)
def stream_attempt_record(
    *, session_id: str, owner: str, streamed: StreamedAnswer
) -> tuple[list[StoredEvent], StreamContext]:
    """Record a streamed answer as `attempt_record` does (one lock: the session's row, read
    with what judging needs, and its owner checked) and store the events it produces.

    The events are stored in the attempt's own statement, so a client can never see a score
    the database does not have, and a resume always replays them.
    """
    locked = session_lock(session_id=session_id)
    if locked.stream_owner != owner:
        raise StreamSuperseded(f"Session {session_id} was resumed by another connection.")
    recorded = _recorded(locked, streamed, seen=None)
    assert recorded is not None  # the row is locked: as it was read
    return recorded


def stream_attempt_record_unlocked(
    *, known: Session, owner: str, streamed: StreamedAnswer
) -> tuple[list[StoredEvent], StreamContext] | None:
    """`stream_attempt_record` without the session's lock, in autocommit: the answer is
    judged from `known` (the session as the connection's last record or opening left it,
    `StreamContext.session`) and its rows and events are written by one statement, only
    if the session's row is still as `known` says (`ledger_rows.SessionSeen`). The lock's
    transaction takes four round trips; this takes one.

    None: the row is not (another answer was recorded, the session was taken over or
    ended, the scenario edited, the learner's languages changed): nothing was written;
    record the answer under the lock."""
    seen = _seen(known, owner=owner)
    if seen is None:
        return None
    # Judging gives the copy its new standing; `known` stays as it was read.
    return _recorded(copy.copy(known), streamed, seen=seen)


def _seen(known: Session, *, owner: str) -> SessionSeen | None:
    """What `known` says of the session's row; None: not enough to write without the lock
    (an ended session, or one read without its learner's languages)."""
    if known.status != SessionStatus.ACTIVE or not hasattr(known, LEARNER_LANGUAGES):
        return None
    named = getattr(known, LEARNER_LANGUAGES)
    return SessionSeen(
        owner=owner,
        updated_at=known.updated_at,
        status=known.status,
        scenario_version=known.scenario.updated_at,
        learner_languages=None if named is None else json.dumps(named),
    )


def _recorded(
    session: Session, streamed: StreamedAnswer, *, seen: SessionSeen | None
) -> tuple[list[StoredEvent], StreamContext] | None:
    """Judge and write the answer on `session` (the rows, the events, what was pending);
    None if `seen` no longer holds."""
    planned = attempt_plan(session=session, answer=streamed.answer)
    result = planned.result
    events = attempt_events(
        result, next_seq=streamed.next_seq, utterance=streamed.utterance, auto=streamed.auto
    )
    sent = [*streamed.pending_events, *map(encoded, events)]
    if not attempt_rows_insert(
        attempt=result.attempt,
        ledger=planned.ledger,
        session=session,
        session_fields=STANDING_FIELDS,
        seen=seen,
        also=_stored_with_attempt(str(session.pk), sent, streamed.pending_partials),
    ):
        return None
    transaction.on_commit(lambda: attempt_counted(result))  # at once in autocommit
    session.event_seq = max([session.event_seq, *(e.seq for e in sent)])
    return events, stream_context_get(session=session, turn_due=result.next_turn)


def stream_session_release(*, session_id: str, owner: str) -> None:
    """Let go of the session when the connection closes (if still its owner). Every
    connection runs it once: one statement (atomic by itself: the socket runs it without a
    transaction, `ws.db.db_statement`), fixed SQL, prepared (measured alone, 0.27-0.37 ms
    of CPU a call with its transaction, against 0.59-0.64 ms as a compiled ORM update)."""
    with prepared_cursor() as cursor:
        cursor.execute(_RELEASE, [session_id, owner])


_RELEASE = (
    f"UPDATE {Session._meta.db_table} SET stream_owner = '' WHERE id = %s AND stream_owner = %s"
)
