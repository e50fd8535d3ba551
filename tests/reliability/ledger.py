"""What the fault suite checks after every fault: the stored events and the ledger agree with
what the client was sent, once each."""

from __future__ import annotations

import time
from typing import Any

from rest_framework.authtoken.models import Token

from interaction.models import ScoreEvent, Session, SessionEvent


def learner_token(make_learner: Any, username: str) -> str:
    return Token.objects.create(user=make_learner(username)).key


def numbered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The session's numbered events a client received (errors before a session have seq 0)."""
    return [event for event in events if event.get("seq", 0) > 0]


def check_session(session_id: str, received: list[dict[str, Any]]) -> list[SessionEvent]:
    """Every event the client received is stored, once, as it was sent; the stored events are
    numbered 1..N with no gap; the ledger (ScoreEvent) is what the events applied, and the
    session's score and lives are the ledger's."""
    session = Session.objects.get(pk=session_id)
    wanted = {event["seq"] for event in numbered(received)}
    deadline = time.monotonic() + 5  # the server stores the last batch as the socket closes
    while True:
        stored = list(SessionEvent.objects.filter(session=session).order_by("seq"))
        if wanted <= {event.seq for event in stored} or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    session.refresh_from_db()
    by_seq = {event.seq: event for event in stored}
    seqs = [(event.seq, event.type) for event in stored]
    assert [seq for seq, _ in seqs] == list(range(1, len(stored) + 1)), f"a gap in seq: {seqs}"
    for event in numbered(received):
        assert event["session"] == session_id
        assert event["seq"] in by_seq, f"sent but never stored: {event['type']} {event['seq']}"
        assert by_seq[event["seq"]].payload == event, f"stored differently: seq {event['seq']}"
    ledger = list(ScoreEvent.objects.filter(session=session).order_by("id"))
    assert ledger[0].reason == ScoreEvent.Reason.SESSION_START  # lives_delta: the lives given
    applied = [
        (event.payload["scoreDelta"], event.payload["livesDelta"])
        for event in stored
        if event.payload["scoreDelta"] or event.payload["livesDelta"]
    ]
    assert [
        (row.score_delta, row.lives_delta)
        for row in ledger[1:]
        if row.score_delta or row.lives_delta
    ] == applied
    assert session.score == sum(row.score_delta for row in ledger)
    assert session.lives_remaining == sum(row.lives_delta for row in ledger)
    if ledger:
        assert (ledger[-1].score_after, ledger[-1].lives_after) == (
            session.score,
            session.lives_remaining,
        )
    return stored
