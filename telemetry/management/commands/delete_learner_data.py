from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from telemetry.privacy import learner_data_delete


class Command(BaseCommand):
    help = (
        "Erase a learner's sessions (with their ledger), attempts, stream events, partial "
        "transcripts, kept audio, disputes and stream telemetry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--delete-account", action="store_true", help="Delete the user account too."
        )

    def handle(self, *args: Any, username: str, delete_account: bool, **options: Any) -> None:
        try:
            counts = learner_data_delete(username=username, delete_account=delete_account)
        except get_user_model().DoesNotExist as missing:
            raise CommandError(f"No user named {username!r}.") from missing
        summary = ", ".join(f"{name}: {count}" for name, count in counts.items())
        self.stdout.write(f"Deleted the data of {username} ({summary}).")
