from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from telemetry.privacy import transcripts_purge


class Command(BaseCommand):
    help = (
        "Forget transcripts older than DAYS (default settings.TRANSCRIPT_RETENTION_DAYS): "
        "attempts keep their outcome and scores, partials and text-bearing events go."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", type=int, metavar="DAYS", default=None)

    def handle(self, *args: Any, older_than: int | None, **options: Any) -> None:
        days = settings.TRANSCRIPT_RETENTION_DAYS if older_than is None else older_than
        if days < 0:
            self.stderr.write("--older-than must be 0 or more days.")
            raise SystemExit(2)
        counts = transcripts_purge(older_than_days=days)
        summary = ", ".join(f"{name}: {count}" for name, count in counts.items())
        self.stdout.write(f"Transcripts older than {days} day(s) removed ({summary}).")
