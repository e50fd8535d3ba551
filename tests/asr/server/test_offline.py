"""The ASR process never downloads: it goes offline before any Hugging Face library loads.

Each case runs in a fresh interpreter with HF_HUB_OFFLINE unset and HF_ENDPOINT pointing at
a loopback socket that counts connections: a download attempt would reach that socket.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
MODEL_LIBRARIES = ("huggingface_hub", "faster_whisper", "whisper_live", "torch", "ctranslate2")


class HubProbe:
    """A loopback 'hub' that accepts, counts and drops every connection."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def hub() -> Iterator[HubProbe]:
    probe = HubProbe()
    try:
        yield probe
    finally:
        probe.close()


def run_python(*blocks: str, hub: HubProbe, tmp_path: Path) -> str:
    """Run the code blocks (each dedented) in a fresh interpreter; its stdout."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env |= {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", "".join(textwrap.dedent(b) for b in blocks)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


# Asks faster-whisper for a model by name: with the hub allowed, that is a download.
TRY_DOWNLOAD = """
    from faster_whisper.utils import download_model
    try:
        download_model("tiny", cache_dir={cache!r})
    except Exception as exc:
        print("refused:", type(exc).__name__)
    else:
        print("downloaded")
"""


def test_importing_the_server_package_loads_no_model_library_and_sets_nothing(hub, tmp_path):
    out = run_python(
        f"""
        import os, sys
        before = dict(os.environ)
        import interaction.asr.server
        print("loaded:", [m for m in sys.modules if m.split(".")[0] in {MODEL_LIBRARIES!r}])
        from interaction.asr.server import final_pass, loading, options, transcription_server
        print("environment unchanged:", dict(os.environ) == before)
        """,
        hub=hub,
        tmp_path=tmp_path,
    )
    assert "loaded: []" in out
    assert "environment unchanged: True" in out


def test_run_goes_offline_before_loading_the_model_libraries(hub, tmp_path):
    out = run_python(
        """
        import sys
        from interaction.asr.server import ModelError, run
        try:
            run(model="no-such-model")  # fails at the model lookup, after the imports
        except ModelError:
            pass
        import huggingface_hub.constants
        print("whisper-live loaded:", "whisper_live" in sys.modules)
        print("hub offline:", huggingface_hub.constants.HF_HUB_OFFLINE)
        """,
        TRY_DOWNLOAD.format(cache=str(tmp_path / "cache")),
        hub=hub,
        tmp_path=tmp_path,
    )
    assert "whisper-live loaded: True" in out
    assert "hub offline: True" in out
    assert "refused:" in out
    assert hub.connections == 0


def test_the_probe_sees_a_download_when_nothing_goes_offline(hub, tmp_path):
    """The control: without `run()`, the same request does reach the (fake) hub."""
    out = run_python(TRY_DOWNLOAD.format(cache=str(tmp_path / "cache")), hub=hub, tmp_path=tmp_path)
    assert "refused:" in out
    assert hub.connections > 0


def test_going_offline_after_the_hub_library_loaded_is_an_error(hub, tmp_path):
    out = run_python(
        """
        import huggingface_hub.constants  # reads HF_HUB_OFFLINE (unset) once, now
        from interaction.asr.server.runner import go_offline
        try:
            go_offline()
        except RuntimeError as exc:
            print("refused:", exc)
        """,
        hub=hub,
        tmp_path=tmp_path,
    )
    assert "refused: huggingface_hub was imported before" in out
