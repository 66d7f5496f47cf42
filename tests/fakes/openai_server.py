"""A loopback OpenAI-compatible server, so litellm's real HTTP client path runs in tests.

Serves POST /v1/chat/completions (JSON or SSE when `stream` is true) and records each request.
`mode` makes it answer 500, hang, or break a stream midway (`die`: three pieces, then the
connection is reset), to test failure, timeout and mid-stream handling. Subclasses change
what it answers by overriding `reply_text()`. Usable as a context manager.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIE_AFTER_PIECES = 3


class FakeOpenAI:
    def __init__(self, reply: str = "Privet from the remote model") -> None:
        self.reply = reply
        self.mode = "ok"  # ok | error500 | hang | die
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reply_text(self) -> str:
        return self.reply

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(body)
                fake.auth_headers.append(self.headers.get("Authorization", ""))
                if fake.mode == "error500":
                    self._json(500, {"error": {"message": "upstream exploded", "type": "server_error"}})
                    return
                if fake.mode == "hang":
                    time.sleep(5)
                    return
                if body.get("stream"):
                    self._stream(body)
                else:
                    self._json(200, fake._completion(body))

            def _json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = fake.reply_text().split(" ")
                for index, word in enumerate(words):
                    if fake.mode == "die" and index == DIE_AFTER_PIECES:
                        # A reset, not a clean end: the client must not take the pieces so far as the reply.
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.connection.close()
                        self.close_connection = True
                        return
                    piece = word if index == 0 else f" {word}"
                    chunk = {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": body.get("model", "fake"),
                        "choices": [
                            {"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}
                        ],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                end = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                }
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def _completion(self, body: dict) -> dict:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": self.reply_text()}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 6, "total_tokens": 17},
        }

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
