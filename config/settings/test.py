"""Settings for the test suite: the real Postgres and Redis, a separate channel prefix."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import CACHES, CHANNEL_LAYERS, SECRET_KEY, env

DEBUG = False
SECRET_KEY = SECRET_KEY or "parley-test-key"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = env("CHANNEL_PREFIX", default="parley-test")
# Throttle counters of parallel test runs never meet, nor the channel layer's keys
# (tests/conftest.py empties this prefix around each test).
CACHES["default"]["KEY_PREFIX"] = env(
    "CACHE_PREFIX", default=env("CHANNEL_PREFIX", default="parley-test") + "-cache"
)
