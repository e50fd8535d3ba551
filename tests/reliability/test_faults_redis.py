"""Redis (the suite's own) stopped mid-session and started again, under a real Daphne.

Before: every live socket closed with 1011 and no event, no socket could open until Redis
came back, and the consumers never ran `disconnect()`. Now the sockets go on (Redis only
carries the takeover signal; the database owner check still guards every session), the
process says so in one log line, and the signal works again once Redis is back.
"""

from __future__ import annotations

import asyncio

import pytest

from interaction.stream_client import StreamClient
from tests.reliability.conftest import fault_scenario_data, wait_for
from tests.reliability.ledger import check_session, learner_token
from tests.reliability.streams import answer_until_verdict, ping

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

CLOSE_SUPERSEDED = 4001


@pytest.fixture(scope="module")
def redis_app(app_factory, own_asr, own_redis):
    return app_factory(ASR_SERVERS=own_asr.url, REDIS_URL=own_redis.url)


@pytest.fixture
def token(make_learner, make_scenario) -> str:
    make_scenario(**fault_scenario_data())
    return learner_token(make_learner, "faults-redis")


def test_sockets_keep_working_while_redis_is_down(redis_app, own_redis, token, answer_clips):
    async def scenario() -> dict[str, list[dict]]:
        sessions: dict[str, list[dict]] = {}
        during = await StreamClient.open(redis_app.url, token, timeout=30)
        ready = await during.start(scenario="cafe-faults")
        assert ready["type"] == "ready", ready
        await answer_until_verdict(during, answer_clips["turn0"])

        own_redis.terminate()  # mid-session
        try:
            await asyncio.sleep(1.0)  # the consumers' receive fails meanwhile
            await ping(during)
            verdict = await answer_until_verdict(during, answer_clips["turn1"])
            assert verdict["type"] in ("final", "penalty", "reset"), verdict

            # A new socket opens and plays.
            opened = await StreamClient.open(redis_app.url, token, timeout=30)
            fresh = await opened.start(scenario="cafe-faults")
            assert fresh["type"] == "ready", fresh
            await asyncio.sleep(1.5)  # its batch stored (see below)
            # A resume takes the session over without the signal: the database decides.
            taker = await StreamClient.open(redis_app.url, token, timeout=30)
            await taker.send(
                {"type": "start", "session": fresh["session"], "last_seq": opened.last_seq}
            )
            resumed = await taker.until("ready", "error")
            assert (resumed["type"], resumed["resumed"]) == ("ready", True), resumed
            await ping(opened)  # the old one is not dropped either
        finally:
            await asyncio.to_thread(own_redis.up)

        # Redis is back: the takeover signal reaches the old connection again.
        first = await StreamClient.open(redis_app.url, token, timeout=30)
        again = await first.start(scenario="cafe-faults")
        # Let its batch be stored first: what a takeover does to unflushed events is the
        # takeover flush's test (tests/interaction), not this one's.
        await asyncio.sleep(1.5)
        second = await StreamClient.open(redis_app.url, token, timeout=30)
        await second.send({"type": "start", "session": again["session"], "last_seq": 1})
        assert (await second.until("ready", "error"))["type"] == "ready"
        superseded = await first.until("error")
        assert superseded["code"] == "superseded"
        await asyncio.wait_for(first.ws.wait_closed(), 10)
        assert first.ws.close_code == CLOSE_SUPERSEDED

        # The connection that joined its group while Redis was away hears takeovers too.
        third = await StreamClient.open(redis_app.url, token, timeout=30)
        await third.send({"type": "start", "session": fresh["session"], "last_seq": 2})
        assert (await third.until("ready", "error"))["type"] == "ready"
        assert (await taker.until("error"))["code"] == "superseded"
        await asyncio.wait_for(taker.ws.wait_closed(), 10)
        assert taker.ws.close_code == CLOSE_SUPERSEDED

        for client in (during, opened, second, third):
            await client.close()
        for client in (during, opened, taker, first, second, third):
            assert client.ws.close_code != 1011, client.ws.close_code
        sessions[ready["session"]] = during.events
        # (the superseded connection's own farewell is not the session's to store)
        sessions[again["session"]] = first.events[:1] + second.events
        sessions[fresh["session"]] = opened.events + taker.events[:-1] + third.events
        return sessions

    sessions = asyncio.run(scenario())
    for session_id, events in sessions.items():
        check_session(session_id, events)
    log = redis_app.log()
    assert log.count("Redis is unreachable") == 1, log[-3000:]
    assert "takeover signals are off" in log
    assert "Redis is back" in log
    assert "Traceback" not in log, log[-3000:]
    wait_for(lambda: own_redis.process.poll() is None, timeout=1, what="Redis is up")
