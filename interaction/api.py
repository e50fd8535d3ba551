"""Time-stop API: start a session, answer turns (typed or spoken), review the session; the
learner's account (register, `me`).

Thin views: parse with an input serializer, call one service, reply with the shared payload.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils import html
from rest_framework.views import APIView

from config.api_errors import (
    Conflict,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from config.auth import AttemptThrottle, SessionStartThrottle, SignupThrottle
from interaction.api_serializers import (
    OTHER_LANGUAGES_HELP,
    OTHER_LANGUAGES_SCHEMA,
    AttemptOutputSerializer,
    LearnerOutputSerializer,
    SessionDetailOutputSerializer,
    SessionOutputSerializer,
)
from interaction.asr.audio import AudioError
from interaction.asr.types import AsrBusy, AsrError
from interaction.languages import LanguagesInvalid, other_languages_clean
from interaction.models import Session
from interaction.presenters import attempt_payload, session_data
from interaction.scoring import SessionNotActive
from interaction.selectors import (
    learner_languages_get,
    session_get_for_learner,
    session_list_for_learner,
    session_turn_due_get,
    session_turns_due,
)
from interaction.services import (
    RegistrationRefused,
    ScenarioNotPlayable,
    TypedAnswersNotAllowed,
    answer_from_text,
    attempt_record,
    learner_languages_set,
    learner_register,
    learner_token_create,
    session_start,
)
from interaction.speech import answer_from_audio
from interaction.vocabulary import Mode
from scenarios.selectors import scenario_find
from telemetry.privacy import audio_store

MAX_TRANSCRIPT_CHARS = 500
ERRORS = {
    400: OpenApiResponse(description="Invalid input; `detail` says which field and why."),
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Not allowed (e.g. typed answers in a spoken-only scenario)."),
    404: OpenApiResponse(description="No such session for this learner."),
}

logger = logging.getLogger(__name__)


def _learner_session(request: Request, session_id: Any) -> Session:
    try:
        return session_get_for_learner(session_id=session_id, learner=request.user)
    except Session.DoesNotExist as missing:
        raise Http404("No such session.") from missing


class SessionListCreateApi(APIView):
    throttle_classes = [SessionStartThrottle]

    class InputSerializer(serializers.Serializer):
        scenario = serializers.SlugField()
        mode = serializers.ChoiceField(choices=Mode.choices(), default=Mode.TIME_STOP)

    @extend_schema(responses=SessionOutputSerializer(many=True), operation_id="sessions_list")
    def get(self, request: Request) -> Response:
        sessions = list(session_list_for_learner(learner=request.user)[:100])
        turns = session_turns_due(sessions=sessions)
        data = [
            session_data(
                session,
                turn=turns[(session.scenario_id, session.turn_index)]
                if session.is_active
                else None,
            )
            for session in sessions
        ]
        return Response(SessionOutputSerializer(data, many=True).data)

    @extend_schema(
        request=InputSerializer,
        responses={201: SessionOutputSerializer, **ERRORS},
        operation_id="sessions_create",
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        slug = payload.validated_data["scenario"]
        scenario = scenario_find(slug=slug)
        if scenario is None:
            raise exceptions.ValidationError({"scenario": [f"No scenario {slug!r}."]})
        try:
            session = session_start(
                learner=request.user, scenario=scenario, mode=Mode(payload.validated_data["mode"])
            )
        except ScenarioNotPlayable as error:
            raise exceptions.ValidationError({"scenario": [str(error)]}) from error
        return Response(
            SessionOutputSerializer(
                session_data(session, turn=session_turn_due_get(session=session))
            ).data,
            status=status.HTTP_201_CREATED,
        )


class SessionDetailApi(APIView):
    @extend_schema(responses={200: SessionDetailOutputSerializer, **ERRORS})
    def get(self, request: Request, session_id: Any) -> Response:
        session = _learner_session(request, session_id)
        data = session_data(session, turn=session_turn_due_get(session=session), detail=True)
        return Response(SessionDetailOutputSerializer(data).data)


class AttemptCreateApi(APIView):
    """Answer the turn now due: a typed `transcript` (JSON or form) or an `audio` file.

    Audio (multipart `audio`: WAV, WebM/Opus, Ogg/Opus or MP3) is decoded, its evidence taken
    by the WhisperLive pool (the accepted answers scored against it, never prompted) and
    judged by the fair judge exactly like a streamed answer: `correct`, `wrong_language`,
    `incorrect_answer`, or — when the audio does not settle it — `unclear` (no points, no
    lives, the turn stays; `message` says to try again).
    """

    parser_classes = [JSONParser, MultiPartParser, FormParser]
    throttle_classes = [AttemptThrottle]

    class InputSerializer(serializers.Serializer):
        transcript = serializers.CharField(
            max_length=MAX_TRANSCRIPT_CHARS, trim_whitespace=True, required=False
        )
        audio = serializers.FileField(required=False, allow_empty_file=True)

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            if ("transcript" in data) == ("audio" in data):
                raise serializers.ValidationError(
                    {"transcript": ["Send either a transcript (typed) or an audio file."]}
                )
            return data

    @extend_schema(
        request={
            "application/json": InputSerializer,
            "multipart/form-data": InputSerializer,
        },
        responses={
            200: AttemptOutputSerializer,
            **ERRORS,
            409: OpenApiResponse(description="The session has ended."),
            413: OpenApiResponse(description="The audio is too large or too long."),
            415: OpenApiResponse(description="The audio format is not supported."),
            503: OpenApiResponse(description="No speech-recognition server answered."),
        },
    )
    def post(self, request: Request, session_id: Any) -> Response:
        session = _learner_session(request, session_id)
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        if not session.is_active:
            raise Conflict(str(SessionNotActive(session.status)), code="session_ended")
        upload = payload.validated_data.get("audio")
        if upload is None:
            answer = answer_from_text(text=payload.validated_data["transcript"])
        else:
            answer = _recognise(session, upload)
        try:
            result = attempt_record(session=session, answer=answer)
        except SessionNotActive as ended:
            raise Conflict(str(ended), code="session_ended") from ended
        except TypedAnswersNotAllowed as refused:
            raise exceptions.PermissionDenied(
                str(refused), code="typed_answers_disabled"
            ) from refused
        audio_store(attempt=result.attempt, upload=upload)
        return Response(AttemptOutputSerializer(attempt_payload(result)).data)


def _recognise(session: Session, upload: Any) -> Any:
    if upload.size > settings.ASR_MAX_UPLOAD_BYTES:  # before reading it into memory
        raise PayloadTooLarge(
            f"The audio file is {upload.size:,} bytes; the limit is "
            f"{settings.ASR_MAX_UPLOAD_BYTES:,} bytes.",
            code="audio_too_large",
        )
    try:
        return answer_from_audio(
            session=session,
            data=upload.read(),
            content_type=upload.content_type,
            filename=upload.name,
        )
    except AudioError as refused:
        if refused.http_status == 400:
            raise exceptions.ValidationError({"audio": [refused.reason]}) from refused
        raise _AUDIO_ERRORS[refused.http_status](refused.reason, code="bad_audio") from refused
    except AsrError as failed:
        logger.warning("ASR failed for session %s: %s", session.pk, failed)  # servers: logs only
        unavailable = ServiceUnavailable(failed.public_message, code=failed.code)
        if isinstance(failed, AsrBusy):
            unavailable.wait = math.ceil(failed.retry_after_s)  # type: ignore[attr-defined]
        raise unavailable from failed


_AUDIO_ERRORS = {
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


@extend_schema_field(OTHER_LANGUAGES_SCHEMA)
class OtherLanguagesField(serializers.Field):
    """A learner's languages, validated by `languages.other_languages_clean` (the services'
    own check): a list of supported codes, deduplicated."""

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary):  # a form body: the field's key repeated
            return (
                dictionary.getlist(self.field_name)
                if self.field_name in dictionary
                else serializers.empty
            )
        return dictionary.get(self.field_name, serializers.empty)

    def to_internal_value(self, data: Any) -> list[str]:
        try:
            return list(other_languages_clean(data))
        except LanguagesInvalid as invalid:
            raise serializers.ValidationError(str(invalid)) from invalid

    def to_representation(self, value: Any) -> list[str]:
        return list(value)


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [SignupThrottle]

    # Named: every view's nested InputSerializer would otherwise share one schema component.
    @extend_schema_serializer(component_name="RegisterInput")
    class InputSerializer(serializers.Serializer):
        username = serializers.RegexField(r"^[\w.@+-]{3,150}$")
        password = serializers.CharField(write_only=True, max_length=128)
        other_languages = OtherLanguagesField(required=False, help_text=OTHER_LANGUAGES_HELP)

    @extend_schema(
        request=InputSerializer,
        responses={
            201: inline_serializer(
                "TokenOut", {"token": serializers.CharField(), "username": serializers.CharField()}
            )
        },
    )
    def post(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            learner = learner_register(
                username=payload.validated_data["username"],
                password=payload.validated_data["password"],
                other_languages=payload.validated_data.get("other_languages", ()),
            )
        except RegistrationRefused as refused:
            raise exceptions.ValidationError({refused.field: refused.messages}) from refused
        token = learner_token_create(learner=learner)
        return Response(
            {"token": token.key, "username": learner.get_username()}, status=status.HTTP_201_CREATED
        )


def _learner_data(learner: Any) -> dict[str, Any]:
    return {
        "username": learner.get_username(),
        "other_languages": list(learner_languages_get(learner=learner)),
    }


class MeApi(APIView):
    """The signed-in learner: their name and the languages they speak besides the one they
    learn (the languages a spoken answer is suspected of; none named: the global default)."""

    @extend_schema_serializer(component_name="LearnerInput")
    class InputSerializer(serializers.Serializer):
        other_languages = OtherLanguagesField(required=False, help_text=OTHER_LANGUAGES_HELP)

    @extend_schema(responses={200: LearnerOutputSerializer}, operation_id="me_retrieve")
    def get(self, request: Request) -> Response:
        return Response(LearnerOutputSerializer(_learner_data(request.user)).data)

    @extend_schema(
        request=InputSerializer,
        responses={200: LearnerOutputSerializer, 400: ERRORS[400], 401: ERRORS[401]},
        operation_id="me_update",
    )
    def patch(self, request: Request) -> Response:
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        if "other_languages" in payload.validated_data:
            learner_languages_set(
                learner=request.user, other_languages=payload.validated_data["other_languages"]
            )
        return Response(LearnerOutputSerializer(_learner_data(request.user)).data)
