"""Starting the ASR process: offline first, then the model, then the socket, then the ready line.

Nothing heavy is imported at module level: `run()` makes the process offline
(`HF_HUB_OFFLINE=1`) before faster-whisper and whisper-live, which import the Hugging Face
libraries, are loaded, so no model or file can be downloaded.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..wire import READY_MARKER
from .locking import ModelLock
from .model_files import ensure_model


def go_offline() -> None:
    """Forbid Hugging Face downloads in this process; call before any HF library loads.

    huggingface_hub reads HF_HUB_OFFLINE once, when it is imported: if it already was,
    without the flag, setting it now would be a promise not kept, so that is an error.
    """
    os.environ["HF_HUB_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and not getattr(constants, "HF_HUB_OFFLINE", False):
        raise RuntimeError(
            "huggingface_hub was imported before the ASR server went offline; "
            "start the server through `manage.py run_asr_server` or set HF_HUB_OFFLINE=1"
        )


def run(
    host: str = "127.0.0.1",
    port: int = 9090,
    model: str = "base",
    max_clients: int = 4,
    *,
    model_dir: Path | None = None,
    device: str = "auto",
    cpu_threads: int = 0,
    max_connection_time: int = 600,
    announce: Callable[[str], None] | None = None,
) -> None:
    """Load and warm the model, then serve WhisperLive's protocol until interrupted.

    One model is loaded before the socket opens (`single_model`) and shared by every
    connection behind WhisperLive's `SINGLE_MODEL_LOCK`. `announce` gets the READY_MARKER
    line once the socket listens (default: stdout).
    """
    go_offline()
    from whisper_live.backend.faster_whisper_backend import ServeClientFasterWhisper

    from .loading import load_model, pick_device
    from .transcription_server import ParleyTranscriptionServer

    announce = announce or functools.partial(print, flush=True)
    started = time.perf_counter()
    path = ensure_model(model, model_dir)
    device, compute_type = pick_device(device)
    transcriber = load_model(
        path, device=device, compute_type=compute_type, cpu_threads=cpu_threads
    )
    ServeClientFasterWhisper.SINGLE_MODEL = transcriber
    # Partials yield the model to evaluations and final passes (locking.ModelLock).
    ServeClientFasterWhisper.SINGLE_MODEL_LOCK = ModelLock()
    load_s = time.perf_counter() - started
    url = f"ws://{host}:{port}"
    _announce_when_listening(
        lambda: announce(
            f"{READY_MARKER} {url} model={model} device={device} "
            f"compute={compute_type} load_s={load_s:.1f}"
        )
    )
    ParleyTranscriptionServer().run(
        host,
        port=port,
        backend="faster_whisper",
        faster_whisper_custom_model_path=str(path),
        single_model=True,
        max_clients=max_clients,
        max_connection_time=max_connection_time,
    )


def _announce_when_listening(callback: Callable[[], None]) -> None:
    """Call `callback` once the websockets server logs that it listens (i.e. after bind)."""

    class _Listening(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("server listening on"):
                server_logger.removeHandler(self)
                callback()

    server_logger = logging.getLogger("websockets.server")
    if server_logger.getEffectiveLevel() > logging.INFO:
        server_logger.setLevel(logging.INFO)
    server_logger.addHandler(_Listening(level=logging.INFO))
