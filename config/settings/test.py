"""Settings for the test suite: the real Postgres and Redis, a separate channel prefix."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import CHANNEL_LAYERS, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = env("CHANNEL_PREFIX", default="parley-test")
