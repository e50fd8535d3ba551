"""The score ledger is append-only and always sums to the session's score and lives."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.utils import DatabaseError
from django.test.utils import CaptureQueriesContext

from interaction.models import ScoreEvent, Session
from interaction.selectors import LEARNER_LANGUAGES, session_ledger_totals
from interaction.services import (
    Answer,
    answer_from_text,
    attempt_record,
    session_lock,
    session_start,
)
from interaction.stream_services import stream_session_open
from interaction.vocabulary import Source
from interaction.ws.db import _bounded_statement


@pytest.mark.django_db
def test_postgres_refuses_updates_and_deletes(learner, scenario) -> None:
    session = session_start(learner=learner, scenario=scenario)
    row = ScoreEvent.objects.get(session=session)
    refused = pytest.raises((IntegrityError, InternalError, DatabaseError), match="append-only")
    with refused, transaction.atomic():
        ScoreEvent.objects.filter(pk=row.pk).update(score_delta=100)
    refused = pytest.raises((IntegrityError, InternalError, DatabaseError), match="append-only")
    with refused, transaction.atomic():
        ScoreEvent.objects.filter(pk=row.pk).delete()
    row.refresh_from_db()
    assert row.score_delta == 0


@pytest.mark.django_db
def test_every_change_has_its_row_and_no_speech_has_none(learner, make_scenario) -> None:
    scenario = make_scenario(difficulty="hard", penalties={"incorrect_answer": {"points": 3}})
    session = session_start(learner=learner, scenario=scenario)
    answers = [
        answer_from_text(text="Un café, s'il vous plaît"),
        Answer(source=Source.AUDIO, transcript="", no_speech=True),
        answer_from_text(text="Je voudrais une bière bien fraîche"),
        answer_from_text(text="I would like to take it away please"),
    ]
    for item in answers:
        attempt_record(session=session, answer=item)
        session.refresh_from_db()
        assert session_ledger_totals(session=session) == (session.score, session.lives_remaining)
    reasons = list(ScoreEvent.objects.filter(session=session).values_list("reason", flat=True))
    assert reasons == ["session_start", "correct", "incorrect_answer", "wrong_language"]
    assert session.attempts.count() == 4
    assert (session.score, session.lives_remaining, session.status) == (12, 0, "failed")


@pytest.mark.django_db
def test_the_lock_reads_the_session_as_the_orm_does(learner, scenario) -> None:
    """services.session_lock builds the row's model itself (`Model.from_db`, no RawQuerySet):
    right only while no field of Session needs a converter from the database."""
    assert not [f.name for f in Session._meta.concrete_fields if f.get_db_converters(connection)]
    started = session_start(learner=learner, scenario=scenario)
    with transaction.atomic():
        locked = session_lock(session_id=started.pk)
    orm = Session.objects.get(pk=started.pk)
    names = [field.attname for field in Session._meta.concrete_fields]
    assert [getattr(locked, n) for n in names] == [getattr(orm, n) for n in names]
    assert locked.scenario == scenario
    assert getattr(locked, LEARNER_LANGUAGES) is None  # no profile: the defaults apply


@pytest.mark.django_db(transaction=True)
def test_a_streamed_session_opens_in_two_statements_without_a_transaction(learner, scenario):
    """The opening read, then its rows in one statement, in autocommit (as the socket runs
    it, `ws.db.db_statement`): a transaction around them was two round trips more."""
    opening = {"learner": learner, "scenario_slug": scenario.slug, "owner": "a"}
    _bounded_statement(stream_session_open, opening)  # what a process reads once, read
    with CaptureQueriesContext(connection) as run:
        context = _bounded_statement(stream_session_open, opening)
    statements = [str(query["sql"]) for query in run.captured_queries]
    assert len(statements) == 2, statements  # no BEGIN, no SAVEPOINT, no COMMIT
    session = Session.objects.get(pk=context.session_id)
    assert session_ledger_totals(session=session) == (0, session.lives_total)
