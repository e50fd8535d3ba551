"""Scale-out: two app processes on two ports share Postgres and Redis, and one session.

Two Daphne processes (the real ASR server behind both, espeak-ng speech): a session started
on one and resumed on the other keeps one numbering of its events, loses none, hears of
the takeover through the shared channel layer, and keeps its ledger whole. Slow (two
servers and real recognition), and part of the default run like tests/e2e.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from rest_framework.authtoken.models import Token
from websockets.exceptions import ConnectionClosed

from interaction.asr.audio import decode_upload
from interaction.models import Attempt, ScoreEvent, Session, SessionEvent
from interaction.stream_client import StreamClient
from tests.e2e.test_streaming import FRENCH

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def two_apps(live_app_factory) -> tuple[str, str]:
    """Two Parley processes, each its own port, the same database, Redis and ASR pool."""
    return live_app_factory(), live_app_factory()


@pytest.fixture
def cafe(make_scenario):
    return make_scenario(
        slug="cafe-scale",
        turns=[
            {"prompt": "Bonjour !", "answers": [FRENCH["turn0"][0]], "reward": 15},
            {"prompt": "Sur place ou à emporter ?", "answers": [FRENCH["turn1"][0]]},
        ],
    )


@pytest.fixture
def clips(speech_clip) -> dict[str, np.ndarray]:
    def load(text: str, voice: str) -> np.ndarray:
        return decode_upload(
            speech_clip(text, voice).read_bytes(),
            content_type="audio/wav",
            filename="a.wav",
            max_bytes=10**8,
            max_seconds=60,
        )

    return {name: load(*FRENCH[name]) for name in ("turn0", "turn1")}


@pytest.fixture
def token(learner) -> str:
    return Token.objects.create(user=learner).key


def test_a_session_resumed_on_the_other_process_continues(two_apps, token, cafe, clips):
    first_app, second_app = two_apps

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
        on_first = await StreamClient.open(first_app, token, timeout=60)
        on_second = await StreamClient.open(second_app, token, timeout=60)
        try:
            ready = await on_first.start(scenario="cafe-scale")
            assert ready["type"] == "ready", ready
            await on_first.answer(clips["turn0"])
            seen = on_first.events[:1]  # as if everything after `ready` had been lost
            # The first connection is still open: the second process takes the session over.
            await on_second.send(
                {"type": "start", "session": ready["session"], "last_seq": seen[-1]["seq"]}
            )
            await on_second.until("ready")
            superseded = await on_first.until("error")
            with pytest.raises(ConnectionClosed):
                await on_first.next_event()
            await on_second.answer(clips["turn1"])
            return on_first.events, on_second.events, (superseded, on_first.ws.close_code)
        finally:
            await on_first.close()
            await on_second.close()

    first, second, (superseded, close_code) = asyncio.run(scenario())

    assert (superseded["code"], close_code) == ("superseded", 4001)
    stored_on_first = [e for e in first if e["type"] != "error"]
    replayed = second[: len(stored_on_first) - 1]
    assert replayed == stored_on_first[1:]  # every event after last_seq, once, in order
    resumed = second[len(replayed)]
    assert (resumed["type"], resumed["resumed"]) == ("ready", True)
    numbered = [*stored_on_first, *second[len(replayed) :]]
    assert [e["seq"] for e in numbered] == list(range(1, len(numbered) + 1))
    assert second[-1]["type"] == "final", second[-1]
    assert second[-1]["status"] == "completed", second[-1]

    session = Session.objects.get()
    stored = list(
        SessionEvent.objects.filter(session=session).order_by("seq").values("seq", "type")
    )
    assert stored == [{"seq": e["seq"], "type": e["type"]} for e in numbered]
    ledger = ScoreEvent.objects.filter(session=session)
    assert session.score == sum(row.score_delta for row in ledger) == 25
    assert session.lives_remaining == sum(row.lives_delta for row in ledger)
    assert Attempt.objects.filter(session=session).count() == 2  # one judged by each process
