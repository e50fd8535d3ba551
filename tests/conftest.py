"""Shared fixtures: learners, API clients and scenarios written through the real services."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import OperationalError
from django.test import TransactionTestCase
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from interaction.asr.wire import READY_MARKER
from scenarios.models import Scenario
from scenarios.services import scenario_upsert
from scenarios.specs import spec_from_mapping
from tests.live import ServerProcess, app_env, daphne_command, free_port, port_open
from tests.speech import reversed_speech, silence, speak


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Each test starts with no throttle counts: this run's cache prefix is emptied."""
    _clear_cache_prefix()
    yield
    _clear_cache_prefix()


def _flush_retrying_deadlocks(self: TransactionTestCase) -> None:
    """TransactionTestCase's flush, tried again when it deadlocked with a server process.

    The Daphne processes of the e2e tests finish a socket's work (its last events, its
    telemetry) after the client has gone, sometimes while pytest-django truncates every table
    between tests; Postgres then cancels one of the two, and when it cancels the TRUNCATE the
    next test would start on a dirty database. The server's transaction commits; the flush
    is then tried again."""
    for attempt in range(5):
        try:
            _django_fixture_teardown(self)
            return
        except CommandError as failed:
            deadlocked = isinstance(failed.__cause__, OperationalError) and (
                "deadlock detected" in str(failed.__cause__)
            )
            if not deadlocked or attempt == 4:
                raise
            time.sleep(0.2)


# A private hook of Django's (the stubs leave it out): the one place every flush goes through.
_django_fixture_teardown = TransactionTestCase._fixture_teardown  # type: ignore[attr-defined]
TransactionTestCase._fixture_teardown = _flush_retrying_deadlocks  # type: ignore[attr-defined]


def _clear_cache_prefix() -> None:
    from django.conf import settings

    prefix = settings.CACHES["default"].get("KEY_PREFIX")
    if not prefix:
        return
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def scenario_data(**overrides: Any) -> dict[str, Any]:
    """A valid scenario mapping (file format), with `overrides` applied."""
    data: dict[str, Any] = {
        "slug": "cafe-test",
        "title": "Order a coffee (test)",
        "language": "fr",
        "difficulty": "normal",
        "lives": 3,
        "reward": 10,
        "typed_answers": True,
        "turns": [
            {
                "prompt": "Bonjour ! Qu'est-ce que je vous sers ?",
                "answers": ["Je voudrais un café, s'il vous plaît", "Un café, s'il vous plaît"],
                "hint": "Ask for a coffee.",
                "reward": 15,
            },
            {
                "prompt": "Sur place ou à emporter ?",
                "answers": ["Sur place, s'il vous plaît", "À emporter, s'il vous plaît"],
            },
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture
def make_scenario(db: None) -> Callable[..., Scenario]:
    def make(**overrides: Any) -> Scenario:
        return scenario_upsert(spec=spec_from_mapping(scenario_data(**overrides)))

    return make


@pytest.fixture
def scenario(make_scenario: Callable[..., Scenario]) -> Scenario:
    return make_scenario()


@pytest.fixture
def make_learner(db: None) -> Callable[[str], Any]:
    def make(username: str = "learner") -> Any:
        return get_user_model().objects.create_user(username=username, password="pw-Parley-123")

    return make


@pytest.fixture
def learner(make_learner: Callable[[str], Any]) -> Any:
    return make_learner("learner")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def learner_client(learner: Any) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=learner)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


# --- Real servers and real speech, started once per test session --------------------------

REPO = Path(__file__).resolve().parents[1]
SERVER_START_TIMEOUT_S = 120


@pytest.fixture(scope="session")
def asr_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`manage.py run_asr_server` on a free loopback port, for the whole session; its ws URL."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("asr-server") / "server.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.test"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, str(REPO / "manage.py"), "run_asr_server", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while READY_MARKER not in log_path.read_text(errors="replace"):
            if process.poll() is not None:
                pytest.fail(f"The ASR server exited with {process.returncode}:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(
                    f"The ASR server was not ready within {SERVER_START_TIMEOUT_S} s:\n"
                    f"{_tail(log_path)}"
                )
            time.sleep(0.1)
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def speech_clip(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`speech_clip(text, voice, speed=150)` → a cached 16 kHz mono WAV of espeak-ng speech."""
    cache = tmp_path_factory.mktemp("speech")

    def make(text: str, voice: str = "en", *, speed: int = 150) -> Path:
        key = hashlib.sha256(f"{voice}|{speed}|{text}".encode()).hexdigest()[:16]
        return speak(text, voice, speed=speed, path=cache / f"{voice}-{speed}-{key}.wav")

    return make


@pytest.fixture(scope="session")
def mumbled_clip(speech_clip: Callable[..., Path]) -> Callable[..., Path]:
    """`mumbled_clip(text, voice, speed=150)` → `speech_clip(...)` played backwards.

    A forward robotic voice is no good for an answer nobody can make out: which words the
    recogniser hears in it changes with the decoder's version, and the fair judge may rightly
    hear the accepted answer. Reversed speech keeps the voice and loses the words.
    """

    def make(text: str, voice: str = "en", *, speed: int = 150) -> Path:
        source = speech_clip(text, voice, speed=speed)
        return reversed_speech(source, path=source.with_name(f"reversed-{source.name}"))

    return make


@pytest.fixture(scope="session")
def silence_clip(tmp_path_factory: pytest.TempPathFactory) -> Callable[[float], Path]:
    """`silence_clip(seconds)` → a cached WAV of digital silence."""
    cache = tmp_path_factory.mktemp("silence")
    return lambda seconds: silence(seconds, path=cache / f"silence-{seconds:g}.wav")


@pytest.fixture(scope="session")
def live_app_factory(
    asr_server: str, django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., str]]:
    """`live_app_factory(**environment)` → base URL of a Daphne process serving Parley.

    Each process uses the test database and the real ASR server; extra environment
    variables change its settings (e.g. STREAM_SILENCE_END_S). All are stopped at the end.
    Tests that use one need `django_db(transaction=True)` so the process sees their rows.
    """
    from django.conf import settings

    servers: list[ServerProcess] = []

    def start(**environment: str) -> str:
        port = free_port()
        env = app_env(
            database_name=settings.DATABASES["default"]["NAME"],
            asr_servers=asr_server,
            **environment,
        )
        server = ServerProcess(
            daphne_command(port),
            env=env,
            log_path=tmp_path_factory.mktemp("daphne") / "daphne.log",
        )
        servers.append(server)
        server.start(lambda: port_open(port), timeout=60, what="Daphne")
        return f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def live_app(live_app_factory: Callable[..., str]) -> str:
    """Parley as the README's run command serves it (Daphne + the real ASR); its base URL."""
    return live_app_factory()
