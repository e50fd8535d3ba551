"""Designers' tools beside the analytics: "Try an answer" on a turn (the real judge, nothing
stored) and accepting an answer learners give into a turn's accepted answers. Staff only;
thin: parse, call one service, render."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from interaction.asr.audio import AudioError
from interaction.asr.types import AsrError
from interaction.pages import language_name
from interaction.playground import TriedAnswer, answer_try, answers_evidence, learner_feedback
from interaction.services import Answer, answer_from_text
from interaction.speech import answer_from_upload, turn_recognition_options
from interaction.vocabulary import PENALISED_OUTCOMES, Outcome
from scenarios.models import Turn
from scenarios.services import turn_answer_add
from scenarios.specs import SpecInvalid
from telemetry.access import staff_required

MAX_TRANSCRIPT_CHARS = 500


class TryAnswerForm(forms.Form):
    transcript = forms.CharField(
        required=False,
        max_length=MAX_TRANSCRIPT_CHARS,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="A typed answer, judged as a learner's typed answer is.",
    )
    audio = forms.FileField(
        required=False,
        allow_empty_file=True,
        widget=forms.FileInput(attrs={"accept": "audio/*"}),
        help_text="A spoken answer (WAV, WebM/Opus, Ogg/Opus or MP3), judged as a learner's is.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool((data.get("transcript") or "").strip()) == bool(data.get("audio")):
            raise forms.ValidationError("Type an answer or give a recording (one of the two).")
        return data


class TryRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _answer(form: TryAnswerForm, turn: Turn, user: Any) -> Answer:
    upload = form.cleaned_data.get("audio")
    if not upload:
        return answer_from_text(text=form.cleaned_data["transcript"])
    if upload.size > settings.ASR_MAX_UPLOAD_BYTES:
        raise TryRefused(413, f"The recording is over {settings.ASR_MAX_UPLOAD_BYTES:,} bytes.")
    try:
        options = turn_recognition_options(scenario=turn.scenario, order=turn.order, learner=user)
        return answer_from_upload(
            options=options,
            data=upload.read(),
            content_type=upload.content_type,
            filename=upload.name,
        )
    except AudioError as refused:
        raise TryRefused(refused.http_status, refused.reason) from refused
    except AsrError as failed:
        raise TryRefused(503, failed.public_message) from failed


def _result(tried: TriedAnswer) -> dict[str, Any]:
    """What the page shows of a tried answer."""
    verdict, change, answer = tried.judgement.verdict, tried.change, tried.answer
    scenario = tried.turn.scenario
    fair = tried.judgement.evidence.get("verdict")
    return {
        "outcome": verdict.outcome,
        "outcome_word": Outcome(verdict.outcome).label,
        "good": verdict.outcome == Outcome.CORRECT,
        "bad": verdict.outcome in PENALISED_OUTCOMES,
        "message": learner_feedback(tried, language_name=language_name),
        "points": change.score_delta,
        "hearts": change.lives_delta,
        "answer": answer,
        "source": answer.source,
        "language": verdict.language,
        "language_probability": verdict.language_probability,
        "languages": sorted(answer.language_probabilities.items(), key=lambda item: -item[1])[:4],
        "reason": fair.get("reason") if isinstance(fair, dict) else None,
        "similarity": verdict.similarity,
        "best_answer": verdict.best_answer,
        "typed_refused": tried.typed_refused,
        "evidence": answers_evidence(
            heard=answer.transcript,
            accepted=[accepted.text for accepted in tried.turn.answers.all()],
            evidence=answer.evidence,
            language=scenario.language,
        ),
    }


@staff_required
def turn_try(request: HttpRequest, turn_id: int) -> HttpResponse:
    """Try an answer on one turn: the verdict a learner would get, nothing stored."""
    turn = get_object_or_404(
        Turn.objects.select_related("scenario").prefetch_related("answers"), pk=turn_id
    )
    posted = request.method == "POST"
    form = TryAnswerForm(request.POST if posted else None, request.FILES if posted else None)
    result, error, status = None, None, 200
    if posted:
        if form.is_valid():
            try:
                answer = _answer(form, turn, request.user)
                result = _result(answer_try(turn=turn, answer=answer, learner=request.user))
            except TryRefused as refused:
                error, status = str(refused), refused.status
        else:
            status = 400
    change = reverse("admin:scenarios_scenario_change", args=[turn.scenario_id])
    return render(
        request,
        "telemetry/try_answer.html",
        {
            "turn": turn,
            "scenario": turn.scenario,
            "turn_number": turn.order + 1,
            "accepted": [accepted.text for accepted in turn.answers.all()],
            "form": form,
            "result": result,
            "error": error,
            "admin_url": f"{change}#turns-{turn.order}",
            "analytics_url": reverse("analytics-scenario", args=[turn.scenario.slug]),
            "language_name": language_name(turn.scenario.language),
        },
        status=status,
    )


def _turn_answer_add(request: HttpRequest, turn_id: int) -> HttpResponse:
    """Add a transcript learners give to the turn's accepted answers (the disputes queue's
    service); back to the page it came from with a message."""
    turn = get_object_or_404(Turn.objects.select_related("scenario"), pk=turn_id)
    try:
        text = turn_answer_add(turn=turn, text=request.POST.get("transcript", ""))
    except SpecInvalid as invalid:
        messages.error(request, f"Not added: {invalid}")
    else:
        messages.success(request, f"“{text}” is now an accepted answer of turn {turn.order + 1}.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("analytics-scenario", args=[turn.scenario.slug])
    return redirect(back)


turn_answer_add_view = require_POST(
    staff_required(_turn_answer_add, permission="scenarios.change_scenario")
)
