"""Analysts' pages: the report, a scenario's sessions, one session's review, the attempts
export; the learner's dispute form; Prometheus metrics. Thin: parse, select, render."""

from __future__ import annotations

import csv
import dataclasses
import hmac
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework.exceptions import ValidationError

from interaction.models import Attempt, Session
from interaction.vocabulary import Mode
from scenarios.models import Difficulty, Turn
from scenarios.rules import PENALTY_TYPES
from scenarios.selectors import scenario_rules_get
from scenarios.specs import SUPPORTED_LANGUAGES
from telemetry.access import analyst_required, learner_pseudonym
from telemetry.analytics import (
    FLAG_RULE,
    AnalyticsFilters,
    analytics_scenarios_list,
    analytics_turns_list,
    turn_flags,
)
from telemetry.answers import ANSWERS_BOUND, frequent_answers_by_turn, frequent_answers_list
from telemetry.api import attempt_review_row, filters_parse
from telemetry.charts import difficulty_bars_svg, pass_funnel_svg
from telemetry.disputes import DisputeRefused, dispute_open
from telemetry.selectors import (
    analytics_session_review,
    analytics_sessions_list,
    attempt_export_rows,
)


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


def _filters_or_errors(request: HttpRequest) -> tuple[AnalyticsFilters, dict[str, Any]]:
    try:
        return filters_parse(request.GET), {}
    except ValidationError as invalid:
        return AnalyticsFilters(), dict(invalid.detail)  # type: ignore[arg-type]


def _turn_admin_url(scenario_id: int, turn_number: int) -> str:
    """The turn's form in its scenario's admin page (turns are edited inline there)."""
    change = reverse("admin:scenarios_scenario_change", args=[scenario_id])
    return f"{change}#turns-{turn_number - 1}"


def _lives(count: int) -> str:
    return f"{count} life" if count == 1 else f"{count} lives"


def _rules_rows(scenario: Any, turn: Turn) -> list[tuple[str, str]]:
    rules = scenario_rules_get(scenario=scenario, turn=turn)
    rows = [
        ("Reward", f"{rules.reward} points"),
        ("Lives", _lives(rules.lives)),
        ("Answer similarity", f"{rules.answer_similarity:g}"),
        ("Wrong-language probability", f"{rules.wrong_language_probability:g}"),
    ]
    rows += [
        (
            f"{name.replace('_', ' ').capitalize()} costs",
            f"{_lives(rules.penalty(name).lives)}, {rules.penalty(name).points} points",
        )
        for name in PENALTY_TYPES
    ]
    return rows


def _flag_rows(flags: list[Any]) -> list[dict[str, Any]]:
    """Flagged turns with their effective rules and admin links (one query for the turns)."""
    flagged_turns = {
        turn.pk: turn
        for turn in Turn.objects.select_related("scenario").filter(
            pk__in=[flag.turn.turn_id for flag in flags]
        )
    }
    return [
        {
            "flag": flag,
            "rules": _rules_rows(
                flagged_turns[flag.turn.turn_id].scenario, flagged_turns[flag.turn.turn_id]
            ),
            "turn_admin_url": _turn_admin_url(flag.turn.scenario_id, flag.turn.turn_number),
            "scenario_admin_url": reverse(
                "admin:scenarios_scenario_change", args=[flag.turn.scenario_id]
            ),
            "scenario_url": reverse("analytics-scenario", args=[flag.turn.scenario_slug]),
        }
        for flag in flags
        if flag.turn.turn_id in flagged_turns
    ]


def _exports(scenario: str | None = None) -> list[tuple[str, str, str]]:
    exports = [
        ("Scenarios (CSV)", reverse("api-analytics-scenarios"), "csv"),
        ("Turns (CSV)", reverse("api-analytics-turns"), "csv"),
        ("Flagged turns (CSV)", reverse("api-analytics-flags"), "csv"),
        ("Answers learners give (CSV)", reverse("api-analytics-answers"), "csv"),
        ("Every attempt (CSV)", reverse("analytics-attempts"), ""),
        ("Turns (JSON API)", reverse("api-analytics-turns"), "json"),
    ]
    return exports if scenario is None else [e for e in exports if "Scenarios" not in e[0]]


def _common(filters: AnalyticsFilters) -> dict[str, Any]:
    return {
        "filters": filters,
        "flag_rule": FLAG_RULE,
        "min_sessions": settings.ANALYTICS_MIN_SESSIONS,
        "languages": SUPPORTED_LANGUAGES,
        "difficulties": Difficulty.choices,
        "modes": Mode.choices(),
        "query": urlencode(filters.as_query()),
    }


def _with_filters(url: str, filters: AnalyticsFilters) -> str:
    """`url` with the filters but the scenario (a scenario's page and the overview share them)."""
    query = urlencode({k: v for k, v in filters.as_query().items() if k != "scenario"})
    return f"{url}?{query}" if query else url


def _overview_url(filters: AnalyticsFilters) -> str:
    return _with_filters(reverse("analytics-report"), filters)


@analyst_required
def report(request: HttpRequest) -> HttpResponse:
    """The analysts' overview: a row per scenario (linking to its page), the flagged turns
    (3 queries for the figures and the flags' rules)."""
    filters, errors = _filters_or_errors(request)
    scenarios = analytics_scenarios_list(filters=filters)
    flags = turn_flags(analytics_turns_list(filters=filters), scenarios)
    flagged: dict[int, int] = {}
    for flag in flags:
        flagged[flag.scenario.scenario_id] = flagged.get(flag.scenario.scenario_id, 0) + 1
    rows = [
        {
            "figures": scenario,
            "flagged": flagged.get(scenario.scenario_id, 0),
            "url": _with_filters(
                reverse("analytics-scenario", args=[scenario.scenario_slug]), filters
            ),
        }
        for scenario in scenarios
    ]
    return render(
        request,
        "telemetry/report.html",
        {
            **_common(filters),
            "errors": errors,
            "rows": rows,
            "flags": _flag_rows(flags),
            "exports": _exports(),
        },
    )


@analyst_required
def scenario_report(request: HttpRequest, slug: str) -> HttpResponse:
    """One scenario: its figures, charts, turns with their prompts, the answers learners give
    that were judged wrong or unclear, its flagged turns (5 queries)."""
    filters, errors = _filters_or_errors(request)
    # Language and difficulty choose scenarios: on one scenario's page they do not apply.
    filters = dataclasses.replace(filters, scenario=slug, language=None, difficulty=None)
    scenarios = analytics_scenarios_list(filters=filters)
    if not scenarios:
        raise Http404("No such scenario.")
    (scenario,) = scenarios
    turns = analytics_turns_list(filters=filters)
    answers = frequent_answers_by_turn(frequent_answers_list(filters=filters))
    title = scenario.scenario_title
    user = request.user
    return render(
        request,
        "telemetry/scenario.html",
        {
            **_common(filters),
            "errors": errors,
            "s": scenario,
            "turns": [
                {
                    "figures": turn,
                    "admin_url": _turn_admin_url(turn.scenario_id, turn.turn_number),
                    "try_url": reverse("turn-try", args=[turn.turn_id]),
                    "add_url": reverse("analytics-answer-add", args=[turn.turn_id]),
                    "answers": answers.get(turn.turn_id, []),
                }
                for turn in turns
            ],
            "difficulty_chart": difficulty_bars_svg(turns, title=f"Difficulty per turn: {title}"),
            "funnel_chart": pass_funnel_svg(
                scenario, turns, title=f"Sessions passing each turn: {title}"
            ),
            "flags": _flag_rows(turn_flags(turns, scenarios)),
            "admin_url": reverse("admin:scenarios_scenario_change", args=[scenario.scenario_id]),
            "sessions_url": reverse("analytics-sessions", args=[slug]),
            "designer": user.is_staff,
            "may_add_answers": user.is_staff and user.has_perm("scenarios.change_scenario"),
            "answers_bound": f"{ANSWERS_BOUND:,}",
            "exports": _exports(slug),
            "overview_url": _overview_url(filters),
        },
    )


@analyst_required
def difficulty_redirect(request: HttpRequest) -> HttpResponse:
    """The old report's address."""
    return redirect(f"{reverse('analytics-report')}?{request.GET.urlencode()}")


@analyst_required
def scenario_sessions(request: HttpRequest, slug: str) -> HttpResponse:
    filters, errors = _filters_or_errors(request)
    filters = dataclasses.replace(filters, scenario=slug)
    page = Paginator(analytics_sessions_list(filters=filters), 50).get_page(request.GET.get("page"))
    rows = [
        {"session": session, "learner": learner_pseudonym(session.learner_id)}
        for session in page.object_list
    ]
    return render(
        request,
        "telemetry/sessions.html",
        {"slug": slug, "page": page, "rows": rows, "errors": errors},
    )


@analyst_required
def session_review(request: HttpRequest, session_id: Any) -> HttpResponse:
    """Everything stored about one session, read-only."""
    try:
        review = analytics_session_review(session_id=session_id)
    except Session.DoesNotExist as missing:
        raise Http404("No such session.") from missing
    last_of_turn = {attempt.turn_index: attempt.pk for attempt in review.attempts}
    attempts = [
        {
            **attempt_review_row(
                attempt,
                review.partials.get(attempt.turn_index, [])
                if last_of_turn[attempt.turn_index] == attempt.pk
                else [],
            ),
            "prompt": attempt.turn.prompt,
        }
        for attempt in review.attempts
    ]
    return render(
        request,
        "telemetry/session_review.html",
        {
            "review": review,
            "session": review.session,
            "learner": learner_pseudonym(review.session.learner_id),
            "attempts": attempts,
        },
    )


@analyst_required
def attempts_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    try:
        filters = filters_parse(request.GET)
    except ValidationError as invalid:
        return HttpResponse(f"Bad filters: {invalid.detail}", status=400, content_type="text/plain")
    return _csv_stream(attempt_export_rows(filters=filters), "attempts.csv")


@require_POST
@login_required
def dispute_create_page(request: HttpRequest, attempt_id: int) -> HttpResponse:
    """The review page's "my answer should count" form; back to the review with a message."""
    try:
        dispute = dispute_open(
            learner=request.user,
            attempt_id=attempt_id,
            comment=request.POST.get("comment", "")[:1000],
        )
    except Attempt.DoesNotExist as missing:
        raise Http404("No such attempt of yours.") from missing
    except DisputeRefused as refused:
        messages.error(request, str(refused))
        dispute = None
    if dispute is not None:
        messages.success(request, "Thanks: a designer will look at this answer.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("scenario-list-page")
    return redirect(back)


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition of this process's metrics: staff, or a scraper presenting
    `Authorization: Bearer <METRICS_SCRAPE_TOKEN>`."""
    token = settings.METRICS_SCRAPE_TOKEN
    header = request.headers.get("Authorization", "")
    scraper = bool(token) and hmac.compare_digest(header, f"Bearer {token}")
    if not scraper:
        if not request.user.is_authenticated:
            response = HttpResponse("Log in as staff or present the scrape token.", status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        if not request.user.is_staff:
            raise PermissionDenied("Metrics are for staff and the scraper.")
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
