"""Daphne restarted mid-session, and 50 disconnect/resume cycles, against real processes.

Before: SIGTERM dropped every socket with 1006 and the consumers never ran `disconnect()`,
so events sent but not yet stored (they are stored in batches) were lost. Now the sockets
close with 1001 after their consumer stored what it had sent, and a resume with `last_seq`
after the restart loses no event.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from interaction.models import SessionEvent
from interaction.stream_client import StreamClient
from tests.reliability.conftest import fault_scenario_data
from tests.reliability.ledger import check_session, learner_token, numbered
from tests.reliability.streams import answer_until_verdict, ping

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

GOING_AWAY, GOING_AWAY_DAPHNE = 1001, 4503  # config.shutdown
CYCLES = 50


@pytest.fixture(scope="module")
def process_app(app_factory, own_asr, own_redis):
    return app_factory(ASR_SERVERS=own_asr.url, REDIS_URL=own_redis.url)


@pytest.fixture
def token(make_learner, make_scenario) -> str:
    make_scenario(**fault_scenario_data())
    return learner_token(make_learner, "faults-process")


def test_a_daphne_restart_closes_with_1001_and_the_resume_loses_nothing(
    process_app, token, answer_clips
) -> None:
    async def scenario() -> tuple[str, list[dict], int | None, int]:
        client = await StreamClient.open(process_app.url, token, timeout=30)
        ready = await client.start(scenario="cafe-faults")
        await answer_until_verdict(client, answer_clips["turn0"])
        # No pause: events sent a moment ago may not be stored yet when SIGTERM comes.
        await ping(client)
        status = await asyncio.to_thread(process_app.terminate)
        await asyncio.wait_for(client.ws.wait_closed(), 10)
        close_code = client.ws.close_code
        before = list(client.events)

        await asyncio.to_thread(process_app.up)
        resumed = await StreamClient.open(process_app.url, token, timeout=30)
        await resumed.send(
            {"type": "start", "session": ready["session"], "last_seq": client.last_seq}
        )
        again = await resumed.until("ready", "error")
        assert (again["type"], again["resumed"]) == ("ready", True), again
        assert again["seq"] == client.last_seq + 1  # nothing replayed: nothing was missed
        verdict = await answer_until_verdict(resumed, answer_clips["turn1"])
        assert verdict["type"] in ("final", "penalty", "reset"), verdict
        await ping(resumed)  # read what came after the verdict
        await resumed.close()
        return ready["session"], before + resumed.events, close_code, status

    session, events, close_code, status = asyncio.run(scenario())
    assert close_code in (GOING_AWAY, GOING_AWAY_DAPHNE), close_code
    assert status == 0
    stored = check_session(session, events)
    received = [event["seq"] for event in numbered(events)]
    assert received == [event.seq for event in stored][: len(received)]  # in order, none lost
    assert "Traceback" not in process_app.log()


async def stored_up_to(session: str, seq: int, wait_s: float = 5.0) -> None:
    def stored() -> bool:
        return SessionEvent.objects.filter(session_id=session, seq=seq).exists()

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(stored):
            return
        await asyncio.sleep(0.05)


def test_fifty_disconnect_resume_cycles_lose_and_double_nothing(process_app, token) -> None:
    """Each cycle resumes with the last seq seen; some close the socket, some drop it without
    a close frame. (Resuming while the previous connection is still open, the takeover, and
    what it does to that connection's unflushed events is the takeover flush's test.)"""
    rng = random.Random(10)

    async def scenario() -> tuple[str, list[dict]]:
        first = await StreamClient.open(process_app.url, token, timeout=15)
        ready = await first.start(scenario="cafe-faults")
        session = ready["session"]
        seen: dict[int, dict] = {ready["seq"]: ready}
        previous = first
        for cycle in range(CYCLES):
            how = rng.choice(["close", "abort"])
            if how == "close":
                await previous.close()
            elif how == "abort":
                previous.ws.transport.abort()  # the network went: no close frame
            # The resume comes once the old connection stored what it sent: a resume racing
            # that last batch is the takeover flush's case (its own test), not this one.
            await stored_up_to(session, max(seen))
            client = await StreamClient.open(process_app.url, token, timeout=15)
            await client.send({"type": "start", "session": session, "last_seq": max(seen)})
            event = await client.until("ready", "error")
            assert event["type"] == "ready", (cycle, how, event)
            for replayed in numbered(client.events):
                assert replayed["seq"] not in seen or seen[replayed["seq"]] == replayed
                seen[replayed["seq"]] = replayed
            previous = client
        await ping(previous)
        await previous.close()
        return session, list(seen.values())

    session, events = asyncio.run(scenario())
    stored = check_session(session, events)
    assert sorted(e["seq"] for e in events) == [e.seq for e in stored]
    assert [e.type for e in stored].count("ready") == CYCLES + 1
