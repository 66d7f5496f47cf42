"""A fake Web Push service on loopback: a real HTTP server standing in for FCM / Mozilla autopush.

`subscribe()` makes a browser-side subscription (its own P-256 key pair and auth secret, an
endpoint on this server), exactly what `pushManager.subscribe()` hands a page. Every POST is
checked like a push service does (VAPID `Authorization: vapid t=…,k=…` signature and audience,
TTL, `Content-Encoding: aes128gcm`) and its body decrypted with the subscriber's private key, so a
test reads the notification the service worker would get. `answer(token, status)` scripts the
next answers for one endpoint (410 gone, 404, 429, 500...).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from tests.fakes._integrations_server import serve_loopback


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Subscriber:
    token: str
    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def p256dh(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return _b64url(raw)

    @property
    def auth(self) -> str:
        return _b64url(self.auth_secret)

    def as_json(self) -> dict[str, Any]:
        """What PushSubscription.toJSON() gives a page."""
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass
class Push:
    token: str
    headers: dict[str, str]
    body: bytes
    status: int
    vapid_ok: bool
    audience: str
    payload: Any = None  # the decrypted JSON (None when it could not be decrypted)
    at: float = field(default_factory=time.monotonic)


class FakePushService:
    def __init__(self) -> None:
        self.subscribers: dict[str, Subscriber] = {}
        self.pushes: list[Push] = []
        self._answers: dict[str, list[int]] = {}
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # --- control ----------------------------------------------------------------------------
    def subscribe(self) -> Subscriber:
        token = secrets.token_urlsafe(16)
        subscriber = Subscriber(
            token=token,
            endpoint=f"{self.url}/push/{token}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        self.subscribers[token] = subscriber
        return subscriber

    def answer(self, token: str, status: int, *, times: int = 1) -> None:
        with self._cond:
            self._answers.setdefault(token, []).extend([status] * times)

    def delivered(self, token: str | None = None) -> list[Push]:
        with self._cond:
            return [p for p in self.pushes if p.status == 201 and (token is None or p.token == token)]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Push]:
        """At least `count` requests (any answer) have arrived; returns them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.pushes) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} push requests, got {len(self.pushes)}")
                self._cond.wait(remaining)
            return list(self.pushes)

    # --- server -----------------------------------------------------------------------------
    def _receive(self, token: str, headers: dict[str, str], body: bytes) -> int:
        subscriber = self.subscribers.get(token)
        vapid_ok, audience = False, ""
        try:
            vapid_ok = bool(Vapid02.verify(headers.get("authorization", "")))
            jwt = headers["authorization"].split("t=", 1)[1].split(",", 1)[0]
            audience = json.loads(_b64url_decode(jwt.split(".")[1]))["aud"]
        except Exception:
            vapid_ok = False
        payload = None
        if subscriber is not None and headers.get("content-encoding") == "aes128gcm":
            try:
                plain = http_ece.decrypt(
                    body, private_key=subscriber.private_key, auth_secret=subscriber.auth_secret, version="aes128gcm"
                )
                payload = json.loads(plain)
            except Exception:
                payload = None
        with self._cond:
            scripted = self._answers.get(token) or []
            if scripted:
                status = scripted.pop(0)
            elif subscriber is None:
                status = 404
            elif not vapid_ok or "ttl" not in headers or payload is None:
                status = 400
            else:
                status = 201
            self.pushes.append(Push(token, headers, body, status, vapid_ok, audience, payload))
            self._cond.notify_all()
        return status

    def start(self) -> FakePushService:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                token = self.path.rsplit("/", 1)[-1] if self.path.startswith("/push/") else ""
                status = fake._receive(token, {k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                if status == 201:
                    self.send_header("Location", f"{fake.url}/message/{secrets.token_hex(8)}")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server, self.url = serve_loopback(Handler)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
