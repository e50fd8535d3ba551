"""The WhisperLive ASR provider: WhisperLive's WebSocket protocol, spoken with asyncio.

Each utterance sends its options as JSON, waits for `SERVER_READY`, streams float32 16 kHz
mono frames, reads revised segments as partial hypotheses, and ends with `END_OF_AUDIO`;
Parley's server (`interaction.asr.server`) then answers with one `parley.final` message
from the evidence pass over the whole utterance (the accepted answers are sent as
`candidates` to be scored, never as a prompt). The server keeps the connection after the
final when asked (`"reuse"`), and the next utterance to that server starts on it: its
options, then `SERVER_READY` or a refusal as on a new connection. A kept connection holds
no recogniser slot; the provider lets it go after `keep_idle_s` unused (the server after
its own, longer bound). A new connection costs the app about 0.45 ms of CPU more than a
kept one, of about 1 ms for a two-second answer's ASR traffic (bench/asr_connection.py).
This module opens connections (the pool, its rotation, the handshake and the options);
`whisperlive_stream` speaks the utterance, `hypotheses` reads its messages, and `wire`
holds what client and server both spell.

A pool of servers (`ASR_SERVERS`) is tried in rotating order; a server that is busy
(`WAIT`), errs, refuses the connection or stays silent past the connect timeout is skipped,
and `AsrUnavailable` lists what each one said when none accepts. Each server has a circuit
breaker (`admission`): after a refusal it is skipped, without a connection, for a backoff
that grows with each failure; when every server is full or backing off from being full, the
error is `AsrBusy` ("try again in a moment") at once, not a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.protocol import State

from .admission import Failure, ServerBreaker
from .types import AsrBusy, AsrError, AsrUnavailable, Hypothesis, RecognitionOptions
from .whisperlive_stream import (
    ConnectionLost,
    WhisperLiveStream,
    close_quietly,
    close_reason,
    ms_since,
)
from .wire import PARLEY_OPTIONS_KEY, SERVER_READY, ParleyOptions, parse_message

# Every segment of an utterance in each update (WhisperLive's default sends the last 10).
_SEND_LAST_N_SEGMENTS = 100
MAX_KEPT_PER_SERVER = 256
"""Idle kept connections per server and app process; past it, the oldest is closed. A
server's slots bound how many utterances it serves at once, so a pool of real servers
never fills this; the scripted peer of the capacity bench, which has no slots, can."""


class _ServerRefused(Exception):
    """One server of the pool did not take the utterance; the reason names what it said."""

    def __init__(self, reason: str, kind: Failure = Failure.DOWN) -> None:
        super().__init__(reason)
        self.kind = kind


class KeptConnections:
    """Connections the servers kept after a final, newest last, per server URL.

    They belong to the event loop that kept them (a server process's one loop, where the
    sockets stream); a call from another loop (a test's next one) drops them and starts
    afresh. One thread at a time: the loop's.
    """

    def __init__(self, keep_s: float, most: int = MAX_KEPT_PER_SERVER) -> None:
        self.keep_s = keep_s
        self.most = most
        self._idle: dict[str, list[tuple[float, ClientConnection]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def put(self, url: str, ws: ClientConnection) -> None:
        idle = self._on_this_loop().setdefault(url, [])
        idle.append((time.monotonic(), ws))
        while len(idle) > self.most or self._stale(idle[0]):
            self._let_go(idle.pop(0)[1])

    def take(self, url: str) -> ClientConnection | None:
        """The newest open connection kept for `url`, or None; stale ones are closed."""
        idle = self._on_this_loop().get(url) or []
        while idle:
            entry = idle.pop()
            if not self._stale(entry):
                return entry[1]
            self._let_go(entry[1])
        return None

    def __len__(self) -> int:
        return sum(len(idle) for idle in self._idle.values())

    def _on_this_loop(self) -> dict[str, list[tuple[float, ClientConnection]]]:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            for idle in self._idle.values():
                for _, ws in idle:
                    with contextlib.suppress(Exception):  # its loop may be closed
                        ws.transport.abort()
            self._idle = {}
            self._loop = loop
        return self._idle

    def _stale(self, entry: tuple[float, ClientConnection]) -> bool:
        since, ws = entry
        return ws.state is not State.OPEN or time.monotonic() - since >= self.keep_s

    def _let_go(self, ws: ClientConnection) -> None:
        if ws.state is State.CLOSED:
            return
        task = asyncio.get_running_loop().create_task(close_quietly(ws))
        self._closing.add(task)  # held until done: a task nobody holds may be collected
        task.add_done_callback(self._closing.discard)


class WhisperLiveProvider:
    """`AsrProvider` for a pool of WhisperLive servers running `manage.py run_asr_server`.

    connect_timeout: seconds for TCP + WebSocket handshake + SERVER_READY, per server.
    read_timeout: seconds a server may take to accept our audio (send back-pressure) before
        the utterance fails.
    final_timeout: seconds to wait for the final message after END_OF_AUDIO.
    keepalive_interval / keepalive_timeout: seconds between WebSocket pings to a server
        during an utterance, and for its pong: a server that stopped (crashed, paused,
        unplugged) fails the utterance within their sum, not after the final timeout.
    keep_idle_s: seconds a connection the server kept after a final waits for the next
        utterance before it is closed; 0: a connection per utterance.
    """

    def __init__(
        self,
        servers: Sequence[str],
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        final_timeout: float = 15.0,
        model: str = "base",
        same_output_threshold: int = 1,
        keepalive_interval: float = 0.5,
        keepalive_timeout: float = 1.0,
        keep_idle_s: float = 10.0,
    ) -> None:
        if not servers:
            raise ValueError("WhisperLiveProvider needs at least one server URL")
        self.servers = tuple(servers)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.final_timeout = final_timeout
        self.model = model
        self.same_output_threshold = same_output_threshold
        self.keepalive_interval = keepalive_interval
        self.keepalive_timeout = keepalive_timeout
        self._cursor = itertools.count()
        self.breakers = {url: ServerBreaker() for url in self.servers}
        self.kept = KeptConnections(keep_idle_s)

    def _rotation(self) -> list[str]:
        start = next(self._cursor) % len(self.servers)
        return [*self.servers[start:], *self.servers[:start]]

    async def open_stream(
        self, options: RecognitionOptions, *, streaming: bool = True
    ) -> WhisperLiveStream:
        """Connect to the first server of the rotation that says SERVER_READY.

        streaming=False (whole clips) tells the server to skip partial decodes.
        """
        failures: list[str] = []
        for url in self._rotation():
            breaker = self.breakers[url]
            if not breaker.admits(trial_s=self.connect_timeout + 1):
                failures.append(
                    f"{url}: skipped ({breaker.last_failure}, retry in {breaker.retry_in():.1f} s)"
                )
                continue
            try:
                stream = await self._open(url, options, streaming=streaming)
            except _ServerRefused as exc:
                breaker.failed(exc.kind)
                failures.append(f"{url}: {exc}")
                continue
            breaker.succeeded()
            return stream
        detail = "No ASR server accepted the utterance (" + "; ".join(failures) + ")"
        breakers = self.breakers.values()
        if any(breaker.last_failure == Failure.BUSY for breaker in breakers):
            raise AsrBusy(detail, retry_after_s=min(breaker.retry_in() for breaker in breakers))
        raise AsrUnavailable(detail)

    async def transcribe(self, samples: bytes, options: RecognitionOptions) -> Hypothesis:
        """Recognise a whole clip; asr_ms is the whole call (connect, send, final pass)."""
        started = time.perf_counter()
        lost: list[str] = []
        for _ in self.servers:
            stream = await self.open_stream(options, streaming=False)
            try:
                await stream.send_audio(samples)
                hypothesis = await stream.finish()
            except ConnectionLost as exc:
                lost.append(str(exc))
                continue
            finally:
                await stream.close()
            return replace(hypothesis, asr_ms=ms_since(started))
        raise AsrError("The ASR servers dropped the utterance: " + "; ".join(lost))

    def _reuses(self, streaming: bool) -> bool:
        """Streamed utterances keep their connections; whole clips do not: `transcribe` is
        called through `async_to_sync`, on a loop that may last one call (and a thread of
        its own), where a kept connection could never be used again."""
        return streaming and self.kept.keep_s > 0

    def connection_options(
        self, uid: str, options: RecognitionOptions, *, streaming: bool
    ) -> dict[str, Any]:
        """The JSON WhisperLive reads first, with Parley's block for the evidence pass.

        The candidates travel in Parley's block only, to be scored; no pass is ever given a
        prompt (`initial_prompt`, `hotwords`).
        """
        parley: ParleyOptions = {
            "target_language": options.language,
            "other_languages": [
                lang for lang in options.other_languages if lang != options.language
            ],
            "candidates": list(options.candidates),
            "streaming": streaming,
            "reuse": self._reuses(streaming),
        }
        return {
            "uid": uid,
            "language": options.language,
            "task": "transcribe",
            "model": self.model,
            "use_vad": True,
            "word_timestamps": True,
            "same_output_threshold": self.same_output_threshold,
            "send_last_n_segments": _SEND_LAST_N_SEGMENTS,
            PARLEY_OPTIONS_KEY: parley,
        }

    async def _open(
        self, url: str, options: RecognitionOptions, *, streaming: bool
    ) -> WhisperLiveStream:
        """Start the utterance on a connection the server kept, or else on a new one."""
        uid = uuid.uuid4().hex
        hello = json.dumps(self.connection_options(uid, options, streaming=streaming))
        reuses = self._reuses(streaming)
        ws = self.kept.take(url) if reuses else None
        kind = Failure.DOWN
        try:
            async with asyncio.timeout(self.connect_timeout):
                if ws is not None:
                    try:
                        await _greet(ws, hello, uid)
                    except ConnectionClosed:  # the server let it go meanwhile
                        ws = None
                if ws is None:
                    ws = await self._connect(url)
                    await _greet(ws, hello, uid)
            return WhisperLiveStream(
                ws,
                url=url,
                read_timeout=self.read_timeout,
                final_timeout=self.final_timeout,
                breaker=self.breakers.get(url),
                keepalive_interval=self.keepalive_interval,
                keepalive_timeout=self.keepalive_timeout,
                uid=uid,
                keep=functools.partial(self.kept.put, url) if reuses else None,
            )
        except TimeoutError:
            reason, kind = f"no SERVER_READY within {self.connect_timeout:g} s", Failure.BUSY
        except _ServerRefused as exc:
            reason, kind = str(exc), exc.kind
        except InvalidStatus as exc:
            reason = f"refused the WebSocket handshake (HTTP {exc.response.status_code})"
        except ConnectionClosed as exc:
            reason = f"closed the connection before SERVER_READY ({close_reason(exc)})"
        except (OSError, WebSocketException, ValueError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if ws is not None:
            await close_quietly(ws)
        raise _ServerRefused(reason, kind)

    @staticmethod
    async def _connect(url: str) -> ClientConnection:
        return await connect(
            url,
            open_timeout=None,
            close_timeout=1,
            compression=None,
            ping_interval=None,  # the stream pings (WhisperLiveStream._keepalive)
            max_size=2**22,
            # ASR servers are on the deployment's own network, never behind an HTTP proxy;
            # the library's default reads the proxy environment on every connect, scanning
            # all of os.environ.
            proxy=None,
        )


async def _greet(ws: ClientConnection, hello: str, uid: str) -> None:
    """Send the utterance's options and wait for the server to take it."""
    await ws.send(hello)
    await _await_ready(ws, uid)


async def _await_ready(ws: ClientConnection, uid: str) -> None:
    """Read handshake messages until SERVER_READY; WAIT and ERROR refuse the utterance.

    Messages naming another uid are an earlier utterance's, late on a kept connection."""
    while True:
        raw = await ws.recv()
        message = parse_message(raw)
        if message is None:
            raise _ServerRefused("sent a message that is not JSON before SERVER_READY")
        if message.get("uid", uid) != uid:
            continue
        if message.get("message") == SERVER_READY:
            return
        status = message.get("status")
        if status == "WAIT":
            minutes = message.get("message")
            wait = f", about {float(minutes):.1f} min" if isinstance(minutes, int | float) else ""
            raise _ServerRefused(f"busy (WAIT{wait})", Failure.BUSY)
        if status == "ERROR":
            raise _ServerRefused(f"error: {message.get('message')}")
        # WARNING and anything else informational: keep waiting for SERVER_READY.
