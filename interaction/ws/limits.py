"""Bounds of one stream, from settings.STREAM_LIMITS (one flat dict of seconds)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from django.conf import settings

from interaction.ws.endpointing import EndpointingParams

ENDPOINTING_NAMES = frozenset(item.name for item in fields(EndpointingParams))


@dataclass(frozen=True)
class StreamLimits:
    """Bounds of one stream, in seconds; where utterances begin and end is `endpointing`'s."""

    endpointing: EndpointingParams = field(default_factory=EndpointingParams)
    partial_interval_s: float = 0.25
    flush_interval_s: float = 1.0
    max_backlog_s: float = 10.0
    relay_chunk_s: float = 0.3

    @classmethod
    def from_settings(cls) -> StreamLimits:
        """STREAM_LIMITS may name any field here or of EndpointingParams (max_utterance_s…)."""
        values: dict[str, Any] = dict(getattr(settings, "STREAM_LIMITS", {}))
        endpointing = {name: values.pop(name) for name in list(values) if name in ENDPOINTING_NAMES}
        return cls(endpointing=EndpointingParams(**endpointing), **values)
