"""Scenario files (YAML): read them whole, validate every field, import all or nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from django.db import transaction

from scenarios.services import scenario_upsert
from scenarios.specs import ScenarioSpec, SpecError, SpecInvalid, spec_from_mapping, spec_to_mapping

DEMO_DIR = Path(__file__).resolve().parent / "demo"


@dataclass(frozen=True)
class FileResult:
    path: Path
    slug: str | None
    errors: tuple[SpecError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors


def scenario_file_read(path: Path) -> ScenarioSpec:
    """Parse and validate one file; SpecInvalid lists every problem found."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecInvalid([SpecError("(file)", f"cannot be read: {error}")]) from error
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise SpecInvalid([SpecError("(file)", f"is not valid YAML{where}: {problem}")]) from error
    return spec_from_mapping(data)


def scenario_files_import(paths: list[Path]) -> list[FileResult]:
    """Import each file in a transaction of its own: a file with any error imports nothing."""
    results = []
    seen: dict[str, Path] = {}
    for path in paths:
        try:
            spec = scenario_file_read(path)
            if spec.slug in seen:
                raise SpecInvalid([SpecError("slug", f"is also used by {seen[spec.slug].name}")])
            with transaction.atomic():
                scenario_upsert(spec=spec)
            seen[spec.slug] = path
            results.append(FileResult(path=path, slug=spec.slug))
        except SpecInvalid as invalid:
            results.append(FileResult(path=path, slug=None, errors=tuple(invalid.errors)))
    return results


def scenario_spec_dump(spec: ScenarioSpec) -> str:
    return yaml.safe_dump(spec_to_mapping(spec), allow_unicode=True, sort_keys=False, width=100)
