"""A loopback OpenAI-compatible `/v1/moderations` server, so the real litellm/openai client runs.

Tests set `.scores` (category → score), `.status` (HTTP status) and `.delay_s`, then read
`.requests` (what the client sent: path, headers, JSON body).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CATEGORIES = (
    "sexual",
    "sexual/minors",
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "violence",
    "violence/graphic",
)


class FakeModerationApi:
    def __init__(self) -> None:
        self.scores: dict[str, float] = {}
        self.status = 200
        self.delay_s = 0.0
        self.requests: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeModerationApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _response(self, body: dict[str, Any]) -> dict[str, Any]:
        scores = {name: float(self.scores.get(name, 0.001)) for name in CATEGORIES}
        return {
            "id": "modr-test",
            "model": body.get("model", "omni-moderation-latest"),
            "results": [
                {
                    "flagged": any(score >= 0.5 for score in scores.values()),
                    "categories": {name: score >= 0.5 for name, score in scores.items()},
                    "category_scores": scores,
                    "category_applied_input_types": {name: ["text"] for name in CATEGORIES},
                }
            ],
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                if fake.status != 200:
                    payload = json.dumps({"error": {"message": "upstream broke", "type": "server_error"}}).encode()
                else:
                    payload = json.dumps(fake._response(body)).encode()
                try:
                    self.send_response(fake.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        return Handler
