"""Streaming decode of a WebM/Opus byte stream (MediaRecorder's output) into 16 kHz float32.

MediaRecorder writes one WebM stream per recording, and only its first bytes carry the
header, so chunks cannot be decoded on their own. The decoder keeps the stream's bytes
(bounded) and, on each chunk, demuxes what has arrived and returns only the samples it has
not returned before. Quadratic in the stream's length, which the bound keeps small; it is
the fallback for browsers without AudioWorklet, whose PCM path needs none of this.
"""

from __future__ import annotations

import io

import av
import av.error
import numpy as np

from .types import SAMPLE_RATE

MAX_STREAM_BYTES = 4 * 1024 * 1024


class ContainerStreamDecoder:
    def __init__(self, *, max_bytes: int = MAX_STREAM_BYTES) -> None:
        self._data = bytearray()
        self._emitted = 0
        self._max_bytes = max_bytes

    def push(self, chunk: bytes) -> np.ndarray:
        """New 16 kHz mono float32 samples decodable after `chunk`; ValueError if not WebM."""
        self._data.extend(chunk)
        if len(self._data) > self._max_bytes:
            raise ValueError("the WebM stream is too long; reconnect to start a new one")
        samples = self._decode_all()
        fresh = samples[self._emitted :]
        self._emitted = max(self._emitted, samples.size)
        return fresh

    def _decode_all(self) -> np.ndarray:
        parts: list[np.ndarray] = []
        try:
            container = av.open(io.BytesIO(bytes(self._data)), format="matroska", mode="r")
        except (av.error.FFmpegError, EOFError) as error:
            if len(self._data) < 4096:
                return np.zeros(0, dtype=np.float32)  # the header may not be complete yet
            raise ValueError(f"not a WebM/Opus stream ({error})") from error
        # Planar, in the source's layout; channels are averaged below (FFmpeg's own downmix
        # adds them at -3 dB each, which clips loud stereo).
        resampler = av.AudioResampler(format="fltp", rate=SAMPLE_RATE)
        with container:
            if not container.streams.audio:
                raise ValueError("the WebM stream has no audio track")
            try:
                for frame in container.decode(container.streams.audio[0]):
                    for out in resampler.resample(frame):
                        parts.append(out.to_ndarray().mean(axis=0))
            except (av.error.FFmpegError, EOFError):
                pass  # the last cluster is still arriving: decode it with the next chunk
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
