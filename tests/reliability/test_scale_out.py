"""Scale-out: app processes share Postgres and Redis, and one session.

Two Daphne processes on two ports (the real ASR server behind both, espeak-ng speech): a
session started on one and resumed on the other keeps one numbering of its events, loses
none, hears of the takeover through the shared channel layer, and keeps its ledger whole.
And the run command's many processes on one port (`PARLEY_WEB_PROCESSES`): connections are
spread over the processes, and a session moves from one to another the same way. Slow (real
servers and recognition), and part of the default run like tests/e2e.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
        SessionEvent.objects.filter(session=session)
        .order_by("seq")
        .values_list("seq", "type", "payload__code")
    )
    heard = [(e["seq"], e["type"]) for e in numbered]
    assert [(seq, kind) for seq, kind, _ in stored[: len(heard)]] == heard
    # A frame the client sent before it heard the final reaches a completed session: that is
    # said once (`session_finished`) and stored, after the client stopped reading.
    late = [(kind, code) for _, kind, code in stored[len(heard) :]]
    assert late in ([], [("error", "session_finished")]), late
    ledger = ScoreEvent.objects.filter(session=session)
    assert session.score == sum(row.score_delta for row in ledger) == 25
    assert session.lives_remaining == sum(row.lives_delta for row in ledger)
    assert Attempt.objects.filter(session=session).count() == 2  # one judged by each process


def server_pid(server_port: int, client_port: int) -> int | None:
    """The process holding the server's end of the loopback connection from client_port."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
        if (local, remote) == (server_port, client_port):
            inode = fields[9]
    if inode is None:
        return None
    wanted = f"socket:[{inode}]"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) == wanted for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:  # a process that ended, or not ours to read
            continue
    return None


@pytest.fixture(scope="module")
def many_processes(live_app_factory) -> str:
    """The run command's setting: two Parley processes on one port."""
    return live_app_factory(PARLEY_WEB_PROCESSES="2")


def test_many_processes_on_one_port_share_the_load_and_a_session(many_processes, token, cafe):
    port = urlsplit(many_processes).port
    assert port is not None

    async def scenario() -> tuple[list[Any], list[Any], Any]:
        clients = [await StreamClient.open(many_processes, token, timeout=60) for _ in range(16)]
        try:
            for client in clients:  # every connection is served: ready from its process
                assert (await client.start(scenario="cafe-scale"))["type"] == "ready"
            by_pid: dict[int, list[StreamClient]] = {}
            for client in clients:
                pid = server_pid(port, client.ws.local_address[1])
                assert pid is not None
                by_pid.setdefault(pid, []).append(client)
            assert len(by_pid) == 2, by_pid  # the kernel spreads connections over both
            first, second = (group[0] for group in by_pid.values())
            for _ in range(2):
                await first.send({"type": "reset"})
                await first.until("reset")
            session = first.events[0]["session"]
            await second.close()  # its own session aside: this connection resumes first's
            first_pid = server_pid(port, first.ws.local_address[1])
            for _ in range(50):  # until a connection lands on the other process (by hash)
                resumed = await StreamClient.open(many_processes, token, timeout=60)
                clients.append(resumed)
                if server_pid(port, resumed.ws.local_address[1]) != first_pid:
                    break
            assert server_pid(port, resumed.ws.local_address[1]) != first_pid
            await resumed.send({"type": "start", "session": session, "last_seq": 1})
            await resumed.until("ready")
            superseded = await first.until("error")
            with pytest.raises(ConnectionClosed):
                await first.next_event()
            return first.events, resumed.events, (superseded, first.ws.close_code)
        finally:
            for client in clients:
                await client.close()

    first, second, (superseded, close_code) = asyncio.run(scenario())

    assert (superseded["code"], close_code) == ("superseded", 4001)
    sent = [e for e in first if e["type"] != "error"]
    assert second[:2] == sent[1:]  # the events after last_seq 1, replayed by the other process
    assert (second[2]["type"], second[2]["resumed"], second[2]["seq"]) == ("ready", True, 4)
    expected = [(e["seq"], e["type"]) for e in [*sent, second[2]]]
    stored: list[tuple[int, str]] = []
    for _ in range(100):  # the resumed `ready` is stored by its process's flush or close
        events = SessionEvent.objects.filter(session_id=sent[0]["session"]).order_by("seq")
        stored = list(events.values_list("seq", "type"))
        if stored == expected:
            break
        time.sleep(0.1)  # a guard of 10 s, not a duration
    assert stored == expected
