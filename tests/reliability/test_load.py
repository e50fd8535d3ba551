"""A bounded load test: 32 concurrent streams on one real Daphne process.

The ASR is the scripted WhisperLive peer (tests/asr/whisperlive_peer.py) speaking the real
protocol on loopback: the real server cannot take 32 concurrent utterances on two cores
(docs/reliability.md, ASR admission), and this test is about the socket, the outbox and the
ledger under load, not about recognition. Every session's stored events must be exactly the
events its client received (none missing, none twice, numbered 1..N) and its ledger must
be what those events applied.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from interaction.stream_client import StreamClient
from tests.asr.whisperlive_peer import Script, evidence_payload, final_message, threaded_peer
from tests.reliability.conftest import fault_scenario_data
from tests.reliability.ledger import check_session, learner_token
from tests.reliability.streams import ping

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

STREAMS = 32
ANSWERS = 2
CAFE = "Je voudrais un café, s'il vous plaît"


def voice(seconds: float) -> np.ndarray:
    """A voiced-looking clip (a 220 Hz tone) as float32 16 kHz samples."""
    t = np.arange(int(seconds * 16_000)) / 16_000
    return (0.3 * np.sin(2 * math.pi * 220 * t)).astype(np.float32)


def peer_script() -> Script:
    return Script(
        segments=lambda received: (
            [{"text": "Je voudrais", "start": "0.0", "end": f"{received / 64_000:.1f}"}]
            if received > 16_000
            else None
        ),
        evidence=lambda received: evidence_payload(CAFE, answers={CAFE: -0.1}),
        final=final_message(CAFE, answers={CAFE: -0.1}),
    )


@pytest.fixture(scope="module")
def load_app(app_factory, own_redis):
    with threaded_peer(peer_script()) as peer:
        yield app_factory(ASR_SERVERS=peer.url, REDIS_URL=own_redis.url)


def test_concurrent_streams_store_every_event_once(load_app, make_learner, make_scenario) -> None:
    make_scenario(**fault_scenario_data())
    tokens = [learner_token(make_learner, f"load-{index}") for index in range(STREAMS)]
    clip = voice(1.2)

    async def one(token: str) -> tuple[str, list[dict]]:
        client = await StreamClient.open(load_app.url, token, timeout=60)
        try:
            ready = await client.start(scenario="cafe-faults")
            assert ready["type"] == "ready", ready
            for _ in range(ANSWERS):
                events, _ = await client.answer(clip)
                assert events[-1]["type"] in ("final", "penalty", "reset"), events[-1]
            await ping(client)  # read what came after the last verdict
            return ready["session"], client.events
        finally:
            await client.close()

    async def all_of_them() -> list[tuple[str, list[dict]]]:
        return await asyncio.gather(*(one(token) for token in tokens))

    results = asyncio.run(all_of_them())
    assert len({session for session, _ in results}) == STREAMS
    total = 0
    for session, events in results:
        stored = check_session(session, events)
        # What the client read is a prefix of what was stored (anything sent after it closed
        # is stored, never sent twice).
        received = [e["seq"] for e in events if e.get("seq")]
        assert received == [e.seq for e in stored][: len(received)]
        total += len(stored)
    assert total >= STREAMS * (1 + ANSWERS)
    assert "Traceback" not in load_app.log()
    print(f"\n{STREAMS} streams, {total} events stored, each once")  # the measurement
