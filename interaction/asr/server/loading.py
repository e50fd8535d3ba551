"""Choosing the device, loading the model from local files, and warming it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ctranslate2
import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps
from whisper_live.transcriber.transcriber_faster_whisper import WhisperModel

from ..types import SAMPLE_RATE


def pick_device(device: str = "auto") -> tuple[str, str]:
    """(device, compute_type): CUDA float16 when CTranslate2 sees a GPU, else CPU int8."""
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {device!r}")
    return device, "float16" if device == "cuda" else "int8"


def load_model(path: Path, *, device: str, compute_type: str, cpu_threads: int = 0) -> Any:
    """Load the model from a local directory and run it once, so no client pays for that.

    cpu_threads 0: all cores, up to 8. Returns whisper-live's `WhisperModel`.
    """
    if cpu_threads <= 0:
        cpu_threads = min(os.cpu_count() or 1, 8)
    model = WhisperModel(
        str(path),
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        local_files_only=True,
    )
    rng = np.random.default_rng(0)
    noise = (0.01 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)
    get_speech_timestamps(noise, VadOptions())  # loads Silero
    if model.model.is_multilingual:
        model.detect_language(audio=noise)
    model.transcribe(noise, language="en", beam_size=1, temperature=0.0, word_timestamps=True)
    return model
