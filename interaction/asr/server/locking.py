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


class ModelLock:
    """The shared model's lock, with a second way in for background work (partials).

    `acquire`/`release`/`locked` and the context manager behave as `threading.Lock`'s
    (WhisperLive's own code and the evidence passes use them). `acquire_yielding` waits
    also while anyone is waiting in `acquire`: a pending evaluation or final pass gets the
    model next, behind at most the one decode in flight.
    """

    def __init__(self) -> None:
        self._state = threading.Condition(threading.Lock())
        self._held = False
        self._waiting = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        with self._state:
            if not self._held:
                self._held = True
                return True
            if not blocking:
                return False
            self._waiting += 1
            try:
                free = self._state.wait_for(
                    lambda: not self._held, timeout=None if timeout < 0 else timeout
                )
                if free:
                    self._held = True
                return free
            finally:
                self._waiting -= 1

    def acquire_yielding(self, timeout: float = -1) -> bool:
        """Take the lock only when it is free and nobody waits in `acquire`."""
        with self._state:
            free = self._state.wait_for(
                lambda: not self._held and self._waiting == 0,
                timeout=None if timeout < 0 else timeout,
            )
            if free:
                self._held = True
            return free

    def release(self) -> None:
        with self._state:
            if not self._held:
                raise RuntimeError("release unlocked lock")
            self._held = False
            self._state.notify_all()

    def locked(self) -> bool:
        return self._held

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()
