"""interaction/ws/audio_in.py: binary frames to 16 kHz float32 samples, or `bad_audio`."""

from __future__ import annotations

import numpy as np
import pytest

from interaction.ws.audio_in import AudioInput
from interaction.ws.errors import StreamError


async def test_pcm_at_16_khz_is_scaled_to_floats() -> None:
    audio = AudioInput(encoding="pcm_s16le", sample_rate=16_000)
    samples = await audio.convert(np.array([0, 16384, -32768], "<i2").tobytes())
    assert samples.dtype == np.float32
    assert samples.tolist() == pytest.approx([0.0, 0.5, -1.0], abs=1e-3)


async def test_pcm_at_another_rate_is_resampled_across_frames() -> None:
    audio = AudioInput(encoding="pcm_s16le", sample_rate=48_000)
    frame = np.zeros(4_800, "<i2").tobytes()  # 0.1 s at 48 kHz
    total = sum([(await audio.convert(frame)).size for _ in range(10)])
    assert abs(total - 16_000) <= 160  # one second at 16 kHz, give or take the filter's delay


@pytest.mark.parametrize(
    ("encoding", "chunk"),
    [("pcm_s16le", b"\x00\x01\x02"), ("webm_opus", b"this is not a webm stream" * 200)],
)
async def test_undecodable_frames_are_bad_audio(encoding: str, chunk: bytes) -> None:
    audio = AudioInput(encoding=encoding, sample_rate=16_000)

    async def three_frames() -> None:
        for _ in range(3):
            await audio.convert(chunk)

    with pytest.raises(StreamError) as refused:
        await three_frames()
    assert refused.value.code == "bad_audio"
