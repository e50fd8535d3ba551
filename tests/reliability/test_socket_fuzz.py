"""Socket fuzz suite against a real Daphne process: whatever a client sends, the server
answers with events (never a 1011 close), logs no traceback, and a refused frame changes
neither score nor lives.

Control frames mostly (the ASR servers named are closed ports: audio frames get
`asr_unavailable`); bounded: a hundred examples, each one frame and a sentinel ping.
"""

from __future__ import annotations

import json
import string
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.typing import Origin

from interaction.models import Session
from tests.live import ServerProcess, app_env, daphne_command, free_port, port_open

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager"),
]


@pytest.fixture(scope="module")
def fuzz_app(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """(base ws URL, server log) of a Daphne process on the test database; no ASR reachable,
    frame rate limits out of the way (the fuzzer is not a flood)."""
    from django.conf import settings as django_settings

    port = free_port()
    log = tmp_path_factory.mktemp("fuzz-daphne") / "daphne.log"
    server = ServerProcess(
        daphne_command(port),
        env=app_env(
            database_name=django_settings.DATABASES["default"]["NAME"],
            asr_servers=f"ws://127.0.0.1:{free_port()}",
            STREAM_RATE_TEXT_PER_S="100000",
            STREAM_RATE_TEXT_BURST="100000",
            ASR_CONNECT_TIMEOUT_S="0.5",
        ),
        log_path=log,
    )
    server.start(lambda: port_open(port), timeout=60, what="Daphne")
    try:
        yield f"ws://127.0.0.1:{port}", log
    finally:
        server.stop()


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**31 - 2, max_value=2**31 + 2),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["\ud800", "a\x00b", "\udfff", "cafe-test", "pcm_s16le", "webm_opus"]),
    st.uuids().map(str),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["start", "stop", "reset", "ping", "dance", ""])},
    optional={
        key: values for key in ("scenario", "session", "last_seq", "sample_rate", "encoding", "t")
    },
)
frames = st.one_of(
    messages.map(json.dumps),
    values.map(json.dumps),
    st.text(alphabet=string.printable, max_size=200),
    st.integers(min_value=1, max_value=3000).map(lambda depth: "[" * depth),
    st.integers(min_value=1, max_value=3000).map(lambda depth: '{"a":' * depth),
    st.text(min_size=4097, max_size=5000, alphabet="x"),
    st.binary(max_size=3200),
)


class Client:
    """One learner's socket on one session, reopened after a (non-1011) close."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.session: str | None = None
        self.socket: ClientConnection | None = None
        self.closes: list[int] = []
        self.events: list[dict[str, Any]] = []

    def open(self) -> ClientConnection:
        if self.socket is None:
            self.socket = ws_connect(
                f"{self.url}/stream/interaction?token={self.token}",
                origin=Origin(self.url.replace("ws://", "http://", 1)),  # the site's own, port too
            )
            start = (
                {"type": "start", "scenario": "cafe-test"}
                if self.session is None
                else {"type": "start", "session": self.session, "last_seq": 0}
            )
            self.socket.send(json.dumps(start))
            while (event := json.loads(self.socket.recv(timeout=10)))["type"] != "ready":
                pass
            self.session = event["session"]
        return self.socket

    def exchange(self, frame: str | bytes) -> None:
        """Send the frame, then a ping; collect every event up to its pong."""
        socket = self.open()
        try:
            socket.send(frame)
            socket.send(json.dumps({"type": "ping", "t": -7}))
            while (event := json.loads(socket.recv(timeout=10))) != {"type": "pong", "t": -7}:
                self.events.append(event)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
            self.closes.append(code)
            self.socket = None


@pytest.mark.usefixtures("scenario")
def test_no_frame_kills_the_socket_or_changes_the_score(fuzz_app, learner) -> None:
    url, log = fuzz_app
    client = Client(url, Token.objects.create(user=learner).key)

    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(frame=frames)
    def exchange(frame: str | bytes) -> None:
        client.exchange(frame)
        assert 1011 not in client.closes, _tail(log)

    exchange()
    if client.socket is not None:
        client.socket.close()
    assert client.session is not None
    for _ in range(100):  # the server stores and lets go; the teardown must not race it
        if not Session.objects.filter(pk=client.session).exclude(stream_owner="").exists():
            break
        time.sleep(0.1)
    assert client.closes.count(1011) == 0
    assert set(client.closes) <= {4400}, client.closes  # only a fatal client mistake closes
    assert "Traceback" not in log.read_text(errors="replace"), _tail(log)
    for event in client.events:
        if event["type"] != "pong":  # a fuzzed ping's answer carries no standing
            assert (event["score"], event["lives_remaining"]) == (0, 3), event
    session = Session.objects.get(pk=client.session)
    assert (session.score, session.lives_remaining, session.turn_index) == (0, 3, 0)
    assert any(event.get("type") == "error" for event in client.events)


def _tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
