"""Messages per second per user on the socket: a token bucket shared by the user's sockets.

One bucket per user and process (a user's sockets on one Daphne process share it), from
settings.STREAM_RATE: `text_per_s`/`text_burst` for control frames, `audio_per_s`/
`audio_burst` for binary frames (a microphone sends 10 a second). A frame over the limit is
dropped; the client hears `rate_limited` once per spell, not once per frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.conf import settings


@dataclass
class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; one token per frame."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst  # a new bucket starts full

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class UserRate:
    text: TokenBucket
    audio: TokenBucket
    sockets: int = 0


_users: dict[object, UserRate] = {}
_KEEP_IDLE = 1024
"""Buckets of users without a socket are pruned once this many users are known."""


def rate_settings() -> dict[str, float]:
    return {"text_per_s": 20.0, "text_burst": 40.0, "audio_per_s": 60.0, "audio_burst": 120.0} | {
        key: float(value) for key, value in getattr(settings, "STREAM_RATE", {}).items()
    }


def user_rate_join(user_id: object) -> UserRate:
    """The user's buckets, for one more socket (release with `user_rate_leave`)."""
    rate = _users.get(user_id)
    if rate is None:
        if len(_users) >= _KEEP_IDLE:
            for idle in [key for key, kept in _users.items() if kept.sockets <= 0]:
                del _users[idle]
        limits = rate_settings()
        rate = _users[user_id] = UserRate(
            text=TokenBucket(limits["text_per_s"], limits["text_burst"]),
            audio=TokenBucket(limits["audio_per_s"], limits["audio_burst"]),
        )
    rate.sockets += 1
    return rate


def user_rate_leave(user_id: object) -> None:
    """One socket fewer; the buckets stay (a reconnect does not refill them) until pruned."""
    rate = _users.get(user_id)
    if rate is not None:
        rate.sockets -= 1
