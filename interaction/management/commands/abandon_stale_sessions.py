"""`manage.py abandon_stale_sessions [--older-than 24h]`: close sessions nobody plays any more.

Run it periodically (cron, a systemd timer). A session untouched for the given time (default:
`SESSION_ABANDON_AFTER_S`) becomes `abandoned`; its score, lives and ledger are not touched.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from interaction.services import session_abandon_stale

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")


def parse_duration(text: str) -> timedelta:
    """ "90" or "90s", "30m", "24h", "7d" → a timedelta; CommandError otherwise."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise CommandError(f"--older-than {text!r}: use a number with s, m, h or d (e.g. 24h).")
    seconds = float(match[1]) * _UNITS[match[2] or "s"]
    if seconds <= 0:
        raise CommandError("--older-than must be more than zero.")
    return timedelta(seconds=seconds)


class Command(BaseCommand):
    help = "Mark active sessions untouched for a while as abandoned (the ledger is untouched)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            default=None,
            help="How long untouched: 90s, 30m, 24h, 7d (default: SESSION_ABANDON_AFTER_S).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        raw = options["older_than"]
        older_than = (
            parse_duration(raw)
            if raw is not None
            else timedelta(seconds=settings.SESSION_ABANDON_AFTER_S)
        )
        count = session_abandon_stale(older_than=older_than)
        self.stdout.write(f"{count} session{'s' if count != 1 else ''} abandoned.")
