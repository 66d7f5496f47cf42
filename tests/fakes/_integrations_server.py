"""A real HTTP server on 127.0.0.1 in a thread, for the Google and GitHub fakes.

It records every call and can be told to answer the next matching requests with a scripted
status/body/headers (401, 429, 403 with limits, 5xx, 410...) before normal routing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def q(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]

    @property
    def bearer(self) -> str:
        auth = self.headers.get("authorization", "")
        for prefix in ("Bearer ", "token "):
            if auth.startswith(prefix):
                return auth[len(prefix) :]
        return ""


@dataclass
class Scripted:
    path_prefix: str
    status: int
    body: Any
    headers: dict[str, str]
    times: int
    method: str | None


class Response:
    def __init__(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


class FakeServer:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._scripted: list[Scripted] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""
        # Called (in the server thread) with every request before it is answered.
        self.on_request: Callable[[Call], None] | None = None

    # --- control ----------------------------------------------------------------------------
    def script(
        self,
        path_prefix: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        method: str | None = None,
    ) -> None:
        """The next `times` requests whose path starts with `path_prefix` get this answer."""
        with self._lock:
            self._scripted.append(Scripted(path_prefix, status, body, headers or {}, times, method))

    def calls_to(self, path_prefix: str, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path.startswith(path_prefix) and (method is None or c.method == method)]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def route(self, call: Call) -> Response:  # subclasses
        return Response(404, {"message": "not found"})

    def approve(self, call: Call, code: str) -> Response:
        """A provider's consent page after the person approved: back to redirect_uri with the code
        and the state the client sent (what the browser follows to the OAuth callback)."""
        query = urlencode({"code": code, "state": call.q("state") or ""})
        return Response(302, None, {"Location": f"{call.q('redirect_uri')}?{query}"})

    # --- server -----------------------------------------------------------------------------
    def _answer(self, call: Call) -> Response:
        if self.on_request is not None:
            self.on_request(call)
        with self._lock:
            self.calls.append(call)
            for item in self._scripted:
                if call.path.startswith(item.path_prefix) and (item.method in (None, call.method)) and item.times > 0:
                    item.times -= 1
                    return Response(item.status, item.body, dict(item.headers))
            return self.route(call)

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                call = Call(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                response = fake._answer(call)
                payload = b""
                content_type = "application/json"
                if response.body is not None:
                    if isinstance(response.body, bytes | str):
                        payload = response.body.encode() if isinstance(response.body, str) else response.body
                        content_type = "text/plain"
                    else:
                        payload = json.dumps(response.body).encode()
                self.send_response(response.status)
                headers = {"Content-Type": content_type, **response.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload and self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server, self.url = serve_loopback(Handler)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def serve_loopback(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """A real HTTP server on a free loopback port, serving in a daemon thread: (server, base url)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def paginate(items: list, page_size: int, page_token: str | None) -> tuple[list, str | None]:
    start = int(page_token or 0)
    page = items[start : start + page_size]
    next_token = str(start + page_size) if start + page_size < len(items) else None
    return page, next_token
