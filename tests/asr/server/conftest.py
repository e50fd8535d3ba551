"""Fixtures for tests of what runs inside the ASR process."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def model() -> Any:
    """The multilingual base model in-process (CPU int8, 2 threads), loaded once."""
    from faster_whisper import WhisperModel

    from interaction.asr.server.model_files import ensure_model

    return WhisperModel(
        str(ensure_model("base")),
        device="cpu",
        compute_type="int8",
        cpu_threads=2,
        local_files_only=True,
    )
