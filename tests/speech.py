"""Real speech for tests: espeak-ng voices, converted to 16 kHz mono 16-bit WAV by sox.

`sox -D` turns dithering off, so a clip is byte-for-byte the same on every run (and so is
its transcript). Needs the `espeak-ng` and `sox` programs.
"""

from __future__ import annotations

import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16_000
_FORMAT = ["-r", str(SAMPLE_RATE), "-c", "1", "-b", "16"]  # 16 kHz, mono, 16-bit


def speak(text: str, voice: str, *, speed: int = 150, path: Path) -> Path:
    """Synthesise `text` with espeak-ng `voice` at `speed` words/min into `path` (kept if there)."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
        _to_16k_mono(raw, path)
    return path


def reversed_speech(source: Path, *, path: Path) -> Path:
    """`source` played backwards: syllables nobody can make out, in the speaker's own voice."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["sox", "-D", str(source), str(path), "reverse"], check=True)
    return path


def silence(seconds: float, *, path: Path) -> Path:
    """`seconds` of digital silence as a 16 kHz mono 16-bit WAV."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["sox", "-D", "-n", *_FORMAT, str(path), "trim", "0", str(seconds)],
        check=True,
        capture_output=True,
    )
    return path


def _to_16k_mono(source: Path, target: Path) -> None:
    partial = target.with_suffix(".part.wav")
    subprocess.run(
        ["sox", "-D", str(source), *_FORMAT, str(partial)],
        check=True,
        capture_output=True,
    )
    partial.replace(target)


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit mono WAV as float32 samples in [-1, 1]."""
    with wave.open(str(path)) as wav:
        assert wav.getsampwidth() == 2, path
        assert wav.getnchannels() == 1, path
        frames = wav.readframes(wav.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0
