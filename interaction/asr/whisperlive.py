"""The WhisperLive ASR provider: WhisperLive's WebSocket protocol, spoken with asyncio.

One connection per utterance. The client sends its options as JSON, waits for
`SERVER_READY`, streams float32 16 kHz mono frames, reads revised segments as partial
hypotheses, and ends with `END_OF_AUDIO`; Parley's server (`interaction.asr.server`)
then answers with one `parley.final` message from a final pass over the whole utterance.

A pool of servers (`ASR_SERVERS`) is tried in rotating order; a server that is busy
(`WAIT`), errs, refuses the connection or stays silent past the connect timeout is skipped,
and `AsrUnavailable` lists what each one said when none accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from .confidence import SegmentStats, utterance_confidence
from .types import SAMPLE_RATE, AsrError, AsrUnavailable, Hypothesis, RecognitionOptions, Word

FINAL_TYPE = "parley.final"
"""`type` of the message Parley's server sends after END_OF_AUDIO (stock messages have none)."""
PARLEY_OPTIONS_KEY = "parley"
"""Key of Parley's own block in the connection options; stock servers ignore it."""
BIAS_MODES = ("initial_prompt", "hotwords", "none")
END_OF_AUDIO = b"END_OF_AUDIO"
SERVER_READY = "SERVER_READY"

MAX_FRAME_SECONDS = 1.0
_BYTES_PER_SAMPLE = 4
_MAX_FRAME_BYTES = int(MAX_FRAME_SECONDS * SAMPLE_RATE) * _BYTES_PER_SAMPLE
_PARTIAL_BUFFER = 32
# Every segment of an utterance in each update (WhisperLive's default sends the last 10).
_SEND_LAST_N_SEGMENTS = 100


class _ServerRefused(Exception):
    """One server of the pool did not take the utterance; the reason names what it said."""


class _ConnectionLost(AsrError):
    """The server went away mid-utterance; a whole clip may be retried on another server."""


class WhisperLiveProvider:
    """`AsrProvider` for a pool of WhisperLive servers running `manage.py run_asr_server`.

    connect_timeout: seconds for TCP + WebSocket handshake + SERVER_READY, per server.
    read_timeout: seconds a server may take to accept our audio (send back-pressure) or to
        answer a keepalive ping before the utterance fails.
    final_timeout: seconds to wait for the final message after END_OF_AUDIO.
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
    ) -> None:
        if not servers:
            raise ValueError("WhisperLiveProvider needs at least one server URL")
        self.servers = tuple(servers)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.final_timeout = final_timeout
        self.model = model
        self.same_output_threshold = same_output_threshold
        self._cursor = itertools.count()

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
            try:
                return await self._open(url, options, streaming=streaming)
            except _ServerRefused as exc:
                failures.append(f"{url}: {exc}")
        raise AsrUnavailable("No ASR server accepted the utterance (" + "; ".join(failures) + ")")

    async def transcribe(self, samples: bytes, options: RecognitionOptions) -> Hypothesis:
        """Recognise a whole clip; asr_ms is the whole call (connect, send, final pass)."""
        started = time.perf_counter()
        lost: list[str] = []
        for _ in self.servers:
            stream = await self.open_stream(options, streaming=False)
            try:
                await stream.send_audio(samples)
                hypothesis = await stream.finish()
            except _ConnectionLost as exc:
                lost.append(str(exc))
                continue
            finally:
                await stream.close()
            return replace(hypothesis, asr_ms=_ms_since(started))
        raise AsrError("The ASR servers dropped the utterance: " + "; ".join(lost))

    def connection_options(
        self, uid: str, options: RecognitionOptions, *, streaming: bool
    ) -> dict[str, Any]:
        """The JSON WhisperLive reads first, with Parley's block for the final pass."""
        bias_mode = options.bias_mode if options.bias_mode in BIAS_MODES else "none"
        streaming_bias = {}
        if streaming and options.bias_partials and bias_mode != "none" and options.bias_phrases:
            streaming_bias = {bias_mode: bias_text(options.bias_phrases)}
        return {
            **streaming_bias,
            "uid": uid,
            "language": options.language,
            "task": "transcribe",
            "model": self.model,
            "use_vad": True,
            "word_timestamps": True,
            "same_output_threshold": self.same_output_threshold,
            "send_last_n_segments": _SEND_LAST_N_SEGMENTS,
            PARLEY_OPTIONS_KEY: {
                "bias_phrases": list(options.bias_phrases) if bias_mode != "none" else [],
                "bias_mode": bias_mode,
                "detect_language": options.detect_language,
                "streaming": streaming,
            },
        }

    async def _open(
        self, url: str, options: RecognitionOptions, *, streaming: bool
    ) -> WhisperLiveStream:
        uid = uuid.uuid4().hex
        ws: ClientConnection | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                ws = await connect(
                    url,
                    open_timeout=None,
                    close_timeout=1,
                    compression=None,
                    ping_interval=self.read_timeout,
                    ping_timeout=self.read_timeout,
                    max_size=2**22,
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
            )
        except TimeoutError:
            reason = f"no SERVER_READY within {self.connect_timeout:g} s"
        except _ServerRefused as exc:
            reason = str(exc)
        except InvalidStatus as exc:
            reason = f"refused the WebSocket handshake (HTTP {exc.response.status_code})"
        except ConnectionClosed as exc:
            reason = f"closed the connection before SERVER_READY ({_close_reason(exc)})"
        except (OSError, WebSocketException, ValueError) as exc:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if ws is not None:
            await _close_quietly(ws)
        raise _ServerRefused(reason)


async def _await_ready(ws: ClientConnection) -> None:
    """Read handshake messages until SERVER_READY; WAIT and ERROR refuse the utterance."""
    while True:
        raw = await ws.recv()
        message = _parse(raw)
        if message is None:
            raise _ServerRefused("sent a message that is not JSON before SERVER_READY")
        if message.get("message") == SERVER_READY:
            return
        status = message.get("status")
        if status == "WAIT":
            minutes = message.get("message")
            wait = f", about {float(minutes):.1f} min" if isinstance(minutes, int | float) else ""
            raise _ServerRefused(f"busy (WAIT{wait})")
        if status == "ERROR":
            raise _ServerRefused(f"error: {message.get('message')}")
        # WARNING and anything else informational: keep waiting for SERVER_READY.


class WhisperLiveStream:
    """One utterance on one WhisperLive connection (`AsrStream`)."""

    def __init__(
        self, ws: ClientConnection, *, url: str, read_timeout: float, final_timeout: float
    ) -> None:
        self.url = url
        self._ws = ws
        self._read_timeout = read_timeout
        self._final_timeout = final_timeout
        self._partials: asyncio.Queue[Hypothesis | None] = asyncio.Queue(maxsize=_PARTIAL_BUFFER)
        self._final: asyncio.Future[Hypothesis] = asyncio.get_running_loop().create_future()
        self._words_by_text: dict[str, tuple[Word, ...]] = {}
        self._last_partial_text: str | None = None
        self._finish_started: float | None = None
        self._ended = False
        self._reader = asyncio.create_task(self._read(), name=f"whisperlive-reader {url}")

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
            raise AsrError(
                f"{self.url} gave no final result within {self._final_timeout:g} s"
            ) from None
        finally:
            await self.close()

    async def close(self) -> None:
        """Abandon the utterance (or tidy up after finish); safe to call twice."""
        self._ended = True
        await _close_quietly(self._ws)
        if not self._reader.done():
            self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        if not self._final.done():
            self._final.set_exception(AsrError("The utterance was closed before its final."))
        if not self._final.cancelled():
            self._final.exception()  # retrieved: no "never retrieved" warning

    async def _send(self, data: bytes) -> None:
        try:
            async with asyncio.timeout(self._read_timeout):
                await self._ws.send(data)
        except TimeoutError:
            raise AsrError(
                f"{self.url} stopped reading audio for {self._read_timeout:g} s"
            ) from None
        except ConnectionClosed as exc:
            self._raise_if_failed()
            raise _ConnectionLost(
                f"{self.url} closed the connection ({_close_reason(exc)})"
            ) from exc

    def _raise_if_failed(self) -> None:
        if self._final.done() and not self._final.cancelled():
            error = self._final.exception()
            if error is not None:
                raise error

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                message = _parse(raw)
                if message is None:
                    self._fail(AsrError(f"{self.url} sent a message that is not JSON"))
                    return
                if message.get("type") == FINAL_TYPE:
                    self._on_final(message)
                    return
                if "segments" in message:
                    self._on_segments(message["segments"])
                elif message.get("status") == "ERROR":
                    self._fail(AsrError(f"{self.url} reported an error: {message.get('message')}"))
                    return
                elif message.get("message") == "DISCONNECT":
                    self._fail(_ConnectionLost(f"{self.url} ended the connection (time limit)"))
                    return
            self._fail(_ConnectionLost(f"{self.url} closed the connection before the final"))
        except ConnectionClosed as exc:
            self._fail(_ConnectionLost(f"{self.url} closed the connection ({_close_reason(exc)})"))
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
            hypothesis = replace(hypothesis, asr_ms=_ms_since(self._finish_started))
        if not self._final.done():
            self._final.set_result(hypothesis)

    def _fail(self, error: AsrError) -> None:
        if not self._final.done():
            self._final.set_exception(error)

    def _put_partial(self, item: Hypothesis | None) -> None:
        if self._partials.full():
            self._partials.get_nowait()  # keep the newest
        self._partials.put_nowait(item)


def bias_text(phrases: Sequence[str]) -> str:
    """The accepted answers as one prompt, each ending like a sentence (as the server does)."""
    return " ".join(p if p[-1] in ".!?…" else p + "." for p in phrases if p)


def partial_hypothesis(
    segments: Sequence[Mapping[str, Any]], words_by_text: dict[str, tuple[Word, ...]] | None = None
) -> Hypothesis:
    """A partial from WhisperLive's `segments` list (times may be strings, as it sends them).

    A segment WhisperLive completes by repetition carries no words; `words_by_text` (text →
    words from earlier updates) fills them in.
    """
    cache = words_by_text if words_by_text is not None else {}
    texts: list[str] = []
    words: list[Word] = []
    stats: list[SegmentStats] = []
    audio_end = 0.0
    for segment in segments:
        text = str(segment.get("text", "")).strip()
        if not text:
            continue
        seg_words = _words(segment.get("words"))
        if seg_words:
            cache[text] = seg_words
        else:
            seg_words = cache.get(text, ())
        texts.append(text)
        words.extend(seg_words)
        start, end = float(segment.get("start", 0)), float(segment.get("end", 0))
        stats.append(SegmentStats(start, end, _optional_float(segment.get("no_speech_prob"))))
        audio_end = max(audio_end, end)
    return Hypothesis(
        text=" ".join(texts),
        confidence=utterance_confidence((w.probability for w in words), stats),
        words=tuple(words),
        no_speech=not texts,
        final=False,
        audio_ms=round(audio_end * 1000),
    )


def final_hypothesis(message: Mapping[str, Any]) -> Hypothesis:
    """The final hypothesis from a `parley.final` message (docs/asr.md)."""
    partial = partial_hypothesis(message.get("segments") or ())
    probabilities = {
        str(lang): float(p) for lang, p in (message.get("language_probabilities") or {}).items()
    }
    no_speech = bool(message.get("no_speech")) or not partial.text
    return Hypothesis(
        text="" if no_speech else partial.text,
        confidence=0.0 if no_speech else partial.confidence,
        words=() if no_speech else partial.words,
        language=message.get("language"),
        language_probability=_optional_float(message.get("language_probability")),
        language_probabilities=probabilities,
        no_speech=no_speech,
        final=True,
        audio_ms=round(float(message.get("audio_s") or 0) * 1000),
        asr_ms=int(message.get("asr_ms") or 0),
    )


def _words(raw: Any) -> tuple[Word, ...]:
    if not raw:
        return ()
    return tuple(
        Word(
            word=str(w["word"]).strip(),
            start=float(w["start"]),
            end=float(w["end"]),
            probability=float(w["probability"]),
        )
        for w in raw
    )


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _parse(raw: str | bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return message if isinstance(message, dict) else None


def _close_reason(exc: ConnectionClosed) -> str:
    if exc.rcvd is not None:
        return f"code {exc.rcvd.code}" + (f", {exc.rcvd.reason}" if exc.rcvd.reason else "")
    return "no close frame"


async def _close_quietly(ws: ClientConnection) -> None:
    with contextlib.suppress(Exception):
        await ws.close()


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
