"""One utterance on one WhisperLive connection: audio out, partials and the final in.

The client half of the stream protocol (docs/asr.md): float32 16 kHz mono frames of at most
one second, revised segments read as partial hypotheses while audio arrives, mid-stream
`parley.evaluate` requests answered by `parley.evidence`, then `END_OF_AUDIO` and Parley's
`parley.final` message. `WhisperLiveProvider`
(`interaction.asr.whisperlive`) opens the connection and hands it over; after a final, or
after an abandoned utterance was cancelled (`parley.cancel`, answered `parley.cancelled`),
a connection the server keeps (`"reuse"`) goes back to the provider for the next utterance.
Messages that name another utterance's uid (a late reply on a kept connection) are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from .admission import Failure, ServerBreaker
from .hypotheses import final_hypothesis, partial_hypothesis
from .types import SAMPLE_RATE, AsrError, Hypothesis, Word
from .wire import (
    CANCEL_TYPE,
    CANCELLED_TYPE,
    END_OF_AUDIO,
    EVALUATE_TYPE,
    EVIDENCE_TYPE,
    FINAL_TYPE,
    EvaluateRequest,
    parse_message,
)

MAX_FRAME_SECONDS = 1.0
_BYTES_PER_SAMPLE = 4
_MAX_FRAME_BYTES = int(MAX_FRAME_SECONDS * SAMPLE_RATE) * _BYTES_PER_SAMPLE
_PARTIAL_BUFFER = 32
CANCEL_TIMEOUT_S = 2.0
"""How long an abandoned utterance waits for `parley.cancelled` before its connection is
closed instead of kept (the server answers once its partial decode in progress ends)."""


class ConnectionLost(AsrError):
    """The server went away mid-utterance; a whole clip may be retried on another server."""


class WhisperLiveStream:
    """One utterance on one WhisperLive connection (`AsrStream`).

    uid: the utterance's, as sent in its options (messages naming another are skipped).
    keep: takes the connection after a final, when the server kept it for another utterance.
    """

    def __init__(
        self,
        ws: ClientConnection,
        *,
        url: str,
        read_timeout: float,
        final_timeout: float,
        breaker: ServerBreaker | None = None,
        keepalive_interval: float = 0.5,
        keepalive_timeout: float = 1.0,
        uid: str | None = None,
        keep: Callable[[ClientConnection], None] | None = None,
    ) -> None:
        self.url = url
        self._uid = uid
        self._keep = keep
        self._kept = False
        self._breaker = breaker  # told when the server drops or stalls the utterance
        self._ws = ws
        self._read_timeout = read_timeout
        self._final_timeout = final_timeout
        self._partials: asyncio.Queue[Hypothesis | None] = asyncio.Queue(maxsize=_PARTIAL_BUFFER)
        self._final: asyncio.Future[Hypothesis] = asyncio.get_running_loop().create_future()
        self._cancelled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._words_by_text: dict[str, tuple[Word, ...]] = {}
        self._last_partial_text: str | None = None
        self._finish_started: float | None = None
        self._evaluations: dict[int, asyncio.Future[Hypothesis]] = {}
        self._evaluation_ids = itertools.count(1)
        self._ended = False
        self._closing = False  # we close the connection: what the reader sees then is ours
        self._heard_at = time.monotonic()  # the server's last message (or pong): it is alive
        self._reader = asyncio.create_task(self._read(), name=f"whisperlive-reader {url}")
        self._keepalive_task = asyncio.create_task(
            self._keepalive(keepalive_interval, keepalive_timeout),
            name=f"whisperlive-keepalive {url}",
        )

    async def send_audio(self, samples: bytes) -> None:
        """Relay float32 LE 16 kHz mono samples, in frames of at most one second."""
        if self._ended:
            raise AsrError("The utterance has already ended.")
        if len(samples) % _BYTES_PER_SAMPLE:
            raise ValueError("float32 audio needs a multiple of 4 bytes")
        self._raise_if_failed()
        view = memoryview(samples)
        for offset in range(0, len(view), _MAX_FRAME_BYTES):
            await self._send(bytes(view[offset : offset + _MAX_FRAME_BYTES]))

    async def partials(self) -> AsyncIterator[Hypothesis]:
        """Partial hypotheses as the server revises them; ends with the utterance.

        Consecutive updates with the same text are yielded once. When nobody reads, only the
        newest updates are kept.
        """
        while True:
            item = await self._partials.get()
            if item is None:
                self._put_partial(None)  # later readers end too
                return
            yield item

    async def evaluate(self) -> Hypothesis:
        """The evidence over the audio sent so far; the stream goes on.

        Sends `{"type": "parley.evaluate", "id": N}` and waits (final_timeout) for the
        `parley.evidence` reply with the same id. The hypothesis has final=False, `evidence`
        set, and asr_ms from the request to the reply.
        """
        if self._ended:
            raise AsrError("The utterance has already ended.")
        self._raise_if_failed()
        request_id = next(self._evaluation_ids)
        reply: asyncio.Future[Hypothesis] = asyncio.get_running_loop().create_future()
        self._evaluations[request_id] = reply
        started = time.perf_counter()
        request: EvaluateRequest = {"type": EVALUATE_TYPE, "id": request_id}
        try:
            await self._send(json.dumps(request))
            async with asyncio.timeout(self._final_timeout):
                hypothesis = await asyncio.shield(reply)
        except TimeoutError:
            self._stalled()
            raise AsrError(
                f"{self.url} gave no evidence within {self._final_timeout:g} s"
            ) from None
        finally:
            self._evaluations.pop(request_id, None)
            if not reply.done():
                reply.cancel()
        return replace(hypothesis, asr_ms=ms_since(started))

    async def finish(self) -> Hypothesis:
        """Send END_OF_AUDIO and wait for the final hypothesis (asr_ms: from END_OF_AUDIO)."""
        if not self._ended:
            self._ended = True
            self._finish_started = time.perf_counter()
            with contextlib.suppress(ConnectionClosed):
                # if the server is gone, the reader has the reason and fails the final
                await self._send(END_OF_AUDIO)
        try:
            async with asyncio.timeout(self._final_timeout):
                return await asyncio.shield(self._final)
        except TimeoutError:
            self._stalled()
            raise AsrError(
                f"{self.url} gave no final result within {self._final_timeout:g} s"
            ) from None
        finally:
            if self._reusable():
                self._kept = True
            await self.close()

    def _cancellable(self) -> bool:
        return (
            self._keep is not None
            and not self._final.done()
            and not self._reader.done()
            and self._ws.state is State.OPEN
        )

    async def _cancel(self) -> bool:
        """Drop the utterance on the server, keeping the connection: whether it confirmed."""
        try:
            async with asyncio.timeout(CANCEL_TIMEOUT_S):
                await self._ws.send(json.dumps({"type": CANCEL_TYPE}))
                await asyncio.shield(self._cancelled)
        except (TimeoutError, ConnectionClosed, AsrError):
            return False
        return self._ws.state is State.OPEN

    def _reusable(self) -> bool:
        """After a final (not an error), on a connection the server kept open."""
        return (
            self._keep is not None
            and self._final.done()
            and not self._final.cancelled()
            and self._final.exception() is None
            and self._reader.done()
            and self._ws.state is State.OPEN
        )

    async def close(self) -> None:
        """Abandon the utterance (or tidy up after finish); safe to call twice.

        On a connection the server keeps, an unfinished utterance is cancelled
        (`parley.cancel`) and the connection kept when the server confirms in time."""
        if not self._ended and self._cancellable():
            self._ended = True
            self._kept = await self._cancel()
        self._ended = self._closing = True
        self._keepalive_task.cancel()
        if not self._kept:
            await close_quietly(self._ws)
        if not self._reader.done():
            self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        # Awaited, not only cancelled: a task left holding its CancelledError keeps this
        # stream (and its connection) in a reference cycle.
        with contextlib.suppress(asyncio.CancelledError):
            await self._keepalive_task
        if not self._final.done():
            self._final.set_exception(AsrError("The utterance was closed before its final."))
        for future in (self._final, self._cancelled):
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: no "never retrieved" warning
        if self._kept and self._keep is not None:
            keep, self._keep = self._keep, None  # handed over once
            keep(self._ws)

    async def _send(self, data: bytes | str) -> None:
        try:
            async with asyncio.timeout(self._read_timeout):
                await self._ws.send(data)
        except TimeoutError:
            self._stalled()
            raise AsrError(
                f"{self.url} stopped reading audio for {self._read_timeout:g} s"
            ) from None
        except ConnectionClosed as exc:
            self._raise_if_failed()
            raise ConnectionLost(f"{self.url} closed the connection ({close_reason(exc)})") from exc

    def _raise_if_failed(self) -> None:
        if self._final.done() and not self._final.cancelled():
            error = self._final.exception()
            if error is not None:
                raise error

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                self._heard_at = time.monotonic()
                message = parse_message(raw)
                if message is None:
                    self._fail(AsrError(f"{self.url} sent a message that is not JSON"))
                    return
                if self._uid is not None and message.get("uid", self._uid) != self._uid:
                    continue  # an earlier utterance's, late, on a kept connection
                if message.get("type") == FINAL_TYPE:
                    self._on_final(message)
                    return
                if message.get("type") == CANCELLED_TYPE:
                    if not self._cancelled.done():
                        self._cancelled.set_result(None)
                    return
                if message.get("type") == EVIDENCE_TYPE:
                    self._on_evidence(message)
                    continue
                if "segments" in message:
                    self._on_segments(message["segments"])
                elif message.get("status") == "ERROR":
                    self._fail(AsrError(f"{self.url} reported an error: {message.get('message')}"))
                    return
                elif message.get("message") == "DISCONNECT":
                    self._fail(ConnectionLost(f"{self.url} ended the connection (time limit)"))
                    return
            self._fail(ConnectionLost(f"{self.url} closed the connection before the final"))
        except ConnectionClosed as exc:
            self._fail(ConnectionLost(f"{self.url} closed the connection ({close_reason(exc)})"))
        except (TypeError, ValueError, KeyError) as exc:
            self._fail(AsrError(f"{self.url} sent a malformed message: {exc}"))
        finally:
            self._put_partial(None)

    def _on_segments(self, segments: Any) -> None:
        hypothesis = partial_hypothesis(segments, self._words_by_text)
        if hypothesis.text == self._last_partial_text:
            return
        self._last_partial_text = hypothesis.text
        self._put_partial(hypothesis)

    def _on_final(self, message: Mapping[str, Any]) -> None:
        if "error" in message:
            self._fail(AsrError(f"{self.url}: {message['error']}"))
            return
        hypothesis = final_hypothesis(message)
        if self._finish_started is not None:
            hypothesis = replace(hypothesis, asr_ms=ms_since(self._finish_started))
        if not self._final.done():
            self._final.set_result(hypothesis)

    def _on_evidence(self, message: Mapping[str, Any]) -> None:
        request_id = message.get("id")
        reply = self._evaluations.get(request_id) if isinstance(request_id, int) else None
        if reply is None or reply.done():
            return  # an answer nobody waits for any more
        if "error" in message:
            reply.set_exception(AsrError(f"{self.url}: {message['error']}"))
        else:
            reply.set_result(final_hypothesis(message, final=False))

    async def _keepalive(self, interval: float, pong_s: float) -> None:
        """Ping a server that has said nothing for `interval` seconds; one that stops
        answering (crashed, paused, cut off) fails the utterance within `interval + pong_s`
        seconds of its last word, not at the final timeout. A server sending partials is
        heard often enough: it is not pinged.

        Our own rather than the library's: that one waits for a closing handshake (which a
        stopped server never answers) before the connection is seen to be gone."""
        try:
            while True:
                await asyncio.sleep(max(0.0, self._heard_at + interval - time.monotonic()))
                if time.monotonic() - self._heard_at < interval:
                    continue  # heard meanwhile
                try:
                    async with asyncio.timeout(pong_s):
                        pong = await self._ws.ping()
                        await pong
                except TimeoutError:
                    self._fail(ConnectionLost(f"{self.url} answered no ping for {pong_s:g} s"))
                    self._ws.transport.abort()
                    return
                self._heard_at = time.monotonic()
        except ConnectionClosed:
            return

    def _stalled(self) -> None:
        """The server took too long: it is overloaded (or hung); back off from it."""
        if self._breaker is not None:
            self._breaker.failed(Failure.BUSY)

    def _fail(self, error: AsrError) -> None:
        lost = isinstance(error, ConnectionLost) and not self._closing
        if lost and not self._final.done() and self._breaker is not None:
            self._breaker.failed(Failure.DOWN)  # gone mid-utterance (crashed, paused, cut off)
        if not self._final.done():
            self._final.set_exception(error)
        if not self._cancelled.done():
            self._cancelled.set_exception(error)
        for reply in self._evaluations.values():
            if not reply.done():
                reply.set_exception(error)

    def _put_partial(self, item: Hypothesis | None) -> None:
        if self._partials.full():
            self._partials.get_nowait()  # keep the newest
        self._partials.put_nowait(item)


def close_reason(exc: ConnectionClosed) -> str:
    """What the close frame said, for error messages."""
    if exc.rcvd is not None:
        return f"code {exc.rcvd.code}" + (f", {exc.rcvd.reason}" if exc.rcvd.reason else "")
    return "no close frame"


async def close_quietly(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        await ws.close()


def ms_since(started: float) -> int:
    """Milliseconds since a `time.perf_counter()` reading."""
    return round((time.perf_counter() - started) * 1000)
