"""One streamed answer's walk through the house, counted in calls (docs/architecture.md).

A profiler records every call into the project's own code (not tests, not libraries) from
the answer's first audio frame to its verdict, on the event loop and on the socket's
database threads. A coroutine resumed is not a new call: a call counts once, when made.

**A call** of the walk is one hand-over between rooms: a distinct (calling function,
called function) pair whose modules differ, made while the answer walks. Calls inside a
room are its own business; the same hand-over made twice counts once. Counted:
- the whole walk (`MAX_CALLS`): the socket's rooms, then the recording path both modes
  share (stream_services → services → judge, scoring, selectors, presenters);
- the socket's part (`MAX_SOCKET_CALLS`): calls made by `interaction/ws/`, the streamed
  answer's own rooms;
- calls up: from a room into a room that (directly or not) called it — none: results are
  posted to the turn's inbox, not called back.
`pytest -s` prints every call of the walk and the room-to-room edges.
"""

from __future__ import annotations

import asyncio
import dis
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from interaction import services
from interaction.judge_model import judge_model
from interaction.ws import db
from telemetry.recorder import _write_sql as recorder_write_sql
from tests.interaction.scripted_asr import Script
from tests.interaction.test_consumer import (
    CAFE,
    connect,
    evaluated,
    final,
    hypothesis,
    provider,  # noqa: F401  (a fixture)
    receive_until,
    silence,
    start,
    token,  # noqa: F401  (a fixture)
    tone,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "interaction", "scenarios", "telemetry")
# Before the turn machine (8738832): 55 calls, 37 by the socket, 5 up; at the turn machine's
# merge (28aa5c4): 58, 34, 0; with the walk cut: 52, 28, 0; with the process's event store
# (capacity: events handed to `Unstored`, turns read once per version): 56, 30, 0; with the
# turn's two I/O adapters (the relay and the outbox carry out its commands and post back,
# the pauses read the evidence, the relay keeps its utterances' tasks): 47, 20, 0; with the
# recording in one lock and one write (capacity, round 2: the lock, the attempt's rows, the
# scenario's version, the learner's languages with the lock): 50, 20, 0; measured alone
# (the statements a process builds once now built before the walk, whatever ran before it)
# 51; with the stored rows as one JSON parameter (capacity, round 4: `interaction.json_rows`,
# from the event insert and the telemetry write): 53, 20, 0; with the answer's statements
# prepared (capacity, round 5: `interaction.prepared`, from the lock, the attempt's rows, the
# store and the telemetry write): 57, 20, 0; with the socket's own dispatch loop (capacity,
# round 7: `interaction.ws.dispatching` awaits the client's messages and hands each to the
# consumer, calls Channels' loop made before): 59, 22, 0 (docs/architecture.md).
MAX_CALLS = 59
MAX_SOCKET_CALLS = 22
# interaction.ws.db runs functions handed in
EXECUTORS = frozenset({"_bounded_transaction", "_bounded_statement"})


def room(frame: FrameType) -> str | None:
    """The project module a frame runs in ('interaction.ws.session'), None outside it."""
    path = Path(frame.f_code.co_filename)
    if not path.is_relative_to(ROOT) or path.parts[len(ROOT.parts)] not in APPS:
        return None
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


RESUME = dis.opmap["RESUME"]


def resumed(frame: FrameType) -> bool:
    """A coroutine or generator resumed (not called): the profiler reports it as a call, but
    the call was made once, when it started (perhaps before the walk)."""
    code = frame.f_code.co_code
    at = frame.f_lasti
    return 0 <= at < len(code) - 1 and code[at] == RESUME and code[at + 1] != 0


class Walk:
    def __init__(self) -> None:
        self.functions: set[tuple[str, str]] = set()
        self.edges: set[tuple[str, str]] = set()
        self.crossings: set[tuple[str, str]] = set()  # (caller, callee) functions, two rooms

    def profile(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call" or (callee := room(frame)) is None or resumed(frame):
            return
        self.functions.add((callee, frame.f_code.co_qualname))
        caller = room(frame.f_back) if frame.f_back is not None else None
        if frame.f_back is not None and frame.f_back.f_code.co_name in EXECUTORS:
            caller = None  # an executor runs what it was handed, as the event loop does
        if caller is not None and caller != callee:
            self.edges.add((caller, callee))
            assert frame.f_back is not None
            calling = f"{caller}.{frame.f_back.f_code.co_qualname}"
            self.crossings.add((calling, f"{callee}.{frame.f_code.co_qualname}"))

    def callbacks_up(self) -> set[tuple[str, str]]:
        """Calls from a room into a room that (directly or not) calls it: cycles."""
        return {(a, b) for a, b in self.edges if a in self.reachable(b)}

    def reachable(self, start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            room = todo.pop()
            for a, b in self.edges:
                if a == room and b not in seen:
                    seen.add(b)
                    todo.append(b)
        return seen


@pytest.fixture
def walk(monkeypatch: pytest.MonkeyPatch) -> Iterator[Walk]:
    recorder = Walk()
    monkeypatch.setattr(db, "_executor", db._executor)  # put back after the test
    yield recorder
    sys.setprofile(None)
    threading.setprofile(None)


def start_walk(recorder: Walk) -> None:
    # A server has answered before: the statements it builds once per process are built
    # (the walk is the same whichever tests ran first in this process).
    services._session_lock_sql()
    recorder_write_sql()
    judge_model()  # the shipped judge, read once per process (a cached call is not seen)
    db._executor = None  # fresh DB threads, started (and profiled) from here on
    threading.setprofile(recorder.profile)
    sys.setprofile(recorder.profile)


def stop_walk() -> None:
    sys.setprofile(None)
    threading.setprofile(None)


async def test_one_streamed_answer_is_a_short_walk_one_way(provider, token, scenario, walk):  # noqa: F811
    provider(
        Script(
            partials=[(0.5, hypothesis("Je voudrais", 0.5))],
            final=final(CAFE),
            evaluations=[evaluated(CAFE)],
        )
    )
    communicator = await connect(token)
    await start(communicator)
    await asyncio.sleep(0.2)  # the start's own work (the session's group) is done
    start_walk(walk)
    for block in [tone(0.1)] * 10 + [silence(0.1)] * 3:
        await communicator.send_to(bytes_data=block)
    events = await receive_until(communicator, "final")
    stop_walk()
    assert events[-1]["outcome"] == "correct"
    await communicator.disconnect()

    rooms = {module for module, _ in walk.functions}
    socket = {(a, b) for a, b in walk.crossings if a.startswith("interaction.ws.")}
    print(
        f"\nwalk: {len(walk.functions)} functions in {len(rooms)} modules; "
        f"{len(walk.crossings)} calls between rooms, {len(socket)} of them by the socket's "
        f"rooms; {len(walk.edges)} room-to-room edges; {len(walk.callbacks_up())} calls up"
    )
    for caller, callee in sorted(walk.crossings):
        print(f"  {caller} -> {callee}")
    for caller, callee in sorted(walk.edges):
        print(f"  room {caller} -> {callee}")
    assert not walk.callbacks_up(), walk.callbacks_up()
    assert len(walk.crossings) <= MAX_CALLS, sorted(walk.crossings)
    assert len(socket) <= MAX_SOCKET_CALLS, sorted(socket)
