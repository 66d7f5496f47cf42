"""Request ids: one per request, honoured from `X-Request-ID` when sane, on every log line.

HTTP requests get theirs from `RequestIdMiddleware`; a WebSocket connection from
`WebSocketRequestIdMiddleware` (the handshake's `X-Request-ID`, else a new one), so the turns on
that socket and the Celery tasks they queue (digitalme/celery.py) log the same id.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


def new_request_id(incoming: str | None = None) -> str:
    if incoming and _SANE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets the request id for the request's context and echoes it in the response."""

    async_capable = True
    sync_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if iscoroutinefunction(self):
            return self._acall(request)  # type: ignore[attr-defined]
        token = self._start(request)
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]
            return response
        finally:
            current_request_id.reset(token)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        token = self._start(request)
        try:
            response = await self.get_response(request)
            response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]
            return response
        finally:
            current_request_id.reset(token)

    @staticmethod
    def _start(request: HttpRequest):
        request_id = new_request_id(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        return current_request_id.set(request_id)


def _header(scope: dict, name: str) -> str:
    """The last value of an ASGI scope's header `name` ("" when absent)."""
    wanted, found = name.lower().encode(), b""
    for key, value in scope.get("headers") or ():
        if key == wanted:
            found = value
    return found.decode("latin-1")


class WebSocketRequestIdMiddleware:
    """ASGI: the connection's id for everything the consumer does (its tasks inherit the context)."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        # No header dict kept in this frame: it lives as long as the socket (≈ 1 KB × every open socket).
        request_id = new_request_id(_header(scope, REQUEST_ID_HEADER))
        token = current_request_id.set(request_id)
        path = scope.get("path", "")
        # The JSON access log of sockets (daphne's own access lines carry no request id).
        logger.info("websocket connecting", extra={"path": path})
        try:
            await self.app({**scope, "request_id": request_id}, receive, send)
        finally:
            logger.info("websocket closed", extra={"path": path})
            current_request_id.reset(token)


class RequestIdLogFilter(logging.Filter):
    """Puts the current request id on every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


def sentry_before_send(event: Any, hint: dict[str, Any]) -> Any:
    """Tag every Sentry event with the request id of the context it was captured in."""
    request_id = current_request_id.get()
    if request_id != "-":
        event.setdefault("tags", {})["request_id"] = request_id
    return event
