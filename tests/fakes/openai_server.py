"""A loopback OpenAI-compatible server, so litellm's real HTTP client path runs in tests.

Serves POST /v1/chat/completions (JSON or SSE when `stream` is true) and records each request.
`mode` makes it misbehave the ways real providers do, to test failure, retry and timeout handling:
    ok          answer (SSE for a stream)
    error500    HTTP 500 with an OpenAI error body (`status` picks another code, e.g. 429 or 400)
    hang        accept the request and say nothing for 5 s
    die         stream two pieces, then drop the connection mid-body (chunked, never terminated)
    noisy       a stream with SSE comments, other fields and blank lines between the chunks (valid SSE)
    truncated   the pieces, then the connection closes: no finish_reason, no [DONE]
    malformed   the same noise and then a data line that is not JSON
    garbage     HTTP 200 whose body is not JSON at all (an HTML error page)
`fail_first = N` answers the first N requests with `status` whatever the mode (a provider that
recovers: tests retries). Subclasses change what it answers by overriding `reply_text()`. Usable as
a context manager.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class FakeOpenAI:
    def __init__(self, reply: str = "Privet from the remote model") -> None:
        self.reply = reply
        self.mode = "ok"  # ok | error500 | hang | die | noisy | truncated | malformed | garbage
        self.status = 500  # the error status of error500 and fail_first
        self.fail_first = 0
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
                if fake.mode == "error500" or len(fake.requests) <= fake.fail_first:
                    self._json(fake.status, {"error": {"message": "upstream exploded", "type": "server_error"}})
                    return
                if fake.mode == "hang":
                    time.sleep(5)
                    return
                if fake.mode == "garbage":  # 200 with a body that is not JSON (a proxy's error page)
                    data = b"<html><body>502 Bad Gateway</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if body.get("stream") and fake.mode == "die":
                    self._die(body)
                elif body.get("stream"):
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
                noise = b": keep-alive\n\nevent: message\nid: 1\n\n\n" if fake.mode in ("noisy", "malformed") else b""
                if fake.mode == "malformed":
                    self.wfile.write(noise + b"data: {not json\n\n")
                for piece in fake.pieces():
                    end = "\r\n\r\n" if noise else "\n\n"  # SSE allows CRLF line ends
                    self.wfile.write(noise + f"data: {json.dumps(_chunk(body, piece))}{end}".encode())
                    self.wfile.flush()
                if fake.mode == "truncated":
                    return
                end = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", "fake"),
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                }
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()

            def _die(self, body: dict) -> None:
                self.protocol_version = "HTTP/1.1"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for piece in fake.pieces()[:2]:
                    data = f"data: {json.dumps(_chunk(body, piece))}\n\n".encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    self.wfile.flush()
                self.close_connection = True  # no terminating chunk: the body is cut

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def pieces(self) -> list[str]:
        words = self.reply_text().split(" ")
        return [word if index == 0 else f" {word}" for index, word in enumerate(words)]

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


def _chunk(body: dict, piece: str) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": piece}, "finish_reason": None}],
    }


_IN_A_PROCESS = """
import sys
from tests.fakes.openai_server import FakeOpenAI
server = FakeOpenAI(reply=sys.argv[1]).start()
print(server.base_url, flush=True)
sys.stdin.read()  # until the parent closes stdin (or dies)
"""


def serve_in_a_process(reply: str) -> tuple[subprocess.Popen, str]:
    """The server in its own process (measurements count only the client side's CPU): the process
    and its base URL. Stop it with `process.terminate()`."""
    process = subprocess.Popen(
        [sys.executable, "-c", _IN_A_PROCESS, reply],
        cwd=Path(__file__).resolve().parents[2],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()
