"""The learner's pages: sign up, scenario list, play, review.

Thin views: read through selectors, write through services, render a template.
The play page is a shell: the game runs in static/parley/play.js against the time-stop API and
the /stream/interaction socket, configured by the JSON this view puts on the page.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import get_language_info
from django.views.decorators.http import require_http_methods

from interaction.models import Attempt, Session
from interaction.selectors import (
    BestResult,
    learner_best_results,
    session_attempts_for_review,
    session_get_for_learner,
    session_list_for_learner,
)
from interaction.services import RegistrationRefused, learner_register
from interaction.vocabulary import Outcome
from scenarios.models import Scenario
from scenarios.selectors import scenario_get, scenario_list, scenario_rules_get

RECENT_SESSIONS = 10
# Stands for the session id in URLs handed to the page (a UUID, so reverse() accepts it).
_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def language_name(code: str) -> str:
    """English name of an ISO 639-1 code ("fr" → "French"); the code itself if unknown."""
    try:
        return get_language_info(code)["name"]
    except KeyError:
        return code


def streaming_available(scenario: Scenario) -> bool:
    return bool(settings.STREAMING_ENABLED and scenario.streaming_enabled)


# The sign-up form's field for each field a refused registration names.
_SIGNUP_FIELDS = {"username": "username", "password": "password2"}


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("scenario-list-page")
    form: UserCreationForm[User] = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = learner_register(
                username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
            )
        except RegistrationRefused as refused:
            form.add_error(_SIGNUP_FIELDS[refused.field], list(refused.messages))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("scenario-list-page")
    return render(request, "registration/signup.html", {"form": form})


def scenario_list_page(request: HttpRequest) -> HttpResponse:
    scenarios = list(scenario_list())
    best: dict[int, BestResult] = {}
    recent: list[Session] = []
    if request.user.is_authenticated:
        best = learner_best_results(learner=request.user)
        recent = list(session_list_for_learner(learner=request.user)[:RECENT_SESSIONS])
    rows = [
        {
            "scenario": scenario,
            "language_name": language_name(scenario.language),
            "best": best.get(scenario.pk),
        }
        for scenario in scenarios
    ]
    return render(request, "parley/scenario_list.html", {"rows": rows, "recent": recent})


@login_required
def play_page(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        scenario = scenario_get(slug=slug)
    except Scenario.DoesNotExist as missing:
        raise Http404("No such scenario.") from missing
    turn_count = len(scenario.turns.all())
    if turn_count == 0:
        raise Http404("This scenario has no turns yet.")
    rules = scenario_rules_get(scenario=scenario)
    config = {
        "scenario": {
            "slug": scenario.slug,
            "title": scenario.title,
            "language": scenario.language,
            "languageName": language_name(scenario.language),
            "typedAnswers": scenario.typed_answers,
            "streaming": streaming_available(scenario),
            "turnCount": turn_count,
            "lives": rules.lives,
        },
        "urls": {
            "stream": "/stream/interaction",
            "sessions": reverse("session-list"),
            "worklet": static("parley/pcm-worklet.js"),
            "attempts": reverse("attempt-create", args=[_PLACEHOLDER]),
            "review": reverse("session-review-page", args=[_PLACEHOLDER]),
            "login": settings.LOGIN_URL,
        },
        "placeholder": _PLACEHOLDER,
    }
    return render(
        request,
        "parley/play.html",
        {"scenario": scenario, "rules": rules, "config": config, "turn_count": turn_count},
    )


PENALTY_LABELS: dict[str, str] = {
    Outcome.WRONG_LANGUAGE: "Wrong language",
    Outcome.INCORRECT_ANSWER: "Incorrect answer",
    Outcome.NO_SPEECH: "Nothing heard",
}


def _attempt_row(attempt: Attempt, *, target_language: str) -> dict[str, Any]:
    words: list[dict[str, Any]] = []
    for word in attempt.words or []:
        raw = str(word.get("word", ""))
        probability = _probability(word.get("probability"))
        if raw.strip():
            # Whisper's words carry their leading space; one without it ("'il" after " s")
            # continues the previous word.
            spaced = bool(words) and raw[:1].isspace()
            # A plain "0.83" for the template's CSS variable, whatever the locale's format.
            shade = f"{probability:.2f}" if probability is not None else None
            words.append({"word": raw.strip(), "probability": shade, "spaced": spaced})
    reason = ""
    if attempt.outcome == Outcome.WRONG_LANGUAGE:
        heard = f" (heard {language_name(attempt.language)})" if attempt.language else ""
        reason = f"Answer in {language_name(target_language)}{heard}."
    elif attempt.outcome == Outcome.INCORRECT_ANSWER:
        reason = attempt.turn.hint or "Not one of the expected answers."
    elif attempt.outcome == Outcome.NO_SPEECH:
        reason = "No speech was heard."
    return {
        "attempt": attempt,
        "prompt": attempt.turn.prompt,
        "words": words,
        "outcome_label": PENALTY_LABELS.get(attempt.outcome, "Correct"),
        "reason": reason,
    }


def _probability(value: Any) -> float | None:
    try:
        return max(0.0, min(1.0, float(value)))
    except (TypeError, ValueError):
        return None


@login_required
def session_review_page(request: HttpRequest, session_id: Any) -> HttpResponse:
    try:
        session = session_get_for_learner(session_id=session_id, learner=request.user)
    except Session.DoesNotExist as missing:
        raise Http404("No such session.") from missing
    attempts = session_attempts_for_review(session=session)
    rows = [
        _attempt_row(attempt, target_language=session.scenario.language) for attempt in attempts
    ]
    return render(
        request,
        "parley/review.html",
        {
            "session": session,
            "rows": rows,
            "language_name": language_name(session.scenario.language),
        },
    )
