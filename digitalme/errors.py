"""One error shape for the whole API: {"detail", "code", "fields"} with the right 4xx status."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


def error_body(detail: str, code: str, fields: dict | None = None) -> dict[str, Any]:
    """The error body every HTTP interface answers with (REST, SSE `error` events, plain views)."""
    return {"detail": detail, "code": code, "fields": fields or {}}


def error_frame(detail: str, code: str, fields: dict | None = None) -> dict[str, Any]:
    """The same body as a WebSocket `error` frame."""
    return {"type": "error", **error_body(detail, code, fields)}


class ErrorSerializer(serializers.Serializer):
    """`error_body()` in the OpenAPI schema: one component ("Error") for every error response."""

    detail = serializers.CharField(help_text="What was wrong and what to do, for people.")
    code = serializers.CharField(help_text="Stable machine-readable code: invalid, not_found, throttled, …")
    fields = serializers.DictField(  # type: ignore[assignment]  # a declared field, not Serializer.fields
        help_text="Per-field messages for invalid input; empty otherwise."
    )


class DomainError(Exception):
    """Base for the apps' domain errors; each interface maps them to 4xx or an error frame."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None, fields: dict | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.fields = fields or {}


ERROR_REF = {"$ref": "#/components/schemas/Error"}  # ErrorSerializer's component
# Where a view streams (text/event-stream), an error before the stream starts is one SSE event
# `error` whose data is error_body() as JSON.
SSE_ERROR_EVENT = {
    "type": "object",
    "properties": {"event": {"type": "string", "enum": ["error"]}, "data": {"type": "string"}},
    "required": ["event", "data"],
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
DEFAULT_ERROR_RESPONSES = {
    "400": "Invalid input (code invalid, fields per field) or a body that is not valid JSON (code parse_error)",
    "401": "Not authenticated, or the access token is invalid or expired",
    "403": "Signed in but not allowed (staff only)",
    "404": "Not found, or not yours",
    "429": "Too many requests (code throttled or rate_limited): try again later",
    "503": "The database is briefly unavailable (code unavailable, Retry-After): try again shortly",
}


def error_response(description: str) -> OpenApiResponse:
    """An error status documented with the API's one error body."""
    return OpenApiResponse(ErrorSerializer, description=description)


def error_responses_hook(result: dict, generator: Any, request: Any, public: bool) -> dict:
    """drf-spectacular postprocessing hook: every operation documents the 4xx statuses every view can
    answer (parse errors, a bad token on a public view, throttles), with the error body — so the
    schema tells clients and schemathesis the truth. Statuses a view documents itself keep their description; every
    error status gets the error body (as an SSE `error` event where the view streams)."""
    if "Error" not in result.get("components", {}).get("schemas", {}):
        raise ImproperlyConfigured("No view documents ErrorSerializer: the hook has no Error component to point at.")
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for code, description in DEFAULT_ERROR_RESPONSES.items():
                responses.setdefault(code, {"description": description})
            for code, response in responses.items():
                if not code.startswith(("4", "5")):
                    continue
                content = response.setdefault("content", {"application/json": {}})
                for media_type, body in content.items():
                    body["schema"] = dict(SSE_ERROR_EVENT if media_type == "text/event-stream" else ERROR_REF)
    return result


def _first_code(codes: Any) -> str:
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        for value in codes.values():
            return _first_code(value)
    if isinstance(codes, list) and codes:
        return _first_code(codes[0])
    return "error"


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(error_body(exc.detail, exc.code, exc.fields), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("Invalid input: see fields.", "invalid", fields)
    else:
        detail = exc.detail
        if isinstance(detail, dict):
            # simplejwt puts {"detail": ..., "code": ..., "messages": [...]} here.
            text = str(detail.get("detail", "Request failed."))
            code = str(detail.get("code", _first_code(exc.get_codes())))
        else:
            text = str(detail)
            code = _first_code(exc.get_codes())
        response.data = error_body(text, code)
    return response


def json_error(request: HttpRequest, status_code: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse(error_body(detail, code), status=status_code)


def handler404(request: HttpRequest, exception: Exception | None = None):
    if request.path.startswith("/api/"):
        return json_error(request, 404, "Not found.", "not_found")
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request: HttpRequest):
    if request.path.startswith("/api/"):
        return json_error(request, 500, "Server error; it has been logged.", "server_error")
    from django.views.defaults import server_error

    return server_error(request)


# --- the database down or restarting -------------------------------------------------------------

DATABASE_DOWN_ERRORS = (OperationalError, InterfaceError)
DATABASE_DOWN_DETAIL = "The service is briefly unavailable (its database is not answering); try again shortly."
DATABASE_RETRY_AFTER_S = 5


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """A database that is down or restarting answers 503 with Retry-After, not a 500: the API's
    `{detail, code: "unavailable", fields}` body, plain text for pages. Sync and async alike
    (MiddlewareMixin), so async views keep running without an adapter."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_DOWN_ERRORS):
            return None
        logger.warning("database unavailable; answered 503", extra={"error": type(exception).__name__})
        response: HttpResponse
        if request.path.startswith("/api/"):
            response = JsonResponse(error_body(DATABASE_DOWN_DETAIL, "unavailable"), status=503)
        else:
            response = HttpResponse(DATABASE_DOWN_DETAIL, status=503, content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
        return response
