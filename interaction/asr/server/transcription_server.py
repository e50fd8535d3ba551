"""WhisperLive's server with Parley's hooks: greedy partials, mid-stream evaluations, a final.

Stock WhisperLive streams revised segments while audio arrives, but on `END_OF_AUDIO` it
closes at once and drops whatever it had not yet marked completed. We keep its protocol and
use its own extension hook, `transcript_finalizer`, which runs once when `END_OF_AUDIO`
arrives while the socket is still open: for a client that sent a `"parley"` block in its
options, the finalizer stops the client's streaming loop and runs `final_pass` (the fair
judge's evidence pass) over the whole utterance's audio, whose result goes back as one
`parley.final` message before the server closes the connection as usual.

Stock WhisperLive reads every frame as audio; this server also takes one text frame,
`{"type": "parley.evaluate", "id": N}`: the evidence over the audio received so far, sent
back as `parley.evidence` with the same `id` while the stream goes on (the pass runs in a
thread of its own, so audio keeps arriving). Clients without the block get stock behaviour.

Stock WhisperLive serves one utterance per connection. A Parley client that sends
`"reuse": true` in its block keeps the connection after the final, or after dropping the
utterance with a `{"type": "parley.cancel"}` text frame (answered `parley.cancelled`,
without a pass: an answer judged at a pause needs no final): the server then waits
for the next utterance's options on it (for at most `KEPT_IDLE_S`), and serves that
utterance as if it had just connected (admission, a fresh client and uid). Between two
utterances the connection holds no recogniser slot. A client saves the TCP connect, the
HTTP upgrade and the closing handshake of every utterance after its first.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
from typing import Any

import numpy as np
from websockets.exceptions import ConnectionClosed
from whisper_live.backend.faster_whisper_backend import ServeClientFasterWhisper
from whisper_live.server import TranscriptionServer

from ..wire import (
    CANCEL_TYPE,
    CANCELLED_TYPE,
    EVALUATE_TYPE,
    EVIDENCE_TYPE,
    FINAL_TYPE,
    FinalMessage,
    parse_message,
)
from .final_pass import final_pass
from .locking import holding
from .options import FinalPassOptions
from .partials import start_partials

logger = logging.getLogger(__name__)

STREAM_JOIN_TIMEOUT_S = 10.0
# Streaming passes only feed partials (the verdict comes from the evidence pass): greedy,
# no temperature fallback. WhisperLive's defaults (beam 5 with fallback re-decodes) make
# each pass slower, which delays both the next partial and the final pass that waits for it.
PARTIAL_DECODE = {"beam_size": 1, "best_of": 1, "temperature": 0.0}
KEPT_IDLE_ENV = "PARLEY_ASR_KEPT_IDLE_S"
KEPT_IDLE_S = 30.0
"""How long a kept connection may wait for its next utterance before the server closes it
(overridden by the environment variable KEPT_IDLE_ENV). Parley's client lets an idle
connection go sooner (ASR_KEEP_IDLE_S, 10 s), so it rarely finds one closed under it."""
PARTIALS_ENV = "PARLEY_ASR_PARTIALS"
"""Set to "legacy" for WhisperLive's own streaming loop (with PARTIAL_DECODE) instead of
`partials.start_partials`: the bench measures both side by side."""


class UtteranceSocket:
    """The connection as one utterance's WhisperLive client sees it.

    Its first `recv()` returns the options frame the server already read (a kept
    connection's next utterance); its `close()` leaves the socket open when the utterance
    ended with END_OF_AUDIO and a final, or with `parley.cancel`, for a client that asked
    to reuse the connection (`kept`). Everything else is the socket's own.
    """

    def __init__(self, websocket: Any, first_frame: str | bytes | None = None) -> None:
        self._websocket = websocket
        self._first_frame = first_frame
        self.end_of_audio = False
        self.cancelled = False
        self.kept = False

    def recv(self, *args: Any, **kwargs: Any) -> Any:
        if self._first_frame is not None:
            frame, self._first_frame = self._first_frame, None
            return frame
        return self._websocket.recv(*args, **kwargs)

    def send(self, *args: Any, **kwargs: Any) -> Any:
        return self._websocket.send(*args, **kwargs)

    def close(self, *args: Any, **kwargs: Any) -> None:
        if not self.kept:
            self._websocket.close(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._websocket, name)


def kept_idle_s() -> float:
    return float(os.environ.get(KEPT_IDLE_ENV) or KEPT_IDLE_S)


class ParleyTranscriptionServer(TranscriptionServer):
    """WhisperLive's server, plus evidence passes per Parley connection (mid-stream and final)."""

    def recv_audio(self, websocket: Any, *args: Any, **kwargs: Any) -> None:
        """Serve the connection's utterances: one, as stock WhisperLive does, or each in turn
        while the client keeps the connection (closed after KEPT_IDLE_S without one)."""
        first_frame: str | bytes | None = None
        while True:
            utterance = UtteranceSocket(websocket, first_frame)
            super().recv_audio(utterance, *args, **kwargs)
            if not utterance.kept:
                return
            idle_s = kept_idle_s()
            try:
                first_frame = websocket.recv(timeout=idle_s)
            except TimeoutError:
                logger.info("closing a kept connection idle for %g s", idle_s)
                websocket.close()
                return
            except ConnectionClosed:
                return

    def initialize_client(
        self, websocket: Any, options: dict[str, Any], *args: Any, **kwargs: Any
    ) -> None:
        super().initialize_client(websocket, options, *args, **kwargs)
        client = self.client_manager.get_client(websocket)
        final_options = FinalPassOptions.from_connection(options)
        if not client or final_options is None:
            return
        client.parley_options = final_options
        if not final_options.streaming:
            # A whole clip (time-stop): partial decodes would only delay the final pass.
            client.exit = True
            client.frames_ready.set()
        elif os.environ.get(PARTIALS_ENV) == "legacy":
            client.transcribe_audio = functools.partial(partial_pass, client)
        else:
            lock = ServeClientFasterWhisper.SINGLE_MODEL_LOCK if self.single_model else None
            start_partials(client, lock=lock)
        client.transcript_finalizer = functools.partial(
            self._finalize_client, client, final_options
        )

    def get_audio_from_websocket(self, websocket: Any) -> Any:
        """The next audio frame, answering Parley's text requests on the way.

        A text frame is never audio: `parley.evaluate` starts an evaluation, `parley.cancel`
        ends the utterance as END_OF_AUDIO does (its finalizer then runs no pass); anything
        else textual is logged and skipped (a stock server would have read it as samples).
        """
        while True:
            frame = websocket.recv()
            if not isinstance(frame, str):
                break
            if self._on_text_frame(websocket, frame) == CANCEL_TYPE:
                return False
        return self._audio_from_frame(websocket, frame)

    def _audio_from_frame(self, websocket: Any, frame: bytes) -> Any:
        """WhisperLive's own frame decoding (`get_audio_from_websocket`), on a frame in hand."""
        if frame == b"END_OF_AUDIO":
            if isinstance(websocket, UtteranceSocket):
                websocket.end_of_audio = True
            return False
        audio_format = self.audio_formats.get(websocket)
        if audio_format == "uint8":
            return (np.frombuffer(frame, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
        if self.raw_pcm_input or audio_format == "int16":
            return np.frombuffer(frame, dtype=np.int16).astype(np.float32) / 32768.0
        return np.frombuffer(frame, dtype=np.float32)

    def _on_text_frame(self, websocket: Any, frame: str) -> str | None:
        """Carry out a Parley request; its type, or None when it was ignored."""
        message = parse_message(frame)
        client = self.client_manager.get_client(websocket)
        options = getattr(client, "parley_options", None) if client else None
        kind = message.get("type") if message is not None and options is not None else None
        if kind == CANCEL_TYPE and isinstance(websocket, UtteranceSocket):
            websocket.cancelled = True
            return kind
        if kind != EVALUATE_TYPE:
            logger.warning("ignored a text frame that is not a Parley request")
            return None
        assert message is not None
        request_id = message.get("id")
        threading.Thread(
            target=self._evaluate,
            args=(client, options, request_id),
            name=f"parley-evaluate {getattr(client, 'client_uid', '?')}",
            daemon=True,
        ).start()
        return kind

    def _evaluate(self, client: Any, options: FinalPassOptions, request_id: Any) -> None:
        """Run the evidence pass on the audio so far and send `parley.evidence` (id echoed)."""
        audio = _audio_so_far(client)
        lock = ServeClientFasterWhisper.SINGLE_MODEL_LOCK if self.single_model else None
        payload: FinalMessage
        try:
            payload = final_pass(
                client.transcriber, audio, options, lock=lock, message_type=EVIDENCE_TYPE
            )
        except Exception as exc:
            logger.exception("evaluation failed for client %s", client.client_uid)
            payload = {"type": EVIDENCE_TYPE, "error": f"evaluation failed: {exc}"}
        if isinstance(request_id, int):
            payload["id"] = request_id
        try:
            client.websocket.send(json.dumps({"uid": client.client_uid, **payload}))
        except Exception:
            logger.info("client %s left before its evaluation", client.client_uid)

    def _finalize_client(
        self, client: Any, options: FinalPassOptions, _transcript: list[Any]
    ) -> FinalMessage:
        client.exit = True
        client.frames_ready.set()
        thread = getattr(client, "trans_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STREAM_JOIN_TIMEOUT_S)
        utterance = client.websocket if isinstance(client.websocket, UtteranceSocket) else None
        if utterance is not None and utterance.cancelled:
            utterance.kept = options.reuse  # the client dropped it: no pass, the next may come
            return {"type": CANCELLED_TYPE}
        audio = _audio_so_far(client)
        lock = ServeClientFasterWhisper.SINGLE_MODEL_LOCK if self.single_model else None
        try:
            payload = final_pass(client.transcriber, audio, options, lock=lock)
        except Exception as exc:
            logger.exception("final pass failed for client %s", client.client_uid)
            return {"type": FINAL_TYPE, "error": f"final pass failed: {exc}"}
        if options.reuse and utterance is not None:
            # Kept only after END_OF_AUDIO (not a time limit's end): the client is done
            # sending this utterance and waits for the final.
            utterance.kept = utterance.end_of_audio
        evidence = payload.get("evidence") or {}
        logger.info(
            "final pass %s: %.1f s audio, %d ms, language %s, no_speech=%s",
            client.client_uid,
            evidence.get("audio_s"),
            payload.get("asr_ms"),
            evidence.get("language_probabilities"),
            evidence.get("no_speech"),
        )
        return payload


def _audio_so_far(client: Any) -> np.ndarray:
    with client.lock:
        audio = client.frames_np.copy() if client.frames_np is not None else None
    return audio if audio is not None else np.zeros(0, dtype=np.float32)


def partial_pass(client: Any, input_sample: np.ndarray) -> list[Any]:
    """WhisperLive's streaming decode (ServeClientFasterWhisper.transcribe_audio, lock path)
    with PARTIAL_DECODE options; `client` is a ServeClientFasterWhisper.

    Partials decide nothing (the evidence pass does); they carry a prompt only when the
    client put one in WhisperLive's own options (Parley's client does not by default).
    """
    lock = (
        ServeClientFasterWhisper.SINGLE_MODEL_LOCK
        if ServeClientFasterWhisper.SINGLE_MODEL
        else None
    )
    with holding(lock):
        segments, info = client.transcriber.transcribe(
            input_sample,
            initial_prompt=client.initial_prompt,
            language=client.language,
            task=client.task,
            vad_filter=client.use_vad,
            vad_parameters=client.vad_parameters if client.use_vad else None,
            hotwords=client.hotwords,
            word_timestamps=client.word_timestamps,
            **PARTIAL_DECODE,
        )
        segments = list(segments or ())
    if client.language is None and info is not None:
        client.set_language(info)
    return segments
