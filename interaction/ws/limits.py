"""Bounds of one stream, from settings.STREAM_LIMITS."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from interaction.ws.endpointing import EndpointingParams


@dataclass(frozen=True)
class StreamLimits:
    """Bounds of one stream; seconds unless named otherwise (voice_rms: 0..1 of full scale)."""

    max_utterance_s: float = 30.0
    silence_end_s: float = 1.2
    min_speech_s: float = 0.3
    voice_rms: float = 0.01
    partial_interval_s: float = 0.25
    flush_interval_s: float = 1.0
    max_backlog_s: float = 10.0

    @classmethod
    def from_settings(cls) -> StreamLimits:
        return cls(**getattr(settings, "STREAM_LIMITS", {}))

    def endpointing(self) -> EndpointingParams:
        return EndpointingParams(
            voice_rms=self.voice_rms,
            min_speech_s=self.min_speech_s,
            silence_end_s=self.silence_end_s,
            max_utterance_s=self.max_utterance_s,
        )
