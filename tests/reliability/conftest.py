"""Real processes to break: an ASR server, a Redis and Daphne of the suite's own.

Each is started on a free loopback port and may be killed, paused (SIGSTOP), stopped and
started again by a test; the machine's shared Redis and the session's ASR server are never
touched. Everything is stopped at the end, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from interaction.asr.audio import decode_upload
from interaction.asr.wire import READY_MARKER
from tests.live import REPO, ServerProcess, app_env, daphne_command, free_port, port_open


class Restartable(ServerProcess):
    """A server process on a fixed port that a test may kill, pause, stop and start again."""

    def __init__(
        self,
        command: list[str],
        *,
        env: dict[str, str],
        log_path: Path,
        ready: Callable[[], bool],
        what: str,
        timeout: float = 120,
    ) -> None:
        super().__init__(command, env=env, log_path=log_path)
        self.ready, self.what, self.timeout = ready, what, timeout
        self.starts = 0
        self.url = ""  # where clients reach it (ws:// for the ASR, http:// for Daphne)

    def up(self) -> None:
        self.starts += 1
        self.start(self.ready, timeout=self.timeout, what=self.what)

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait; the exit status."""
        assert self.process is not None
        self.process.terminate()
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused process cannot stop
        super().stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="package")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restartable]:
    """A redis-server of the suite's own (never the shared one), without persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("the fault suite needs the redis-server program")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = Restartable(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        env=dict(os.environ),
        log_path=folder / "redis.log",
        ready=lambda: port_open(port),
        what="redis-server",
        timeout=20,
    )
    server.url = f"redis://127.0.0.1:{port}/0"
    server.up()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def own_asr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restartable]:
    """`manage.py run_asr_server` of the suite's own: tests kill and pause it."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("own-asr") / "server.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }

    def ready() -> bool:  # one READY line per start
        text = log_path.read_text(errors="replace") if log_path.is_file() else ""
        return text.count(READY_MARKER) >= server.starts

    server = Restartable(
        [sys.executable, str(REPO / "manage.py"), "run_asr_server", "--port", str(port)],
        env=env,
        log_path=log_path,
        ready=ready,
        what="the ASR server",
    )
    server.url = f"ws://127.0.0.1:{port}"
    server.up()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def app_factory(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Restartable]]:
    """`app_factory(**environment)` → a started Daphne process (`.url`), restartable."""
    from django.conf import settings

    apps: list[Restartable] = []

    def start(**environment: str) -> Restartable:
        port = free_port()
        env = app_env(
            database_name=settings.DATABASES["default"]["NAME"],
            asr_servers=environment.pop("ASR_SERVERS"),
            **environment,
        )
        app = Restartable(
            daphne_command(port),
            env=env,
            log_path=tmp_path_factory.mktemp("daphne") / "daphne.log",
            ready=lambda: port_open(port),
            what="Daphne",
            timeout=60,
        )
        app.url = f"http://127.0.0.1:{port}"
        apps.append(app)
        app.up()
        return app

    try:
        yield start
    finally:
        for app in apps:
            app.stop()


@pytest.fixture(scope="package")
def answer_clips(speech_clip: Callable[..., Path]) -> dict[str, np.ndarray]:
    """espeak-ng answers as float32 16 kHz samples: two correct turns and a long one."""

    def load(text: str, voice: str = "fr") -> np.ndarray:
        return decode_upload(
            speech_clip(text, voice).read_bytes(),
            content_type="audio/wav",
            filename="a.wav",
            max_bytes=10**8,
            max_seconds=60,
        )

    return {
        "turn0": load("Je voudrais un café, s'il vous plaît"),
        "turn1": load("Je voudrais manger sur place"),
        "long": load(
            "Je voudrais un café, s'il vous plaît, et aussi un croissant, "
            "et un grand verre d'eau, merci beaucoup"
        ),
    }


def fault_scenario_data() -> dict[str, Any]:
    return {
        "slug": "cafe-faults",
        "lives": 5,
        "turns": [
            {"prompt": "Bonjour !", "answers": ["Je voudrais un café, s'il vous plaît"]},
            {"prompt": "Sur place ou à emporter ?", "answers": ["Je voudrais manger sur place"]},
        ],
    }


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)
