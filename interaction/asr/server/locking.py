"""Holding the one model every connection shares (WhisperLive's SINGLE_MODEL_LOCK)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

MODEL_LOCK_TIMEOUT_S = 60.0


@contextlib.contextmanager
def holding(lock: threading.Lock | None) -> Iterator[None]:
    """Hold `lock` (None: nothing to hold); TimeoutError past MODEL_LOCK_TIMEOUT_S."""
    if lock is None:
        yield
        return
    if not lock.acquire(timeout=MODEL_LOCK_TIMEOUT_S):
        raise TimeoutError(f"the shared model stayed busy for {MODEL_LOCK_TIMEOUT_S:g} s")
    try:
        yield
    finally:
        lock.release()
