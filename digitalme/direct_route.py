"""One URL served by its async Django view straight from ASGI, around the project's middleware stack.

Why: the stack holds sync-only middleware (WhiteNoise, sessions, …), so every request through it
runs as a sync island with thread hops each way, and Django's ASGI handler adds more of its own
(the request_started/finished signals, response.close), on a thread created per request. For the
Telegram webhook — a machine POSTing small JSON bodies — that was most of the ack's CPU
(docs/QUALITY.md, Telegram fourth pass). A direct route keeps what such a request needs:

- the view itself, as the URLconf resolves it (its decorators too: csrf_exempt, require_POST → 405);
- the request id and the request metrics (RequestIdMiddleware, MetricsMiddleware: async);
- Django's host validation, SSL redirect and security headers: SecurityMiddleware's and
  CommonMiddleware's hooks are pure functions, called inline in their stack order, not in a thread;
- DatabaseUnavailableMiddleware's `process_exception` (a database restart answers 503);
- Django's exception-to-response conversion (a bad Host is a 400, an error a logged 500);
- a body above DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413 before it is read (Django's stack
  would spool all of it, then answer 400).

It leaves out what such a request never uses: sessions, authentication, CSRF (the views routed
here are csrf_exempt), messages, locale, frame and CSP headers, static files. The view stays in the
URLconf as well, so test clients and WSGI reach it through the whole stack.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any, cast

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import ResolverMatch, resolve

from digitalme.errors import DatabaseUnavailableMiddleware, error_body
from digitalme.metrics import MetricsMiddleware
from digitalme.request_id import RequestIdMiddleware

ASGIApp = Callable[[dict, Callable, Callable], Awaitable[None]]
Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]

_BODY_REFUSED = "direct_route_body_refused"


def _unused(request: HttpRequest) -> HttpResponse:  # get_response of middleware whose hooks are called inline
    raise AssertionError("not called")


def _too_large_response() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return JsonResponse(error_body(f"The request body is larger than {limit} bytes.", "too_large"), status=413)


def _view_handler(match: ResolverMatch) -> Handler:
    """The view between the inline hooks of the stack's pure middleware, as Django orders them."""
    security, common = SecurityMiddleware(_unused), CommonMiddleware(_unused)
    database = DatabaseUnavailableMiddleware(_unused)
    view = match.func

    async def respond(request: HttpRequest) -> HttpResponse:
        request.resolver_match = match
        response: HttpResponse | None = security.process_request(request) or common.process_request(request)
        if response is None:
            if getattr(request, _BODY_REFUSED, False):
                response = _too_large_response()
            else:
                try:
                    response = await view(request, *match.args, **match.kwargs)
                except Exception as exc:
                    response = database.process_exception(request, exc)
                    if response is None:
                        raise
        response = cast(HttpResponse, common.process_response(request, response))
        return security.process_response(request, response)

    return respond


def _handler(path: str) -> Handler:
    """Django's nesting for the route's short stack: each layer behind convert_exception_to_response."""
    match = resolve(path)
    handler: Any = convert_exception_to_response(_view_handler(match))
    for middleware in (MetricsMiddleware, RequestIdMiddleware):  # innermost first
        handler = convert_exception_to_response(middleware(handler))
    return cast(Handler, handler)


async def _read_body(scope: dict, receive: Callable) -> bytes | None:
    """The whole body, or None once it is known to exceed DATA_UPLOAD_MAX_MEMORY_SIZE (unread)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None:
        for name, value in scope.get("headers") or ():
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError("the client went away before its body arrived")
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_response(response: HttpResponse, send: Callable) -> None:
    headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
    headers += [(b"Set-Cookie", c.output(header="").encode("ascii").strip()) for c in response.cookies.values()]
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    content = b"".join(response) if response.streaming else response.content  # type: ignore[attr-defined]
    await send({"type": "http.response.body", "body": content})


class DirectRoutes:
    """ASGI: HTTP requests for `paths` go straight to their views (see the module docstring),
    everything else to `app` (Django's full stack)."""

    def __init__(self, app: ASGIApp, *, paths: list[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self._handlers: dict[str, Handler] = {}

    def handler(self, path: str) -> Handler:
        if path not in self._handlers:  # resolved on first use: the URLconf imports every app's views
            self._handlers[path] = _handler(path)
        return self._handlers[path]

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope["path"].removeprefix(get_script_prefix(scope)) if scope["type"] == "http" else ""
        if path not in self.paths:
            await self.app(scope, receive, send)
            return
        try:
            body = await _read_body(scope, receive)
        except ConnectionAbortedError:
            return
        request = ASGIRequest(scope, io.BytesIO(body or b""))
        if body is None:
            setattr(request, _BODY_REFUSED, True)
        response = await self.handler(path)(request)
        await _send_response(response, send)
