"""Settings the run command uses (the default of manage.py and config/asgi.py): DEBUG off.

Everything can come from the environment; what a single machine on loopback needs works
without any: the secret key is generated on first use and kept in var/secret_key (mode 0600,
never committed), hosts default to loopback (base). Behind TLS set SESSION_COOKIE_SECURE and
CSRF_COOKIE_SECURE to true.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.utils import get_random_secret_key

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = False
SECRET_KEY_FILE = Path(env("SECRET_KEY_FILE", default=str(BASE_DIR / "var" / "secret_key")))


def secret_key_from_file(path: Path) -> str:
    """The key in `path`, created (0600, atomically) when missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(get_random_secret_key() + "\n")
        try:
            os.link(draft, path)  # fails if another process created it first: keep theirs
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


SECRET_KEY = env("SECRET_KEY", default="") or secret_key_from_file(SECRET_KEY_FILE)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
