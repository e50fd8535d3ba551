"""The streaming WebM/Opus decoder returns each sample once, whatever the chunking."""

from __future__ import annotations

import numpy as np
import pytest

from interaction.asr.stream_audio import ContainerStreamDecoder
from tests.asr.audio_files import encode, tone


@pytest.mark.parametrize("chunk_bytes", [500, 4096, 10**6])
def test_chunks_decode_to_the_whole_clip_once(chunk_bytes: int) -> None:
    data = encode(tone(2.0, rate=48_000, channels=2), rate=48_000, fmt="webm_opus")
    decoder = ContainerStreamDecoder()
    parts = [decoder.push(data[i : i + chunk_bytes]) for i in range(0, len(data), chunk_bytes)]
    samples = np.concatenate(parts)
    assert samples.size == pytest.approx(2.0 * 16_000, rel=0.03)
    assert 0.1 < float(np.abs(samples).max()) <= 1.0  # not silent, not clipped


def test_garbage_is_refused() -> None:
    decoder = ContainerStreamDecoder()
    with pytest.raises(ValueError, match="not a WebM"):
        decoder.push(b"not webm at all" * 1000)


def test_the_stream_is_bounded() -> None:
    decoder = ContainerStreamDecoder(max_bytes=1000)
    with pytest.raises(ValueError, match="too long"):
        decoder.push(b"\x1a\x45\xdf\xa3" + b"\0" * 2000)
