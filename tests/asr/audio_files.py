"""Encode test clips with PyAV itself, so every container the API accepts is exercised."""

from __future__ import annotations

import io

import av
import numpy as np

FORMATS = {
    # name: (muxer, encoder)
    "wav": ("wav", "pcm_s16le"),
    "ogg_opus": ("ogg", "libopus"),
    "webm_opus": ("webm", "libopus"),
    "mp3": ("mp3", "libmp3lame"),
}


def tone(seconds: float, *, rate: int = 44_100, channels: int = 2, level: float = 0.3):
    """A 440 Hz sine, float32 of shape (channels, samples)."""
    t = np.arange(int(seconds * rate)) / rate
    wave = (level * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.tile(wave, (channels, 1))


def encode(samples: np.ndarray, *, rate: int, fmt: str) -> bytes:
    """Encode planar float32 `samples` (channels, n) at `rate` into container `fmt`."""
    muxer, codec = FORMATS[fmt]
    layout = "stereo" if samples.shape[0] == 2 else "mono"
    out_rate = 48_000 if codec == "libopus" else rate
    buf = io.BytesIO()
    with av.open(buf, "w", format=muxer) as container:
        stream = container.add_stream(codec, rate=out_rate)
        assert isinstance(stream, av.AudioStream)
        stream.layout = layout
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples), format="fltp", layout=layout
        )
        frame.sample_rate = rate
        sample_format = stream.codec_context.format
        assert sample_format is not None
        resampler = av.AudioResampler(format=sample_format.name, layout=layout, rate=out_rate)
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            converted.pts = None
            for packet in stream.encode(converted):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()
