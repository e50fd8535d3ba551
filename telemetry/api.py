"""DRF endpoints of the analytics (staff and analysts) and of disputes (learners).

Every analytics endpoint takes the report's filters as query parameters and answers JSON, or
CSV with `?format=csv` (learners pseudonymised; the figures carry no learner at all).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import fields
from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from interaction.models import Attempt, Session
from interaction.vocabulary import Mode
from scenarios.models import Difficulty
from scenarios.specs import SUPPORTED_LANGUAGES
from telemetry.access import IsAnalyst, learner_pseudonym
from telemetry.analytics import (
    FIGURE_NAMES,
    FLAG_RULE,
    AnalyticsFilters,
    Figures,
    ScenarioFigures,
    TurnFigures,
    analytics_flags_list,
    analytics_scenarios_list,
    analytics_turns_list,
    figures_row,
)
from telemetry.answers import ANSWERS_PER_TURN, frequent_answers_list
from telemetry.disputes import DisputeRefused, dispute_open
from telemetry.selectors import analytics_session_review


class CsvRenderer(BaseRenderer):
    """A list of flat mappings as CSV under a header: the view's `csv_columns`, or the
    first row's keys."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        rows = data if isinstance(data, list) else [data]
        view = (renderer_context or {}).get("view")
        columns = list(getattr(view, "csv_columns", None) or (rows[0] if rows else []))
        if rows and not isinstance(rows[0], dict):  # an error's detail, say
            rows, columns = [{"detail": str(data)}], ["detail"]
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns or ["detail"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue().encode()


class FiltersSerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False, help_text="First day (UTC), inclusive.")
    date_to = serializers.DateField(required=False, help_text="Last day (UTC), inclusive.")
    language = serializers.ChoiceField(choices=list(SUPPORTED_LANGUAGES), required=False)
    difficulty = serializers.ChoiceField(choices=Difficulty.choices, required=False)
    mode = serializers.ChoiceField(choices=Mode.choices(), required=False)
    scenario = serializers.SlugField(required=False, help_text="A scenario's slug.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (
            attrs.get("date_from")
            and attrs.get("date_to")
            and attrs["date_from"] > attrs["date_to"]
        ):
            raise serializers.ValidationError({"date_to": ["Must not be before date_from."]})
        return attrs


def filters_parse(params: Any) -> AnalyticsFilters:
    """The report's filters from query parameters; a ValidationError (400) names bad ones."""
    serializer = FiltersSerializer(data={k: v for k, v in params.items() if v != ""})
    serializer.is_valid(raise_exception=True)
    return AnalyticsFilters(**serializer.validated_data)


FILTER_PARAMETERS = [
    OpenApiParameter("date_from", OpenApiTypes.DATE, description="First day (UTC), inclusive."),
    OpenApiParameter("date_to", OpenApiTypes.DATE, description="Last day (UTC), inclusive."),
    OpenApiParameter("language", str, enum=list(SUPPORTED_LANGUAGES)),
    OpenApiParameter("difficulty", str, enum=[value for value, _ in Difficulty.choices]),
    OpenApiParameter("mode", str, enum=[mode.value for mode in Mode]),
    OpenApiParameter("scenario", str, description="A scenario's slug."),
    OpenApiParameter("format", str, enum=["json", "csv"], description="csv: a CSV export."),
]


def _field_for(type_name: str) -> serializers.Field:
    if type_name in ("int", "'int'"):
        return serializers.IntegerField()
    if type_name == "bool":
        return serializers.BooleanField()
    if "float" in type_name:
        return serializers.FloatField(allow_null=True)
    return serializers.CharField()


def _figures_serializer(name: str, model: type[Figures]) -> type[serializers.Serializer]:
    """An output serializer with the dataclass's stored fields and the derived figures."""
    attrs: dict[str, Any] = {f.name: _field_for(str(f.type)) for f in fields(model)}
    attrs.update({figure: serializers.FloatField(allow_null=True) for figure in FIGURE_NAMES})
    attrs["enough_data"] = serializers.BooleanField()
    return type(name, (serializers.Serializer,), attrs)


ScenarioFiguresSerializer = _figures_serializer("ScenarioFigures", ScenarioFigures)
TurnFiguresSerializer = _figures_serializer("TurnFigures", TurnFigures)


class _AnalyticsApi(APIView):
    permission_classes = [IsAuthenticated, IsAnalyst]
    renderer_classes = [JSONRenderer, CsvRenderer]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        if (
            getattr(request, "accepted_renderer", None)
            and request.accepted_renderer.format == "csv"
        ):
            name = getattr(self, "csv_name", "analytics")
            response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response


class ScenarioAnalyticsApi(_AnalyticsApi):
    """Per-scenario figures (docs/analytics.md defines each)."""

    csv_name = "scenario-analytics"
    csv_columns = list(ScenarioFiguresSerializer().fields)

    @extend_schema(parameters=FILTER_PARAMETERS, responses=ScenarioFiguresSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = analytics_scenarios_list(filters=filters_parse(request.query_params))
        return Response([figures_row(row) for row in rows])


class TurnAnalyticsApi(_AnalyticsApi):
    """Per-turn figures; `difficulty` is null below ANALYTICS_MIN_SESSIONS sessions."""

    csv_name = "turn-analytics"
    csv_columns = list(TurnFiguresSerializer().fields)

    @extend_schema(parameters=FILTER_PARAMETERS, responses=TurnFiguresSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = analytics_turns_list(filters=filters_parse(request.query_params))
        return Response([figures_row(row) for row in rows])


class FlagOutputSerializer(serializers.Serializer):
    scenario_slug = serializers.CharField()
    turn_id = serializers.IntegerField()
    turn_number = serializers.IntegerField()
    prompt = serializers.CharField()
    reasons = serializers.CharField(help_text="Why the rule flagged it, '; '-separated.")
    sessions = serializers.IntegerField()
    failure_rate = serializers.FloatField(allow_null=True)
    scenario_failure_per_turn_rate = serializers.FloatField(allow_null=True)
    wrong_language_rate = serializers.FloatField(allow_null=True)
    scenario_wrong_language_rate = serializers.FloatField(allow_null=True)
    rule = serializers.CharField()


class FlaggedTurnsApi(_AnalyticsApi):
    """The tuning aid: turns whose failure or wrong-language rate stands far above their
    scenario's (the rule is in each row)."""

    csv_name = "flagged-turns"
    csv_columns = list(FlagOutputSerializer().fields)

    @extend_schema(parameters=FILTER_PARAMETERS, responses=FlagOutputSerializer(many=True))
    def get(self, request: Request) -> Response:
        flags = analytics_flags_list(filters=filters_parse(request.query_params))
        return Response(
            [
                {
                    "scenario_slug": flag.turn.scenario_slug,
                    "turn_id": flag.turn.turn_id,
                    "turn_number": flag.turn.turn_number,
                    "prompt": flag.turn.prompt,
                    "reasons": "; ".join(flag.reasons),
                    "sessions": flag.turn.sessions,
                    "failure_rate": flag.turn.failure_rate,
                    "scenario_failure_per_turn_rate": flag.scenario.failure_per_turn_rate,
                    "wrong_language_rate": flag.turn.wrong_language_rate,
                    "scenario_wrong_language_rate": flag.scenario.wrong_language_rate,
                    "rule": FLAG_RULE,
                }
                for flag in flags
            ]
        )


MAX_PER_TURN = 50


class FrequentAnswerSerializer(serializers.Serializer):
    scenario_slug = serializers.CharField()
    turn_id = serializers.IntegerField()
    turn_number = serializers.IntegerField(help_text="1-based.")
    prompt = serializers.CharField()
    rank = serializers.IntegerField(help_text="1: the turn's most frequent.")
    transcript = serializers.CharField(help_text="The group's most frequent spelling.")
    attempts = serializers.IntegerField(help_text="Attempts in the group (incorrect + unclear).")
    incorrect = serializers.IntegerField()
    unclear = serializers.IntegerField()
    learners = serializers.IntegerField(help_text="Distinct learners (never named).")


class FrequentAnswersApi(_AnalyticsApi):
    """The answers learners give: per turn, the most frequent transcripts of attempts judged
    `incorrect_answer` or `unclear`, grouped loosely (case, punctuation, accents), among the
    newest 10,000 such attempts of the filtered sessions."""

    csv_name = "frequent-answers"
    csv_columns = list(FrequentAnswerSerializer().fields)

    @extend_schema(
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter(
                "per_turn", int, description=f"Groups per turn, 1..{MAX_PER_TURN} (default 5)."
            ),
        ],
        responses=FrequentAnswerSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params.copy()
        per_turn = _per_turn(params.pop("per_turn", [None])[-1])
        answers = frequent_answers_list(filters=filters_parse(params), per_turn=per_turn)
        return Response([dataclasses.asdict(answer) for answer in answers])


def _per_turn(value: str | None) -> int:
    if value in (None, ""):
        return ANSWERS_PER_TURN
    field = serializers.IntegerField(min_value=1, max_value=MAX_PER_TURN)
    try:
        return int(field.run_validation(value))
    except exceptions.ValidationError as invalid:
        raise exceptions.ValidationError({"per_turn": invalid.detail}) from invalid


def attempt_review_row(attempt: Attempt, partials: list[Any]) -> dict[str, Any]:
    return {
        "attempt": attempt.pk,
        "turn": attempt.turn_index + 1,
        "created_at": attempt.created_at.isoformat(),
        "source": attempt.source,
        "outcome": attempt.outcome,
        "transcript": attempt.transcript,
        "confidence": attempt.confidence,
        "language": attempt.language,
        "language_probability": attempt.language_probability,
        "language_probabilities": attempt.language_probabilities,
        "verdict": (attempt.evidence or {}).get("verdict"),
        "similarity": attempt.similarity,
        "score_delta": attempt.score_delta,
        "lives_delta": attempt.lives_delta,
        "auto_finalised": attempt.auto_finalised,
        "audio_ms": attempt.audio_ms,
        "asr_ms": attempt.asr_ms,
        "judge_ms": attempt.judge_ms,
        "partials": [
            {
                "seq": p.seq,
                "transcript": p.transcript,
                "confidence": p.confidence,
                "audio_ms": p.audio_ms,
                "latency_ms": p.latency_ms,
            }
            for p in partials
        ],
    }


class SessionReviewApi(_AnalyticsApi):
    """One session, read-only: attempts with partials, confidence, language evidence and
    timings, the ledger, and the stream connections' telemetry. `?format=csv`: its
    attempts, one row each (partials counted, not listed)."""

    csv_name = "session-attempts"

    @extend_schema(
        parameters=[OpenApiParameter("format", str, enum=["json", "csv"])],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request, session_id: Any) -> Response:
        try:
            review = analytics_session_review(session_id=session_id)
        except Session.DoesNotExist as missing:
            raise Http404("No such session.") from missing
        session = review.session
        if request.accepted_renderer.format == "csv":
            return Response(
                [
                    {
                        **{k: v for k, v in attempt_review_row(a, []).items() if k != "partials"},
                        "learner": learner_pseudonym(session.learner_id),
                        "partials": len(review.partials.get(a.turn_index, [])),
                    }
                    for a in review.attempts
                ]
            )
        by_turn = {index: list(rows) for index, rows in review.partials.items()}
        last_attempt_of_turn = {a.turn_index: a.pk for a in review.attempts}
        return Response(
            {
                "session": str(session.pk),
                "learner": learner_pseudonym(session.learner_id),
                "scenario": session.scenario.slug,
                "mode": session.mode,
                "status": session.status,
                "score": session.score,
                "lives_remaining": session.lives_remaining,
                "lives_total": session.lives_total,
                "started_at": session.started_at.isoformat(),
                "ended_at": session.ended_at.isoformat() if session.ended_at else None,
                "attempts": [
                    attempt_review_row(
                        attempt,
                        by_turn.get(attempt.turn_index, [])
                        if last_attempt_of_turn[attempt.turn_index] == attempt.pk
                        else [],
                    )
                    for attempt in review.attempts
                ],
                "ledger": [
                    {
                        "created_at": event.created_at.isoformat(),
                        "reason": event.reason,
                        "attempt": event.attempt_id,
                        "score_delta": event.score_delta,
                        "lives_delta": event.lives_delta,
                        "score_after": event.score_after,
                        "lives_after": event.lives_after,
                    }
                    for event in review.ledger
                ],
                "connections": [{**row, "id": str(row["id"])} for row in review.connections],
            }
        )


class DisputeCreateApi(APIView):
    """A learner disputes one of their own attempts ("my answer should count")."""

    class InputSerializer(serializers.Serializer):
        comment = serializers.CharField(required=False, allow_blank=True, max_length=1000)

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        attempt = serializers.IntegerField(source="attempt_id")
        status = serializers.CharField()
        comment = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            404: OpenApiResponse(description="No such attempt of yours."),
            409: OpenApiResponse(description="Already disputed, or not disputable."),
        },
    )
    def post(self, request: Request, attempt_id: int) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            dispute = dispute_open(
                learner=request.user,
                attempt_id=attempt_id,
                comment=payload.validated_data.get("comment", ""),
            )
        except Attempt.DoesNotExist as missing:
            raise exceptions.NotFound("No such attempt of yours.") from missing
        except DisputeRefused as refused:
            raise _Conflict(str(refused), code=refused.code) from refused
        return Response(self.OutputSerializer(dispute).data, status=status.HTTP_201_CREATED)


class _Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
