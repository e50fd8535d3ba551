"""Analysts' views: turn difficulty (HTML and CSV) and the attempts export (CSV, streamed)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import asdict, fields

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from scenarios.selectors import scenario_slugs
from telemetry.selectors import TurnDifficulty, attempt_export_rows, turn_difficulty_list


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_stream(rows: Iterable[list[object]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _difficulty_rows(rows: list[TurnDifficulty]) -> Iterator[list[object]]:
    names = [field.name for field in fields(TurnDifficulty)]
    yield [*names, "difficulty"]
    for row in rows:
        values = asdict(row)
        yield [*(values[name] for name in names), row.difficulty]


@staff_member_required
def difficulty_report(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    scenario = request.GET.get("scenario") or None
    rows = turn_difficulty_list(scenario_slug=scenario)
    if request.GET.get("format") == "csv":
        return _csv_stream(_difficulty_rows(rows), "turn-difficulty.csv")
    return render(
        request,
        "telemetry/difficulty.html",
        {
            "rows": sorted(rows, key=lambda row: (-row.difficulty, row.scenario, row.turn_index)),
            "scenarios": scenario_slugs(),
            "selected": scenario,
        },
    )


@staff_member_required
def attempts_export(request: HttpRequest) -> StreamingHttpResponse:
    return _csv_stream(
        attempt_export_rows(scenario_slug=request.GET.get("scenario") or None), "attempts.csv"
    )


@staff_member_required
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition of this process's metrics (staff or a scraper with a login)."""
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
