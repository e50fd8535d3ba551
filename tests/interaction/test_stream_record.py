"""A streamed answer is written by one statement, without the session's lock, when the
session's row is as the connection last left it; under the lock otherwise
(interaction/stream_services.py, `stream_attempt_record_unlocked`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from interaction import stream_services
from interaction.models import Attempt, ScoreEvent, Session, SessionEvent
from interaction.selectors import session_ledger_totals
from interaction.services import (
    answer_from_text,
    attempt_record,
    learner_languages_set,
)
from interaction.stream_selectors import StreamContext, stream_context_get
from interaction.stream_services import (
    StreamedAnswer,
    stream_attempt_record,
    stream_attempt_record_unlocked,
    stream_session_open,
)
from interaction.vocabulary import SessionStatus
from interaction.ws.db import _bounded_statement
from interaction.ws.outbox import Outbox

CORRECT = "Un café, s'il vous plaît"
WRONG = "Une pizza"


def _open(learner: Any, scenario: Any, owner: str = "a") -> StreamContext:
    return stream_session_open(learner=learner, scenario_slug=scenario.slug, owner=owner)


def _answer(context: StreamContext, text: str, *, owner: str = "a", locked: bool = False) -> Any:
    """Record `text` after `context` through one path; (events, context) or None."""
    streamed = StreamedAnswer(answer_from_text(text=text), "u", False, context.event_seq + 1)
    if locked:
        return stream_attempt_record(session_id=context.session_id, owner=owner, streamed=streamed)
    assert context.session is not None
    return stream_attempt_record_unlocked(known=context.session, owner=owner, streamed=streamed)


def _rows(session_id: str) -> tuple[int, int, int, tuple[int, int, int, str, int]]:
    """Attempts, ledger rows and events stored, and the session's row as it stands."""
    row = Session.objects.values_list(
        "score", "lives_remaining", "turn_index", "status", "event_seq"
    ).get(pk=session_id)
    return (
        Attempt.objects.filter(session_id=session_id).count(),
        ScoreEvent.objects.filter(session_id=session_id).count(),
        SessionEvent.objects.filter(session_id=session_id).count(),
        row,
    )


@pytest.mark.django_db(transaction=True)
def test_an_answer_is_one_statement_in_autocommit_when_the_row_is_as_left(
    learner, scenario
) -> None:
    # Read once per process (the turns) and set once per connection (the bounds): done here.
    _bounded_statement(_answer, {"context": _open(learner, scenario), "text": CORRECT})
    context = _open(learner, scenario)
    with CaptureQueriesContext(connection) as run:
        events, context = _bounded_statement(_answer, {"context": context, "text": CORRECT})
    statements = [str(query["sql"]) for query in run.captured_queries]
    assert len(statements) == 1, statements  # no BEGIN, no lock, no COMMIT
    assert [event["type"] for event in events] == ["final"]
    session = Session.objects.get(pk=context.session_id)
    assert (session.score, session.turn_index) == (context.standing.score, 1)
    assert session.event_seq == events[-1]["seq"] == context.event_seq
    assert session_ledger_totals(session=session) == (session.score, session.lives_remaining)
    stored = SessionEvent.objects.get(session=session, seq=events[-1]["seq"])
    assert stored.payload == json.loads(json.dumps(events[-1]))


@pytest.mark.django_db
def test_both_paths_write_the_same_rows_and_events(learner, make_scenario) -> None:
    """Wrong, wrong (the answer revealed), correct, then wrong: the game is over."""
    scenario = make_scenario(reveal_after=2, lives=3)
    texts = [WRONG, WRONG, CORRECT, WRONG]

    def play(locked: bool) -> tuple[list[dict[str, Any]], Any]:
        context, said = _open(learner, scenario, owner="a"), []
        for text in texts:
            events, context = _answer(context, text, locked=locked)
            said += [_without_ids(event) for event in events]
        return said, _rows(context.session_id)

    unlocked, locked = play(locked=False), play(locked=True)
    assert unlocked == locked
    said, (attempts, ledger, _, (_, lives, _, status, _)) = unlocked
    assert [event["type"] for event in said] == [
        "penalty",
        "penalty",
        "final",
        "penalty",
        "final",
    ]
    assert "answer" not in said[0]["penalty"]
    assert said[1]["penalty"]["answer"]
    assert (attempts, ledger, lives, status) == (4, 5, 0, "failed")  # session_start's row too


def _without_ids(event: Any) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != "session"}


def _another_answer(context: StreamContext, learner: Any, scenario: Any) -> None:
    attempt_record(
        session=Session.objects.get(pk=context.session_id), answer=answer_from_text(text=WRONG)
    )


def _taken_over(context: StreamContext, learner: Any, scenario: Any) -> None:
    Session.objects.filter(pk=context.session_id).update(stream_owner="b")


def _abandoned(context: StreamContext, learner: Any, scenario: Any) -> None:
    """As `session_abandon_stale` writes it: the status, not `updated_at`."""
    Session.objects.filter(pk=context.session_id).update(status=SessionStatus.ABANDONED)


def _scenario_edited(context: StreamContext, learner: Any, scenario: Any) -> None:
    scenario.save()  # a designer's edit: a new version


def _languages_changed(context: StreamContext, learner: Any, scenario: Any) -> None:
    learner_languages_set(learner=learner, other_languages=["de"])


CHANGES: dict[str, Callable[[StreamContext, Any, Any], None]] = {
    "another answer": _another_answer,
    "taken over": _taken_over,
    "abandoned": _abandoned,
    "scenario edited": _scenario_edited,
    "learner's languages": _languages_changed,
}


@pytest.mark.django_db
@pytest.mark.parametrize("change", CHANGES)
def test_nothing_is_written_without_the_lock_once_the_row_changed(
    learner, scenario, change
) -> None:
    context = _open(learner, scenario)
    _, context = _answer(context, WRONG)
    CHANGES[change](context, learner, scenario)
    before = _rows(context.session_id)
    assert _answer(context, CORRECT) is None
    assert _rows(context.session_id) == before


@pytest.mark.django_db
def test_after_another_answer_the_lock_judges_from_the_row_as_it_is(learner, scenario) -> None:
    context = _open(learner, scenario)
    _, context = _answer(context, WRONG)  # one life lost here
    _another_answer(context, learner, scenario)  # and one by the time-stop path
    assert _answer(context, CORRECT) is None
    events, after = _answer(context, CORRECT, locked=True)
    session = Session.objects.get(pk=context.session_id)
    assert events[-1]["lives_remaining"] == session.lives_remaining == session.lives_total - 2
    assert session_ledger_totals(session=session) == (session.score, session.lives_remaining)
    # The context the lock returns carries the row as now written: unlocked again from here.
    assert after.session is not None
    assert _answer(after, WRONG) is not None


@pytest.mark.django_db
def test_a_session_read_without_the_learners_languages_is_recorded_under_the_lock(
    learner, scenario
) -> None:
    """A resume reads the session with the ORM: its context holds no row to write from."""
    opened = _open(learner, scenario)
    context = stream_context_get(session=Session.objects.get(pk=opened.session_id))
    assert context.session is None


class Socket:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, *, text_data: str) -> None:
        self.sent.append(json.loads(text_data))


@pytest.mark.django_db(transaction=True)
async def test_the_outbox_records_under_the_lock_only_once_the_row_changed(
    learner, scenario, monkeypatch
) -> None:
    locked: list[str] = []
    under_lock = stream_services.stream_attempt_record

    def counted(**record: Any) -> Any:
        locked.append(record["session_id"])
        return under_lock(**record)

    monkeypatch.setattr(stream_services, "stream_attempt_record", counted)
    socket = Socket()
    outbox = Outbox(send=socket.send, owner="a", flush_interval_s=60)
    outbox.attach(await database_sync_to_async(_open)(learner, scenario))
    await outbox.record(answer=answer_from_text(text=WRONG), utterance=str(uuid4()), auto=False)
    assert locked == []  # as the opening left it: one statement, no lock
    assert outbox.context is not None
    await database_sync_to_async(_another_answer)(outbox.context, learner, scenario)
    await outbox.record(answer=answer_from_text(text=CORRECT), utterance=str(uuid4()), auto=False)
    assert locked == [outbox.session_id]
    session = await database_sync_to_async(Session.objects.get)(pk=outbox.session_id)
    assert [event["type"] for event in socket.sent] == ["penalty", "final"]
    final = socket.sent[-1]
    assert (final["score"], final["lives_remaining"]) == (session.score, session.lives_remaining)
    assert session.lives_remaining == session.lives_total - 2  # both wrong answers counted
