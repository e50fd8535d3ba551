"""A scripted peer that speaks WhisperLive's WebSocket protocol, for the provider's unit tests.

It is a real `websockets` server on loopback, so the provider's own connection, timeouts and
failover run unchanged; only what the server says is scripted. Test code only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from interaction.judge_features import word_key

SegmentsScript = Callable[[int], list[dict[str, Any]] | None]
"""Given the number of audio bytes received so far, the segments to send (None: nothing)."""


@dataclass
class Script:
    """What the peer does. `before_ready`: "ready", "wait", "error", "hang", "close", "garbage".

    `at_end`: what END_OF_AUDIO gets: "final", "hang", "close", "error_final".
    `error_after_bytes`: send an ERROR status once this much audio arrived.
    `evidence`: given the audio bytes received so far, the `evidence` body a
    `parley.evaluate` request gets back (None: answer with an error; unset: never answer).
    `keeps`: after a final, keep the connection for the next utterance when the client asks
    (`"reuse": true`), as Parley's server does; False: close, as stock WhisperLive does.
    `closes_kept`: close a kept connection when the next utterance's options arrive on it
    (the server's idle bound ran out just then).
    `strays`: messages naming another utterance (late replies on a kept connection), sent
    before SERVER_READY and again after it.
    `on_cancel`: what `parley.cancel` gets: "answer" (`parley.cancelled`, then as after a
    final) or "ignore".
    """

    before_ready: str = "ready"
    at_end: str = "final"
    segments: SegmentsScript | None = None
    final: dict[str, Any] = field(default_factory=dict)
    error_after_bytes: int | None = None
    warning_first: bool = False
    evidence: Callable[[int], dict[str, Any] | None] | None = None
    keeps: bool = True
    closes_kept: bool = False
    strays: tuple[dict[str, Any], ...] = ()
    on_cancel: str = "answer"


@dataclass
class Connection:
    """What one client did on the peer."""

    options: dict[str, Any]
    frames: list[bytes] = field(default_factory=list)
    end_of_audio: bool = False
    cancelled: bool = False
    evaluations: list[tuple[int, int]] = field(default_factory=list)
    """(request id, audio bytes received when it came) of each parley.evaluate."""

    @property
    def audio_bytes(self) -> int:
        return sum(len(f) for f in self.frames)

    @property
    def reuse(self) -> bool:
        parley = self.options.get("parley")
        return isinstance(parley, dict) and parley.get("reuse") is True


class ScriptedPeer:
    """`async with ScriptedPeer(Script(...)) as peer:` then connect to `peer.url`."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.connections: list[Connection] = []
        self.sockets = 0
        """WebSocket connections accepted (a kept one carries several `connections`)."""
        self._server: Server | None = None
        self.url = ""

    async def __aenter__(self) -> ScriptedPeer:
        self._server = await serve(self._handle, "127.0.0.1", 0, compression=None)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        self.sockets += 1
        kept = False
        with contextlib.suppress(ConnectionClosed):
            while await self._converse(ws, kept=kept):
                kept = True  # the next utterance's options come on the same connection

    async def _converse(self, ws: ServerConnection, *, kept: bool = False) -> bool:
        """One utterance; True when the connection was kept for the next one."""
        script = self.script
        options = json.loads(await ws.recv())
        if kept and script.closes_kept:
            await ws.close()
            return False
        conn = Connection(options=options)
        self.connections.append(conn)
        uid = options.get("uid")
        for stray in script.strays:
            await ws.send(json.dumps(stray))
        if script.before_ready == "hang":
            await ws.wait_closed()
            return False
        if script.before_ready == "close":
            await ws.close()
            return False
        if script.before_ready == "garbage":
            await ws.send("this is not json")
            await ws.wait_closed()
            return False
        if script.before_ready == "wait":
            await ws.send(json.dumps({"uid": uid, "status": "WAIT", "message": 2.5}))
            await ws.close()
            return False
        if script.before_ready == "error":
            await ws.send(
                json.dumps({"uid": uid, "status": "ERROR", "message": "Failed to load model"})
            )
            await ws.close()
            return False
        if script.warning_first:
            await ws.send(json.dumps({"uid": uid, "status": "WARNING", "message": "fallback"}))
        await ws.send(
            json.dumps({"uid": uid, "message": "SERVER_READY", "backend": "faster_whisper"})
        )
        for stray in script.strays:
            await ws.send(json.dumps(stray))
        error_sent = False
        async for frame in ws:
            if frame == b"END_OF_AUDIO":
                conn.end_of_audio = True
                return await self._end(ws, uid, conn)
            if isinstance(frame, str):
                request = json.loads(frame)
                if request.get("type") != "parley.cancel":
                    await self._evaluate(ws, uid, conn, request)
                elif script.on_cancel == "answer":
                    conn.cancelled = True
                    await ws.send(json.dumps({"uid": uid, "type": "parley.cancelled"}))
                    if conn.reuse and script.keeps:
                        return True
                    await ws.close()
                    return False
                continue
            conn.frames.append(frame)
            if (
                script.error_after_bytes is not None
                and not error_sent
                and conn.audio_bytes >= script.error_after_bytes
            ):
                error_sent = True
                await ws.send(json.dumps({"uid": uid, "status": "ERROR", "message": "GPU fell"}))
            if script.segments is not None:
                segments = script.segments(conn.audio_bytes)
                if segments is not None:
                    await ws.send(json.dumps({"uid": uid, "segments": segments}))
        return False

    async def _evaluate(
        self, ws: ServerConnection, uid: str, conn: Connection, request: dict[str, Any]
    ) -> None:
        assert request.get("type") == "parley.evaluate", request
        conn.evaluations.append((request["id"], conn.audio_bytes))
        if self.script.evidence is None:
            return
        body = self.script.evidence(conn.audio_bytes)
        reply: dict[str, Any] = {"uid": uid, "type": "parley.evidence", "id": request["id"]}
        reply |= {"evidence": body, "asr_ms": 123} if body is not None else {"error": "boom"}
        await ws.send(json.dumps(reply))

    async def _end(self, ws: ServerConnection, uid: str, conn: Connection) -> bool:
        at_end = self.script.at_end
        if at_end == "hang":
            await ws.wait_closed()
        elif at_end == "close":
            await ws.close()
        elif at_end == "error_final":
            await ws.send(json.dumps({"uid": uid, "type": "parley.final", "error": "boom"}))
            await ws.close()
        else:
            await ws.send(json.dumps({"uid": uid, "type": "parley.final", **self.script.final}))
            if conn.reuse and self.script.keeps:
                return True
            await ws.close()
        return False


def evidence_payload(
    text: str = "Je voudrais un café.",
    *,
    probabilities: tuple[float, ...] = (0.9, 0.8, 0.7),
    no_speech_prob: float = 0.1,
    language_probabilities: dict[str, float] | None = None,
    audio_s: float = 2.0,
    answers: dict[str, float] | None = None,
    transcript_logprob: float = -0.2,
) -> dict[str, Any]:
    """An evidence payload shaped like `answer_evidence`'s: one word per probability,
    `answers` maps each accepted answer to its teacher-forced mean log-probability."""
    tokens = text.split()
    words = [
        {
            "word": " " + tokens[i % len(tokens)],
            "start": 0.3 * i,
            "end": 0.3 * i + 0.25,
            "probability": p,
        }
        for i, p in enumerate(probabilities if tokens else ())
    ]
    probs = language_probabilities if language_probabilities is not None else {"fr": 0.9, "en": 0.1}
    speech = bool(text)
    return {
        "version": 1,
        "target_language": "fr",
        "other_languages": ["en"],
        "audio_s": audio_s,
        "speech_s": audio_s if speech else 0.0,
        "speech": [[0.0, audio_s]] if speech else [],
        "no_speech": not speech,
        "window_s": 10.0 if speech else None,
        "language_probabilities": probs if speech else {},
        "language_probabilities_raw": probs if speech else {},
        "transcript": text,
        "transcript_score": {
            "tokens": len(tokens),
            "mean_logprob": transcript_logprob,
            "word_logprobs": [[token, transcript_logprob] for token in tokens],
        }
        if speech
        else None,
        "decode_logprob": _decode_logprob("fr", probs, transcript_logprob),
        "no_speech_prob": no_speech_prob if speech else None,
        "looped": False,
        "truncated": False,
        "answers": [
            {
                "answer": answer,
                "filler": None,
                "tokens": 4,
                "mean_logprob": logprob,
                "word_logprobs": _answer_words(answer, logprob, tokens, transcript_logprob),
            }
            for answer, logprob in (answers or {}).items()
        ],
        "words": words if speech else [],
        "answer_words": [],
        "other_transcripts": {
            lang: {
                "text": text,
                "decode_logprob": _decode_logprob(lang, probs, transcript_logprob),
                "looped": False,
            }
            for lang in probs
            if lang != "fr"
        }
        if speech
        else {},
        "timings_ms": {"total": 250.0},
    }


def _decode_logprob(language: str, probabilities: dict[str, float], heard: float) -> float:
    """A decode forced to `language` fits as well as the transcript when the speech is in it
    (the likeliest language), a nat a token worse otherwise, as the real pass's do."""
    top = max(probabilities, key=lambda lang: probabilities[lang], default=language)
    return heard if language == top else heard - 1.0


def _answer_words(
    answer: str, mean: float, heard: list[str], heard_logprob: float
) -> list[list[Any]]:
    """An answer's words teacher-forced: the words it shares with the transcript as likely as
    the transcript's, the others carrying the rest of its mean log-probability."""
    keys = {word_key(word) for word in heard}
    words = answer.split()
    shared = [word_key(word) in keys for word in words]
    differing = len(words) - sum(shared)
    rest = (mean * len(words) - heard_logprob * sum(shared)) / differing if differing else 0.0
    return [
        [word, heard_logprob if is_shared else round(rest, 4)]
        for word, is_shared in zip(words, shared, strict=True)
    ]


def final_message(text: str = "Je voudrais un café.", **evidence: Any) -> dict[str, Any]:
    """A `parley.final` body like the real server's (without `type`, which the peer adds)."""
    return {"evidence": evidence_payload(text, **evidence), "asr_ms": 321}


@contextlib.contextmanager
def threaded_peer(script: Any) -> Iterator[Any]:
    """A scripted WhisperLive peer (tests/asr/whisperlive_peer.py) on a thread's own loop, for
    a server process to use as its ASR; its `.url`."""
    loop = asyncio.new_event_loop()
    peer = ScriptedPeer(script)
    ready = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        async with peer:
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the scripted peer did not start"
    try:
        yield peer
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
