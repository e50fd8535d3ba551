"""config/event_loop.py: the app server runs on the loop PARLEY_EVENT_LOOP names, uvloop by
default, and the run command's server really does (a real process, serving a request)."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator

import pytest
import uvloop

from config.event_loop import event_loop_choice, event_loop_install
from tests.live import ServerProcess, app_env, daphne_command, free_port, port_open


@pytest.fixture
def policy_restored() -> Iterator[None]:
    yield
    asyncio.set_event_loop_policy(None)


@pytest.mark.parametrize(
    ("value", "choice"),
    [(None, "uvloop"), ("", "uvloop"), (" UVLoop ", "uvloop"), ("asyncio", "asyncio")],
)
def test_the_choice(monkeypatch: pytest.MonkeyPatch, value: str | None, choice: str) -> None:
    if value is None:
        monkeypatch.delenv("PARLEY_EVENT_LOOP", raising=False)
    else:
        monkeypatch.setenv("PARLEY_EVENT_LOOP", value)
    assert event_loop_choice() == choice


def test_a_loop_it_does_not_know_is_refused_with_the_choices(monkeypatch) -> None:
    monkeypatch.setenv("PARLEY_EVENT_LOOP", "trio")
    with pytest.raises(SystemExit, match="choose one of uvloop, asyncio"):
        event_loop_choice()


def test_uvloop_makes_the_new_loops(monkeypatch, policy_restored) -> None:
    monkeypatch.delenv("PARLEY_EVENT_LOOP", raising=False)
    assert event_loop_install() == "uvloop"
    loop = asyncio.new_event_loop()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_asyncio_leaves_the_standard_loop(monkeypatch, policy_restored) -> None:
    monkeypatch.setenv("PARLEY_EVENT_LOOP", "asyncio")
    assert event_loop_install() == "asyncio"
    loop = asyncio.new_event_loop()
    try:
        assert not isinstance(loop, uvloop.Loop)
        assert isinstance(loop, asyncio.SelectorEventLoop)
    finally:
        loop.close()


@pytest.mark.parametrize(
    ("setting", "loop"), [({}, "uvloop"), ({"PARLEY_EVENT_LOOP": "asyncio"}, "asyncio")]
)
def test_the_run_commands_server_serves_on_the_chosen_loop(
    tmp_path, setting: dict[str, str], loop: str
) -> None:
    from django.conf import settings

    port = free_port()
    log = tmp_path / "server.log"
    env = app_env(
        database_name=settings.DATABASES["default"]["NAME"], asr_servers="ws://127.0.0.1:9"
    )
    env.pop("PARLEY_EVENT_LOOP", None)
    server = ServerProcess(daphne_command(port), env={**env, **setting}, log_path=log)
    server.start(lambda: port_open(port), timeout=60, what="Parley's server")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema/", timeout=10) as reply:
            assert reply.status == 200
    finally:
        server.stop()
    assert f"serving on the {loop} event loop" in log.read_text()
