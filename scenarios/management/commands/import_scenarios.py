from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from scenarios.files import DEMO_DIR, scenario_files_import


class Command(BaseCommand):
    help = "Import scenario YAML files (idempotent on slug; a file with any error imports nothing)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="*", type=Path, help="YAML files or directories.")
        parser.add_argument(
            "--demo", action="store_true", help="Import the bundled demo scenarios."
        )

    def handle(self, *args, files: list[Path], demo: bool, **options) -> None:
        paths: list[Path] = []
        for item in [*files, *([DEMO_DIR] if demo else [])]:
            if item.is_dir():
                paths.extend(sorted([*item.glob("*.yaml"), *item.glob("*.yml")]))
            else:
                paths.append(item)
        if not paths:
            raise CommandError("Give scenario files (or directories), or --demo.")
        failed = 0
        for result in scenario_files_import(paths):
            if result.ok:
                self.stdout.write(f"imported {result.slug} from {result.path}")
                continue
            failed += 1
            for error in result.errors:
                self.stderr.write(f"{result.path}: {error.field}: {error.message}")
        if failed:
            raise CommandError(
                f"{failed} of {len(paths)} file(s) had errors and were not imported."
            )
