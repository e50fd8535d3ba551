"""Real server processes for end-to-end tests: started once, always stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class ServerProcess:
    """A subprocess with its output in a log file, ready when `ready()` says so."""

    def __init__(self, command: list[str], *, env: dict[str, str], log_path: Path) -> None:
        self.command, self.env, self.log_path = command, env, log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{what} exited with {self.process.returncode}:\n{tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{what} not ready within {timeout:g} s:\n{tail(self.log_path)}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def daphne_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "config.server",  # Parley's Daphne (the README's run command)
        "-b",
        "127.0.0.1",
        "-p",
        str(port),
        "config.asgi:application",
    ]


def app_env(*, database_name: str, asr_servers: str, **extra: str) -> dict[str, str]:
    """The environment of an app process that shares the test database and ASR pool."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    url = (
        f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 5432}/{database_name}"
    )
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": url,
        "ASR_SERVERS": asr_servers,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
