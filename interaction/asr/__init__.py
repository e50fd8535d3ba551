"""Speech recognition for Parley: the provider contract, WhisperLive client, audio, confidence.

`get_provider()` is the one way the app obtains a provider; it reads the ASR_* settings.
The ASR server process lives in the `server` subpackage; `wire` is what both sides spell.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .whisperlive import WhisperLiveProvider


def get_provider() -> WhisperLiveProvider:
    """The WhisperLive provider for the configured server pool (one per settings value)."""
    from django.conf import settings

    return _provider(
        tuple(settings.ASR_SERVERS),
        float(settings.ASR_CONNECT_TIMEOUT_S),
        float(settings.ASR_READ_TIMEOUT_S),
        float(settings.ASR_FINAL_TIMEOUT_S),
        settings.ASR_MODEL,
        float(settings.ASR_KEEP_IDLE_S),
    )


@functools.lru_cache(maxsize=8)
def _provider(
    servers: tuple[str, ...],
    connect_timeout: float,
    read_timeout: float,
    final_timeout: float,
    model: str,
    keep_idle_s: float,
) -> WhisperLiveProvider:
    # Cached so the pool's rotation and kept connections are shared by the whole process.
    from .whisperlive import WhisperLiveProvider

    return WhisperLiveProvider(
        servers,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        final_timeout=final_timeout,
        model=model,
        keep_idle_s=keep_idle_s,
    )
