"""config/server.py and config/workers.py: how many processes the run command starts.

(The processes themselves, serving one port together, are tested with real servers in
tests/reliability/test_scale_out.py.)"""

from __future__ import annotations

import os
import socket

import pytest

from config.server import split_processes
from config.workers import listening_sockets, process_count


def test_one_process_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_WEB_PROCESSES", raising=False)
    assert split_processes(["-b", "127.0.0.1", "-p", "8000", "config.asgi:application"]) == (
        1,
        "127.0.0.1",
        8000,
        ["config.asgi:application"],
    )


def test_the_setting_or_the_option_asks_for_more(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_WEB_PROCESSES", "3")
    assert split_processes(["-p", "8000", "--proxy-headers", "app"])[::3] == (
        3,
        ["--proxy-headers", "app"],
    )
    assert split_processes(["--processes", "2", "-p", "8000", "app"])[0] == 2  # option wins


@pytest.mark.parametrize(
    ("value", "count"),
    [(None, 1), ("", 1), ("1", 1), ("4", 4), ("auto", len(os.sched_getaffinity(0)))],
)
def test_process_count(value: str | None, count: int) -> None:
    assert process_count(value) == count


def test_a_count_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        process_count("-2")


def test_the_sockets_share_one_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sockets = listening_sockets("127.0.0.1", port, 2)
    try:
        assert {sock.getsockname() for sock in sockets} == {("127.0.0.1", port)}
        assert all(sock.get_inheritable() for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()
