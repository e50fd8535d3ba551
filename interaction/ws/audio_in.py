"""Binary frames to 16 kHz float32 samples: pcm_s16le resampled, or WebM/Opus decoded."""

from __future__ import annotations

import asyncio

import numpy as np

from interaction.asr.audio import PcmResampler
from interaction.asr.stream_audio import ContainerStreamDecoder
from interaction.ws.errors import StreamError

MAX_AUDIO_FRAME_BYTES = 64 * 1024


class AudioInput:
    """One connection's decoder, made at the start (its state spans frames)."""

    def __init__(self, *, encoding: str, sample_rate: int) -> None:
        self.encoding, self.sample_rate = encoding, sample_rate
        self._decoder: PcmResampler | ContainerStreamDecoder = (
            PcmResampler(sample_rate) if encoding == "pcm_s16le" else ContainerStreamDecoder()
        )

    async def convert(self, chunk: bytes) -> np.ndarray:
        if self.encoding == "pcm_s16le" and len(chunk) % 2:
            raise StreamError("bad_audio", "pcm_s16le frames need an even number of bytes.")
        try:
            if isinstance(self._decoder, ContainerStreamDecoder):
                # Demuxing the WebM stream so far is real CPU work: off the event loop.
                return await asyncio.to_thread(self._decoder.push, chunk)
            return self._decoder.push(chunk)
        except ValueError as undecodable:
            raise StreamError("bad_audio", f"Cannot decode the audio: {undecodable}") from None
