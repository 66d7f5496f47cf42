"""WebSocketAuthMiddleware: the session cookie signs a socket in; a handshake without it (API
clients, which send the `auth` frame's JWT) skips the cookie and session layers — they would find
nothing and keep a session store and scope copies for the socket's life (docs/QUALITY.md)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client

from digitalme.ws_auth import WebSocketAuthMiddleware
from tests.conftest import PASSWORD
from tests.factories import UserFactory


class _Seen:
    def __init__(self) -> None:
        self.scope: dict = {}

    async def __call__(self, scope, receive, send) -> None:
        self.scope = scope


async def _through(headers: list[tuple[bytes, bytes]]) -> dict:
    seen = _Seen()
    await WebSocketAuthMiddleware(seen)({"type": "websocket", "path": "/ws/chat/", "headers": headers}, None, None)
    return seen.scope


@sync_to_async
def _session_cookie() -> tuple[str, int]:
    user = UserFactory(password=PASSWORD)
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value, user.pk


async def test_a_handshake_without_the_session_cookie_is_anonymous_and_holds_no_session():
    scope = await _through([(b"origin", b"http://testserver"), (b"cookie", b"csrftoken=abc")])

    assert not scope["user"].is_authenticated
    assert "session" not in scope and "cookies" not in scope


@pytest.mark.django_db(transaction=True)
async def test_the_session_cookie_signs_the_socket_in():
    session_key, user_id = await _session_cookie()

    scope = await _through([(b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode())])

    assert scope["session"].session_key == session_key
    assert scope["user"].pk == user_id
