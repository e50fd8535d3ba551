"""Which ASR servers may be asked now: one circuit breaker per server, with backoff.

Pure (no I/O, no Django): the provider asks `ServerBreaker.admits()` before it connects and
reports how the attempt went. A server that is down (refused, timed out, dropped an
utterance) is skipped for a backoff that doubles per consecutive failure, from
`down_backoff_s` up to `max_backoff_s`; a server that answered WAIT (full) is skipped for
`busy_backoff_s` (doubling too, to the same cap), since a full server frees a slot when an
utterance ends, usually within seconds. When a backoff has passed, one caller gets to try
(half-open); the others keep skipping it until that trial says how the server is. Without
the breaker, every voiced frame after a refusal opened a new connection to a server that
could not take it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class Failure(StrEnum):
    BUSY = "busy"  # the server answered WAIT: all its slots are taken
    DOWN = "down"  # refused, timed out, errored or dropped the connection


@dataclass
class ServerBreaker:
    """The circuit of one server. Times are `clock()` seconds (monotonic)."""

    busy_backoff_s: float = 1.0
    down_backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0  # consecutive failures (0: closed)
    last_failure: Failure | None = None
    open_until: float = 0.0
    trial_until: float = field(default=0.0)
    """While a half-open trial is under way, others skip the server until then."""

    def admits(self, *, trial_s: float) -> bool:
        """May this caller try the server now? After a backoff, only one caller (the trial)
        is admitted for the next `trial_s` seconds."""
        now = self.clock()
        if self.failures == 0:
            return True
        if now < self.open_until or now < self.trial_until:
            return False
        self.trial_until = now + trial_s
        return True

    def succeeded(self) -> None:
        self.failures, self.last_failure = 0, None
        self.open_until = self.trial_until = 0.0

    def failed(self, kind: Failure) -> None:
        self.failures += 1
        self.last_failure = kind
        base = self.busy_backoff_s if kind == Failure.BUSY else self.down_backoff_s
        backoff = min(base * 2 ** (self.failures - 1), self.max_backoff_s)
        self.open_until = self.clock() + backoff
        self.trial_until = 0.0

    def retry_in(self) -> float:
        """Seconds until the server may be tried again (0 when it may be now)."""
        return max(0.0, max(self.open_until, self.trial_until) - self.clock())
