"""The WhisperLive ASR provider: WhisperLive's WebSocket protocol, spoken with asyncio.

One connection per utterance. The client sends its options as JSON, waits for
`SERVER_READY`, streams float32 16 kHz mono frames, reads revised segments as partial
hypotheses, and ends with `END_OF_AUDIO`; Parley's server (`interaction.asr.server`)
then answers with one `parley.final` message from the evidence pass over the whole
utterance (the accepted answers are sent as `candidates` to be scored, never as a prompt).
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
import itertools
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

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


class _ServerRefused(Exception):
    """One server of the pool did not take the utterance; the reason names what it said."""

    def __init__(self, reason: str, kind: Failure = Failure.DOWN) -> None:
        super().__init__(reason)
        self.kind = kind


class WhisperLiveProvider:
    """`AsrProvider` for a pool of WhisperLive servers running `manage.py run_asr_server`.

    connect_timeout: seconds for TCP + WebSocket handshake + SERVER_READY, per server.
    read_timeout: seconds a server may take to accept our audio (send back-pressure) before
        the utterance fails.
    final_timeout: seconds to wait for the final message after END_OF_AUDIO.
    keepalive_interval / keepalive_timeout: seconds between WebSocket pings to a server
        during an utterance, and for its pong: a server that stopped (crashed, paused,
        unplugged) fails the utterance within their sum, not after the final timeout.
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
        uid = uuid.uuid4().hex
        ws: ClientConnection | None = None
        kind = Failure.DOWN
        try:
            async with asyncio.timeout(self.connect_timeout):
                ws = await connect(
                    url,
                    open_timeout=None,
                    close_timeout=1,
                    compression=None,
                    ping_interval=None,  # the stream pings (WhisperLiveStream._keepalive)
                    max_size=2**22,
                    # ASR servers are on the deployment's own network, never behind an HTTP
                    # proxy; the library's default reads the proxy environment on every
                    # connect (every utterance), scanning all of os.environ.
                    proxy=None,
                )
                await ws.send(
                    json.dumps(self.connection_options(uid, options, streaming=streaming))
                )
                await _await_ready(ws)
            return WhisperLiveStream(
                ws,
                url=url,
                read_timeout=self.read_timeout,
                final_timeout=self.final_timeout,
                breaker=self.breakers.get(url),
                keepalive_interval=self.keepalive_interval,
                keepalive_timeout=self.keepalive_timeout,
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


async def _await_ready(ws: ClientConnection) -> None:
    """Read handshake messages until SERVER_READY; WAIT and ERROR refuse the utterance."""
    while True:
        raw = await ws.recv()
        message = parse_message(raw)
        if message is None:
            raise _ServerRefused("sent a message that is not JSON before SERVER_READY")
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
