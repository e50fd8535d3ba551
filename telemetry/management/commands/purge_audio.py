from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from telemetry.privacy import audio_purge


class Command(BaseCommand):
    help = "Delete kept answer audio older than DAYS (default settings.AUDIO_RETENTION_DAYS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, metavar="DAYS", default=None)

    def handle(self, *args: Any, older_than: int | None, **options: Any) -> None:
        days = settings.AUDIO_RETENTION_DAYS if older_than is None else older_than
        if days < 0:
            self.stderr.write("--older-than must be 0 or more days.")
            raise SystemExit(2)
        deleted = audio_purge(older_than_days=days)
        self.stdout.write(f"Deleted {deleted} audio clip(s) older than {days} day(s).")
