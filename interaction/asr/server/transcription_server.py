"""WhisperLive's server with Parley's two hooks: greedy partials and a final pass.

Stock WhisperLive streams revised segments while audio arrives, but on `END_OF_AUDIO` it
closes at once and drops whatever it had not yet marked completed. We keep its protocol and
use its own extension hook, `transcript_finalizer`, which runs once when `END_OF_AUDIO`
arrives while the socket is still open: for a client that sent a `"parley"` block in its
options, the finalizer stops the client's streaming loop and runs `final_pass` over the
whole utterance's audio, whose result goes back as one `parley.final` message before the
server closes the connection as usual. Clients without the block get stock behaviour.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from typing import Any

import numpy as np
from whisper_live.backend.faster_whisper_backend import ServeClientFasterWhisper
from whisper_live.server import TranscriptionServer

from ..wire import FINAL_TYPE, FinalMessage
from .final_pass import final_pass
from .locking import holding
from .options import FinalPassOptions
from .partials import start_partials

logger = logging.getLogger(__name__)

STREAM_JOIN_TIMEOUT_S = 10.0
# Streaming passes only feed partials (the verdict comes from the final pass): greedy, no
# temperature fallback. WhisperLive's defaults (beam 5 with fallback re-decodes) make each
# pass slower, which delays both the next partial and the final pass that waits for it.
PARTIAL_DECODE = {"beam_size": 1, "best_of": 1, "temperature": 0.0}
PARTIALS_ENV = "PARLEY_ASR_PARTIALS"
"""Set to "legacy" for WhisperLive's own streaming loop (with PARTIAL_DECODE) instead of
`partials.start_partials`: the bench measures both side by side."""


class ParleyTranscriptionServer(TranscriptionServer):
    """WhisperLive's server, plus a final pass per Parley connection at END_OF_AUDIO."""

    def initialize_client(
        self, websocket: Any, options: dict[str, Any], *args: Any, **kwargs: Any
    ) -> None:
        super().initialize_client(websocket, options, *args, **kwargs)
        client = self.client_manager.get_client(websocket)
        final_options = FinalPassOptions.from_connection(options)
        if not client or final_options is None:
            return
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

    def _finalize_client(
        self, client: Any, options: FinalPassOptions, _transcript: list[Any]
    ) -> FinalMessage:
        client.exit = True
        client.frames_ready.set()
        thread = getattr(client, "trans_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STREAM_JOIN_TIMEOUT_S)
        with client.lock:
            audio = client.frames_np.copy() if client.frames_np is not None else None
        if audio is None:
            audio = np.zeros(0, dtype=np.float32)
        lock = ServeClientFasterWhisper.SINGLE_MODEL_LOCK if self.single_model else None
        try:
            payload = final_pass(client.transcriber, audio, options, lock=lock)
        except Exception as exc:
            logger.exception("final pass failed for client %s", client.client_uid)
            return {"type": FINAL_TYPE, "error": f"final pass failed: {exc}"}
        logger.info(
            "final pass %s: %.1f s audio, %d ms, language %s, no_speech=%s",
            client.client_uid,
            payload.get("audio_s"),
            payload.get("asr_ms"),
            payload.get("language"),
            payload.get("no_speech"),
        )
        return payload


def partial_pass(client: Any, input_sample: np.ndarray) -> list[Any]:
    """WhisperLive's streaming decode (ServeClientFasterWhisper.transcribe_audio, lock path)
    with PARTIAL_DECODE options; `client` is a ServeClientFasterWhisper."""
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
