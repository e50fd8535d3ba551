"""`manage.py abandon_stale_sessions`: sessions untouched for a while become abandoned."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from interaction.models import ScoreEvent, Session, SessionEvent
from interaction.services import answer_from_text, attempt_record, session_start

pytestmark = pytest.mark.django_db


def _age(session: Session, hours: float) -> None:
    Session.objects.filter(pk=session.pk).update(updated_at=timezone.now() - timedelta(hours=hours))


def test_stale_active_sessions_are_abandoned_with_their_ledger_untouched(learner, scenario) -> None:
    stale = session_start(learner=learner, scenario=scenario)
    attempt_record(session=stale, answer=answer_from_text(text="Un café, s'il vous plaît"))
    fresh = session_start(learner=learner, scenario=scenario)
    streamed = session_start(learner=learner, scenario=scenario)  # its stream is still busy
    SessionEvent.objects.create(session=streamed, seq=1, type="partial", payload={})
    finished = session_start(learner=learner, scenario=scenario)
    for text in ("Un café, s'il vous plaît", "Sur place, s'il vous plaît"):
        attempt_record(session=finished, answer=answer_from_text(text=text))
    for session in (stale, streamed, finished):
        _age(session, 30)
    ledger = list(ScoreEvent.objects.values_list("pk", "score_delta", "lives_delta"))

    out = StringIO()
    call_command("abandon_stale_sessions", "--older-than", "24h", stdout=out)

    assert out.getvalue().strip() == "1 session abandoned."
    statuses = dict(Session.objects.values_list("pk", "status"))
    assert statuses[stale.pk] == "abandoned"
    assert statuses[fresh.pk] == statuses[streamed.pk] == "active"
    assert statuses[finished.pk] == "completed"
    stale.refresh_from_db()
    assert (stale.score, stale.ended_at is not None) == (15, True)
    assert list(ScoreEvent.objects.values_list("pk", "score_delta", "lives_delta")) == ledger


def test_the_default_comes_from_the_settings(learner, scenario, settings) -> None:
    settings.SESSION_ABANDON_AFTER_S = 3600
    session = session_start(learner=learner, scenario=scenario)
    _age(session, 2)
    call_command("abandon_stale_sessions", stdout=StringIO())
    session.refresh_from_db()
    assert session.status == "abandoned"


@pytest.mark.parametrize("value", ["soon", "-5m", "0"])
def test_a_bad_duration_is_refused(value: str) -> None:
    with pytest.raises(CommandError, match="older-than"):
        call_command("abandon_stale_sessions", "--older-than", value, stdout=StringIO())
