"""A fake Telegram Bot API on loopback: a real HTTP server in a thread, for PTB's real HTTP client.

It records every call (python-telegram-bot posts application/x-www-form-urlencoded; JSON also
works), serves getMe / getUpdates from a queue, and can be told to fail the next calls of a method
with 429 + retry_after, 403 or 5xx.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOT_ID = 7000001
BOT_USERNAME = "ivan_test_bot"
TOKEN = "7000001:TEST-token-for-the-fake-api"
# Form fields PTB sends JSON-encoded.
_JSON_FIELDS = {"reply_markup", "allowed_updates", "commands", "reply_parameters", "link_preview_options", "scope"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None


class FakeTelegram:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.webhook_url = ""
        self.connections = 0  # TCP connections accepted so far
        self.failures: dict[str, list[Failure]] = {}
        self._cond = threading.Condition()
        self._message_ids = itertools.count(1000)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-telegram", daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeTelegram:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- test controls -----------------------------------------------------------------------
    def fail_next(self, method: str, status: int, *, times: int = 1, retry_after: int | None = None) -> None:
        descriptions = {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
        }
        failure = Failure(
            status=status, description=descriptions.get(status, "Internal Server Error"), retry_after=retry_after
        )
        with self._cond:
            self.failures.setdefault(method, []).extend([failure] * times)

    def queue_update(self, update: dict[str, Any]) -> None:
        with self._cond:
            self.updates.append(update)
            self._cond.notify_all()

    def calls_of(self, method: str) -> list[Call]:
        with self._cond:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until `count` calls of `method` were received; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [call for call in self.calls if call.method == method]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [call.method for call in self.calls]
                    raise AssertionError(f"expected {count} {method} call(s) within {timeout}s; saw {seen}")
                self._cond.wait(remaining)

    async def await_call(self, method: str, count: int = 1, timeout: float = 10.0) -> list[Call]:
        """`wait_for` for async tests: waits in a thread so the event loop keeps running."""
        return await asyncio.to_thread(self.wait_for, method, count, timeout)

    # --- the API -----------------------------------------------------------------------------
    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": "Ivan",
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params.get("chat_id", 0))
        return {
            "message_id": int(params.get("message_id") or next(self._message_ids)),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": self._bot_user(),
            "text": params.get("text", ""),
        }

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._cond:
            pending = self.failures.get(method)
            failure = pending.pop(0) if pending else None
            self.calls.append(Call(method=method, params=params))
            self._cond.notify_all()
        if failure is not None:
            body: dict[str, Any] = {"ok": False, "error_code": failure.status, "description": failure.description}
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return failure.status, body
        if method == "getMe":
            return 200, {"ok": True, "result": self._bot_user()}
        if method in {"sendMessage", "editMessageText", "editMessageReplyMarkup"}:
            return 200, {"ok": True, "result": self._message(params)}
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._take_updates(params)}
        if method == "setWebhook":
            self.webhook_url = params.get("url", "")
            return 200, {"ok": True, "result": True}
        if method == "deleteWebhook":
            self.webhook_url = ""
            return 200, {"ok": True, "result": True}
        if method == "getWebhookInfo":
            info = {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": len(self.updates)}
            return 200, {"ok": True, "result": info}
        if method in {"sendChatAction", "setMyCommands", "answerCallbackQuery", "deleteMyCommands"}:
            return 200, {"ok": True, "result": True}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

    def _take_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        # Wait a little for an update (long polling), but never long: tests stop the poller.
        wait_s = min(float(params.get("timeout") or 0), 0.5)
        deadline = time.monotonic() + wait_s
        with self._cond:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self.updates)

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as the real Bot API: a client that opens a connection per call shows up
            # in `connections` (HTTP/1.0 here made every call a new connection whatever the client did).
            protocol_version = "HTTP/1.1"
            # The status line + headers and the body are two writes: with Nagle on a kept-alive
            # connection the body waited for the client's delayed ACK, ≈ 40 ms per call (seen in
            # tools/telegram_latency.py as a gap between sendMessage and the update's finish).
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with fake._cond:
                    fake.connections += 1

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""  # read whole: the connection is kept
                prefix = f"/bot{fake.token}/"
                if not self.path.startswith(prefix):
                    self._send(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                    return
                method = self.path[len(prefix) :].split("?", 1)[0]
                self._send(*fake._answer(method, _parse(self.headers.get("Content-Type", ""), raw)))

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _parse(content_type: str, raw: bytes) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        return json.loads(raw)
    params: dict[str, Any] = {key: values[-1] for key, values in parse_qs(raw.decode(), keep_blank_values=True).items()}
    for key in _JSON_FIELDS & params.keys():
        params[key] = json.loads(params[key])
    return params
