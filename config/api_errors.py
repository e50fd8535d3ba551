"""Every API error has the same shape: {"detail": reason, "code": code[, "errors": fields]}."""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger("django.request")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the resource's state."
    default_code = "conflict"


class UnsupportedMediaType(exceptions.APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_detail = "Unsupported media type."
    default_code = "unsupported_media_type"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is too large."
    default_code = "payload_too_large"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A service the request needs is unavailable."
    default_code = "service_unavailable"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": _first_message(exc.detail),
            "code": "invalid",
            "errors": exc.detail,
        }
    else:
        codes = exc.get_codes()
        response.data = {
            "detail": str(exc.detail),
            "code": codes if isinstance(codes, str) else exc.default_code,
        }
    return response


def _first_message(detail: Any, path: str = "") -> str:
    """A one-line reason from a nested validation error, naming its field."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = key if key != "non_field_errors" else ""
            return _first_message(value, f"{path}.{field}" if path and field else path or field)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0], path)
    return f"{path}: {detail}" if path else str(detail)


# --- Errors outside DRF's views: one shape for everything under /api/ -------------------------

API_PREFIX = "/api/"


def error_code_for(status_code: int) -> str:
    """`not_found` for 404, `request_entity_too_large` for 413, `error` for unknown codes."""
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        return "error"
    return phrase.lower().replace(" ", "_").replace("-", "_")


def api_error_response(status_code: int, detail: str, code: str | None = None) -> JsonResponse:
    return JsonResponse(
        {"detail": detail, "code": code or error_code_for(status_code)}, status=status_code
    )


class ApiErrorMiddleware:
    """Every 4xx/5xx under /api/ in the API's JSON shape, whatever DEBUG says.

    Django answers some errors before or around DRF with HTML: a URL no view matches (404),
    a body over DATA_UPLOAD_MAX_MEMORY_SIZE (400), an unhandled exception (500, the technical
    page when DEBUG is on). This middleware, first in MIDDLEWARE, turns an uncaught exception
    into a logged JSON 500 and replaces any non-JSON error response with the JSON shape, so no
    traceback or setting leaves the server on an API URL. Pages outside /api/ keep Django's
    HTML handling.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self.__acall__(request)
        return self._shape(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        return self._shape(request, await self.get_response(request))

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        if isinstance(exception, Http404):
            return api_error_response(404, "Not found.")
        if isinstance(exception, PermissionDenied):
            return api_error_response(403, "You do not have permission to perform this action.")
        if isinstance(exception, RequestDataTooBig):
            return _too_big_response()
        if isinstance(exception, SuspiciousOperation | BadRequest):
            return api_error_response(400, "Bad request.")
        logger.error(
            "Internal Server Error: %s",
            request.path,
            exc_info=exception,
            extra={"request": request},
        )
        return api_error_response(500, "Internal server error.", "server_error")

    def _shape(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if (
            response.status_code < 400
            or not request.path.startswith(API_PREFIX)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        if response.status_code == 400 and getattr(request, "_post_parse_error", False):
            shaped = _too_big_response()
        elif response.status_code >= 500:
            shaped = api_error_response(
                response.status_code, "Internal server error.", "server_error"
            )
        else:
            shaped = api_error_response(
                response.status_code, HTTPStatus(response.status_code).phrase + "."
            )
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            if header in response:
                shaped[header] = response[header]
        return shaped


def _too_big_response() -> JsonResponse:
    return api_error_response(
        400,
        f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,} bytes.",
        "request_too_large",
    )


# --- The schema documents every error an operation can answer ---------------------------------

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_COMMON_ERRORS = {
    "400": "Invalid input (`detail` names the field and why), or a JSON/form body over the "
    "memory limit (`code` = `request_too_large`).",
    "401": "Not authenticated, or the token is invalid.",
    "403": "Signed in, but not allowed (e.g. analytics are for staff and the analysts group).",
    "404": "No such resource for this learner.",
    "413": "The request body is larger than the server's limit; refused from its "
    "Content-Length before it is read (`code` = `request_too_large`).",
    "429": "Too many requests (`code` = `throttled`) or, on login, too many failures "
    "(`code` = `locked_out`); the `Retry-After` header says how many seconds to wait.",
}


# Permissions that refuse nobody signed in: a view with only these never answers 403.
_LOGIN_ONLY = (permissions.AllowAny, permissions.IsAuthenticated)


def schema_error_responses(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: add the errors each view can answer.

    Derived from the views, so a new endpoint is documented by what it declares: 401 where it
    authenticates, 403 where a permission asks more than a login, 429 where a throttle covers
    the method, 404 where the path has parameters, 400 where it takes a body or query filters,
    413 where it takes a body (Daphne's limit, config.server, applies to every body).
    """
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = {
        "type": "object",
        "properties": {
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "errors": {"type": "object", "additionalProperties": True},
        },
        "required": ["detail", "code"],
    }
    views = {
        (path, method.lower()): callback.cls(**(getattr(callback, "initkwargs", None) or {}))
        for path, _regex, method, callback in generator.endpoints or []
    }
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            view = views.get((path, method))
            responses = operation.setdefault("responses", {})
            wanted = []
            if "requestBody" in operation:
                wanted += ["400", "413"]
            parameters = {p.get("name") for p in operation.get("parameters", [])}
            filters = {
                p.get("name")
                for p in operation.get("parameters", [])
                if p.get("in") == "query" and p.get("name") != "format"
            }
            if filters and "400" not in wanted:
                wanted.append("400")
            if "{" in path or "format" in parameters:  # DRF: 404 for an unknown ?format=
                wanted.append("404")
            if view is not None:
                if view.get_authenticators():
                    wanted.append("401")
                if any(
                    type(permission) not in _LOGIN_ONLY for permission in view.get_permissions()
                ):
                    wanted.append("403")
                if any(
                    method.upper() in getattr(throttle, "methods", {method.upper()})
                    for throttle in view.get_throttles()
                ):
                    wanted.append("429")
            for code in wanted:
                response = responses.setdefault(code, {"description": _COMMON_ERRORS[code]})
                response.setdefault("content", {"application/json": {"schema": _ERROR_REF}})
    return result
