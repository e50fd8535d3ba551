"""interaction/ws/flusher.py: many streams' events stored in one transaction, nothing lost.

With the real Postgres: the flusher stores every waiting stream's batch together, drops (and
tells) a stream whose session another connection took over, and puts back the batch of a
session whose row another transaction holds, storing it once the row is free.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError, connection

from interaction import stream_services
from interaction.events import Standing, reset_event
from interaction.json_rows import json_rows
from interaction.models import PartialTranscript, Session, SessionEvent
from interaction.stream_services import EncodedEvent, PartialRow, stream_session_open
from interaction.vocabulary import SessionStatus
from interaction.ws.flusher import EventFlusher, Unstored
from tests.reliability.row_lock import session_row_locked

pytestmark = pytest.mark.django_db(transaction=True)

UTTERANCE = "0b6c6a4c-5d0c-4d7e-9d0c-3b0a0e0f0a01"


@pytest.fixture
def sessions(make_learner, scenario) -> dict[str, str]:
    """Three learners' sessions, owned by connections a, b and c."""
    return {
        owner: stream_session_open(
            learner=make_learner(f"learner-{owner}"), scenario_slug=scenario.slug, owner=owner
        ).session_id
        for owner in ("a", "b", "c")
    }


def stream(session_id: str, owner: str, seqs: range) -> Unstored:
    unstored = Unstored(owner=owner, interval_s=60)
    unstored.session_id = session_id
    for seq in seqs:
        event = reset_event(
            seq=seq, standing=Standing(session=session_id), reason="asked", utterance=None
        )
        partial = PartialRow(0, UTTERANCE, seq, "je", 0.5, 40.0, 500, 20)
        unstored.add(EncodedEvent(seq, "reset", json.dumps(event)), partial)
    return unstored


@database_sync_to_async
def stored(session_id: str) -> tuple[list[dict[str, Any]], int, int]:
    events = list(SessionEvent.objects.filter(session_id=session_id).order_by("seq"))
    return (
        [event.payload for event in events],
        Session.objects.get(pk=session_id).event_seq,
        PartialTranscript.objects.filter(session_id=session_id).count(),
    )


async def test_every_waiting_stream_is_stored_in_one_round_and_a_taken_over_one_is_told(
    sessions,
) -> None:
    flusher = EventFlusher.shared(60)
    a = stream(sessions["a"], "a", range(2, 5))
    b = stream(sessions["b"], "b", range(2, 4))
    old_b = stream(sessions["b"], "b-before-the-takeover", range(4, 6))
    sent = list(a.events)
    await flusher.flush()

    events, last, partials = await stored(sessions["a"])
    assert [event["seq"] for event in events] == [2, 3, 4]
    assert events == [json.loads(event.text) for event in sent]  # stored as sent
    assert (last, partials) == (4, 3)
    events, last, _ = await stored(sessions["b"])
    assert ([event["seq"] for event in events], last) == ([2, 3], 3)
    assert (old_b.superseded, a.superseded, b.superseded) == (True, False, False)
    assert (a.events, b.events, old_b.events) == ([], [], [])  # nothing waits any more


async def test_a_locked_session_waits_for_the_next_round_and_loses_nothing(sessions) -> None:
    flusher = EventFlusher.shared(60)
    a = stream(sessions["a"], "a", range(2, 4))
    c = stream(sessions["c"], "c", range(2, 3))
    with session_row_locked(sessions["a"]):  # an answer being recorded holds the row
        await flusher.flush()
        assert (await stored(sessions["a"]))[0] == []
        assert [event["seq"] for event in (await stored(sessions["c"]))[0]] == [2]
    assert [event.seq for event in a.events] == [2, 3]  # put back, waiting again
    a.add(EncodedEvent(4, "reset", a.events[-1].text.replace('"seq": 3', '"seq": 4')))
    await flusher.flush()
    events, last, partials = await stored(sessions["a"])
    assert ([event["seq"] for event in events], last, partials) == ([2, 3, 4], 4, 2)
    assert c.events == []


async def test_a_failed_store_puts_every_batch_back_for_the_next_round(
    sessions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database fails once (a lost connection): nothing is stored, every stream keeps
    its events, and the next round stores them all, once."""
    real = stream_services.stream_events_store_many
    calls: list[int] = []

    def fails_once(**kwargs: Any) -> Any:
        calls.append(len(kwargs["batches"]))
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(stream_services, "stream_events_store_many", fails_once)
    flusher = EventFlusher.shared(60)
    a = stream(sessions["a"], "a", range(2, 4))
    c = stream(sessions["c"], "c", range(2, 5))
    await flusher.flush()
    assert ((await stored(sessions["a"]))[0], [e.seq for e in a.events]) == ([], [2, 3])
    assert [e.seq for e in c.events] == [2, 3, 4]
    await flusher.flush()
    assert calls == [2, 2]
    assert [event["seq"] for event in (await stored(sessions["a"]))[0]] == [2, 3]
    assert [event["seq"] for event in (await stored(sessions["c"]))[0]] == [2, 3, 4]
    assert (a.events, c.events) == ([], [])


def _plan_rows(node: dict[str, Any], table: str) -> int:
    """Rows the plan read from `table`: returned by its scans, or read and filtered out."""
    own = (
        node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
        if node.get("Relation Name") == table
        else 0
    )
    return own + sum(_plan_rows(child, table) for child in node.get("Plans", ()))


def test_a_store_reads_only_its_own_sessions_rows(sessions) -> None:
    """The rows come as a JSON recordset, which the planner takes for 100 rows; joined to
    the sessions as they are, every session was scanned to move `event_seq` (a store a
    second, per process, growing with every session ever played)."""
    template = Session.objects.get(pk=sessions["c"])
    fields = {
        f.attname: getattr(template, f.attname)
        for f in Session._meta.concrete_fields
        if not f.primary_key
    } | {"status": SessionStatus.ABANDONED, "stream_owner": ""}
    Session.objects.bulk_create(Session(pk=uuid.uuid4(), **fields) for _ in range(3000))
    session_id = sessions["a"]
    events = [(session_id, seq, "reset", json.dumps({"seq": seq})) for seq in (2, 3)]
    partial = PartialRow(0, UTTERANCE, 3, "je", 0.5, 40.0, 500, 20)
    partials = [(session_id, *stream_services._partial_values(partial))]
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Session._meta.db_table}")
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + stream_services._STORE,
            [
                json_rows(stream_services.EVENT_COLUMNS, events),
                json_rows(stream_services.PARTIAL_COLUMNS, partials),
            ],
        )
        (plan,) = cursor.fetchone()[0]
    assert _plan_rows(plan["Plan"], Session._meta.db_table) <= 1
    assert Session.objects.get(pk=session_id).event_seq == 3  # and it did its work
