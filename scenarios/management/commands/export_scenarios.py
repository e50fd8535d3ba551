from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from scenarios.files import scenario_spec_dump
from scenarios.models import Scenario
from scenarios.services import scenario_spec_from_instance


class Command(BaseCommand):
    help = "Export scenarios as YAML: one file per scenario into --output, or all to stdout."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slugs", nargs="*", help="Scenarios to export (default: all).")
        parser.add_argument("--output", type=Path, help="Directory to write <slug>.yaml files.")

    def handle(self, *args, slugs: list[str], output: Path | None, **options) -> None:
        scenarios = Scenario.objects.order_by("slug")
        if slugs:
            scenarios = scenarios.filter(slug__in=slugs)
            missing = set(slugs) - set(scenarios.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"Unknown scenario(s): {', '.join(sorted(missing))}")
        if output:
            output.mkdir(parents=True, exist_ok=True)
        for index, scenario in enumerate(scenarios):
            text = scenario_spec_dump(scenario_spec_from_instance(scenario=scenario))
            if output:
                path = output / f"{scenario.slug}.yaml"
                path.write_text(text, encoding="utf-8")
                self.stdout.write(f"wrote {path}")
            else:
                self.stdout.write(("---\n" if index else "") + text, ending="")
