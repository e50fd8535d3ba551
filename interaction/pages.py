"""The learner's pages: sign up, settings, scenario list, play, review.

Thin views: read through selectors, write through services, render a template.
The play page is a shell: the game runs in static/parley/play.js against the time-stop API and
the /stream/interaction socket, configured by the JSON this view puts on the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from interaction.forms import LanguagesForm, SignupForm
from interaction.languages import accept_language_codes, language_name
from interaction.models import Attempt, Session
from interaction.presenters import turn_payload
from interaction.selectors import (
    BestResult,
    learner_best_results,
    learner_languages_get,
    session_attempts_for_review,
    session_get_for_learner,
    session_list_for_learner,
    session_resumable_get,
    session_turn_due_get,
    turn_reveal_get,
)
from interaction.services import RegistrationRefused, learner_languages_set, learner_register
from interaction.vocabulary import Outcome
from scenarios.models import Scenario
from scenarios.selectors import scenario_get, scenario_list, scenario_rules_get

RECENT_SESSIONS = 10
WEAK_WORD_PROBABILITY = 0.2
"""Below this probability a recognised word is shown as weak (static/parley/clarity.js has
the same number; docs/webapp.md says how it was chosen)."""
# A word that elides into the next ("j'", "l'", "qu'") or an apostrophe that continues the
# previous one ("'il" after "s"): written as one word, as the language writes it.
_ELIDED = re.compile(r"(?:^|(?<=\s))(\w{1,2}|\w*qu)(['’])\s+", re.IGNORECASE)
_DETACHED = re.compile(r"(\w)\s+(['’])(?=\w)")
# Stands for the session id in URLs handed to the page (a UUID, so reverse() accepts it).
_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def streaming_available(scenario: Scenario) -> bool:
    return bool(settings.STREAMING_ENABLED and scenario.streaming_enabled)


# The sign-up form's field for each field a refused registration names.
_SIGNUP_FIELDS = {
    "username": "username",
    "password": "password2",
    "other_languages": "other_languages",
}


@require_http_methods(["GET", "POST"])
@vary_on_headers("Accept-Language")
def signup(request: HttpRequest) -> HttpResponse:
    """Django's user creation form and the languages the learner speaks, ticked at first
    from the browser's `Accept-Language` (the languages it names that Parley supports)."""
    if request.user.is_authenticated:
        return redirect("scenario-list-page")
    browser_languages = accept_language_codes(request.headers.get("Accept-Language", ""))
    form = SignupForm(
        request.POST if request.method == "POST" else None,
        initial={"other_languages": list(browser_languages)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            user = learner_register(
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password1"],
                other_languages=form.cleaned_data["other_languages"],
            )
        except RegistrationRefused as refused:
            form.add_error(_SIGNUP_FIELDS[refused.field], list(refused.messages))
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("scenario-list-page")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    """The learner's settings: the languages they speak, saved as the API saves them."""
    form = LanguagesForm(
        request.POST if request.method == "POST" else None,
        initial={"other_languages": list(learner_languages_get(learner=request.user))},
    )
    if request.method == "POST" and form.is_valid():
        # The form validated with the service's own check: the service cannot refuse this.
        learner_languages_set(
            learner=request.user, other_languages=form.cleaned_data["other_languages"]
        )
        messages.success(request, "Your languages are saved.")
        return redirect("settings-page")
    defaults = [language_name(code) for code in settings.PARLEY_JUDGING["other_languages"]]
    return render(request, "parley/settings.html", {"form": form, "default_languages": defaults})


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
    turns = list(scenario.turns.all())
    resumable = session_resumable_get(
        learner=request.user, scenario=scenario, session_id=request.GET.get("session")
    )
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
            "revealAfter": scenario.reveal_after,
            # For the progress bar and the completion summary; the answers stay on the server.
            "prompts": [turn.prompt for turn in turns],
        },
        "resume": _resume_config(resumable) if resumable else None,
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
        {
            "scenario": scenario,
            "rules": rules,
            "config": config,
            "turn_count": turn_count,
            "resumable": resumable,
        },
    )


def _resume_config(session: Session) -> dict[str, Any]:
    """What the page needs to resume `session` after a reload: the standing (the HUD is drawn
    from it before the socket's `ready` or the API confirms it), the stream's last seq, and
    the answer already revealed on the turn due (if the learner earned it)."""
    turn = session_turn_due_get(session=session)
    return {
        "session": str(session.pk),
        "mode": session.mode,
        "status": session.status,
        "score": session.score,
        "lives_remaining": session.lives_remaining,
        "lives_total": session.lives_total,
        "turn": turn_payload(turn, session=session),
        "last_seq": session.event_seq,
        "reveal": turn_reveal_get(session=session, turn=turn) if turn else None,
    }


def tidy_transcript(text: str) -> str:
    """A transcript as the language writes it: "s 'il" → "s'il", "j' ai" → "j'ai"."""
    return _DETACHED.sub(r"\1\2", _ELIDED.sub(r"\1\2", text or "")).strip()


def joined_words(words: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Recognised words for display: elisions joined ("s" + "'il" → "s'il", its probability
    the lower of the two), each marked `weak` when the recogniser barely heard it."""
    joined: list[dict[str, Any]] = []
    for word in words:
        raw = str(word.get("word", ""))
        text = raw.strip()
        if not text:
            continue
        probability = _probability(word.get("probability"))
        previous = joined[-1] if joined else None
        # Whisper's words carry their leading space; one without it continues the last word.
        continues = previous is not None and (
            not raw[:1].isspace()
            or text[:1] in "'’"
            or (previous["word"][-1:] in "'’" and _ELIDED.fullmatch(previous["word"] + " "))
        )
        if previous is not None and continues:
            previous["word"] += text
            if probability is not None:
                known = previous["p"]
                previous["p"] = probability if known is None else min(known, probability)
        else:
            joined.append({"word": text, "p": probability})
    for word in joined:
        word["weak"] = word["p"] is not None and word["p"] < WEAK_WORD_PROBABILITY
    return joined


def clarity(words: Sequence[Mapping[str, Any]], *, outcome: str) -> str | None:
    """How well the answer was heard, as the play page says it: "clear", "partly" (some weak
    words), "unclear" (the judge could not tell, or half the words or more were weak); None
    when there are no recognised words to tell by (typed, nothing heard, another language)."""
    if outcome == Outcome.UNCLEAR:
        return "unclear"
    if not words or outcome in (Outcome.WRONG_LANGUAGE, Outcome.NO_SPEECH):
        return None
    weak = sum(1 for word in words if word["weak"])
    if weak == 0:
        return "clear"
    return "unclear" if weak * 2 >= len(words) else "partly"


CLARITY_LABELS = {"clear": "heard clearly", "partly": "partly clear", "unclear": "unclear"}

PENALTY_LABELS: dict[str, str] = {
    Outcome.WRONG_LANGUAGE: "Wrong language",
    Outcome.INCORRECT_ANSWER: "Incorrect answer",
    Outcome.NO_SPEECH: "Nothing heard",
    Outcome.UNCLEAR: "Not clear enough — no heart lost",
}


def _attempt_row(attempt: Attempt, *, target_language: str) -> dict[str, Any]:
    words = joined_words(attempt.words or [])
    reason = ""
    if attempt.outcome == Outcome.WRONG_LANGUAGE:
        heard = f" (it sounded like {language_name(attempt.language)})" if attempt.language else ""
        reason = f"Answer in {language_name(target_language)}{heard}."
    elif attempt.outcome == Outcome.INCORRECT_ANSWER:
        reason = attempt.turn.hint or "Not one of the expected answers."
    elif attempt.outcome == Outcome.NO_SPEECH:
        reason = "No speech was heard."
    elif attempt.outcome == Outcome.UNCLEAR:
        reason = "The recogniser could not make it out, so it cost nothing: say it again."
    heard_as = clarity(words, outcome=attempt.outcome)
    return {
        "attempt": attempt,
        "prompt": attempt.turn.prompt,
        "transcript": tidy_transcript(attempt.transcript),
        "words": words,
        "clarity": heard_as,
        "clarity_label": CLARITY_LABELS.get(heard_as or "", ""),
        "outcome_label": PENALTY_LABELS.get(attempt.outcome, "Correct"),
        "reason": reason,
    }


def _probability(value: Any) -> float | None:
    try:
        return max(0.0, min(1.0, float(value)))
    except (TypeError, ValueError):
        return None


def _turn_answers(session: Session) -> list[dict[str, Any]]:
    """Each turn the learner reached, with its accepted answers once they may see them."""
    rows = []
    for turn in session.scenario.turns.prefetch_related("answers").order_by("order"):
        if turn.order > session.turn_index:
            break
        revealed = turn_reveal_get(session=session, turn=turn)
        rows.append(
            {
                "turn": turn,
                "answers": [answer.text for answer in turn.answers.all()] if revealed else [],
            }
        )
    return rows


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
            "turn_answers": _turn_answers(session),
            "any_weak": any(word["weak"] for row in rows for word in row["words"]),
            "language_name": language_name(session.scenario.language),
        },
    )
