"""A small played data set whose every figure is computed by hand in test_analytics.py.

Scenario cafe-test (tests/conftest.py): 2 turns, 3 lives, each penalty costs 1 life.
Times are set after recording so the times to answer are exact (seconds after 10:00 UTC):

ana (time-stop, 01-01): turn 1 correct @10 (conf 0.9); turn 2 correct @30 → completed
bo (time-stop, 01-01): turn 1 correct @5; turn 2 incorrect @15, correct @20 (0.4) → completed
cy (time-stop, 01-01): turn 1 incorrect @8, correct @12; turn 2 wrong language @22,
    incorrect @40 (disputed) → failed at turn 2
dee (time-stop, 01-01): turn 1 no speech @4, unclear @10 (0.3), correct @16 → active
eve (streaming, 01-02): turn 1 correct @6 (0.8, auto-finalised) → active
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from interaction.models import Attempt, Session
from interaction.services import Answer, answer_from_text, attempt_record, session_start
from interaction.vocabulary import Mode, Outcome, Source
from telemetry.access import analysts_group_get
from telemetry.models import Dispute

RIGHT = ["Un café, s'il vous plaît", "Sur place, s'il vous plaît"]
WRONG = "Je voudrais une bière bien fraîche"
ENGLISH = "I would like to take it away please"
DAY_ONE = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def spoken(text: str, confidence: float, *, auto: bool = False) -> Answer:
    return Answer(
        source=Source.AUDIO,
        transcript=text,
        confidence=confidence,
        language_probabilities={"fr": 0.95, "en": 0.05},
        auto_finalised=auto,
    )


@dataclass
class Played:
    scenario: Any
    sessions: dict[str, Session]
    disputed: Attempt


def _play(
    learner: Any,
    scenario: Any,
    steps: list[tuple[float, Any]],
    *,
    start: datetime,
    mode: Mode = Mode.TIME_STOP,
) -> Session:
    session = session_start(learner=learner, scenario=scenario, mode=mode)
    Session.objects.filter(pk=session.pk).update(started_at=start)
    for seconds, answer in steps:
        if answer == "unclear":  # the fair judge's "say it again": stored, no ledger row
            attempt = Attempt.objects.create(
                session=session,
                turn=scenario.turns.get(order=session.turn_index),
                turn_index=session.turn_index,
                source=Source.AUDIO,
                transcript="euh",
                confidence=0.3,
                outcome=Outcome.UNCLEAR,
            )
        else:
            if isinstance(answer, str):
                answer = answer_from_text(text=answer)
            attempt = attempt_record(session=session, answer=answer).attempt
            session.refresh_from_db()
        Attempt.objects.filter(pk=attempt.pk).update(created_at=start + timedelta(seconds=seconds))
    session.refresh_from_db()
    return session


@pytest.fixture
def played(make_learner, scenario) -> Played:
    silent = Answer(source=Source.AUDIO, transcript="", no_speech=True)
    sessions = {
        "ana": _play(
            make_learner("ana"),
            scenario,
            [(10, spoken(RIGHT[0], 0.9)), (30, RIGHT[1])],
            start=DAY_ONE,
        ),
        "bo": _play(
            make_learner("bo"),
            scenario,
            [(5, RIGHT[0]), (15, WRONG), (20, spoken(RIGHT[1], 0.4))],
            start=DAY_ONE,
        ),
        "cy": _play(
            make_learner("cy"),
            scenario,
            [(8, WRONG), (12, RIGHT[0]), (22, ENGLISH), (40, WRONG)],
            start=DAY_ONE,
        ),
        "dee": _play(
            make_learner("dee"),
            scenario,
            [(4, silent), (10, "unclear"), (16, RIGHT[0])],
            start=DAY_ONE,
        ),
        "eve": _play(
            make_learner("eve"),
            scenario,
            [(6, spoken(RIGHT[0], 0.8, auto=True))],
            start=DAY_ONE + timedelta(days=1),
            mode=Mode.STREAMING,
        ),
    }
    disputed = sessions["cy"].attempts.order_by("created_at").last()
    assert disputed is not None
    Dispute.objects.create(attempt=disputed, learner=sessions["cy"].learner, comment="fair")
    return Played(scenario=scenario, sessions=sessions, disputed=disputed)


@pytest.fixture
def analyst(db: None) -> Any:
    user = get_user_model().objects.create_user("analyst", password="pw-Parley-123")
    user.groups.add(analysts_group_get())  # a transactional test's flush drops migrated rows
    return user


@pytest.fixture
def analyst_client(analyst: Any) -> Client:
    client = Client()
    client.force_login(analyst)
    return client
