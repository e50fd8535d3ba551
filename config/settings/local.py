"""Settings for a developer's machine: debug on, everything else from base.

Only used when asked for: `DJANGO_SETTINGS_MODULE=config.settings.local`.
"""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import SECRET_KEY, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "parley-local-development-key-change-me"
