"""WebSocket authentication: the session cookie, or a first `auth` frame carrying a JWT; and the
end of a socket's authentication when the account's credentials end.

The session is resolved here (Channels' AuthMiddlewareStack); the JWT path is handled by the
consumer through `login_from_access_token`, because tokens never travel in the URL.

Revocation: an authenticated socket joins `user_auth_group(user_id)` (`SessionRevocationMixin`).
A password change or reset, deactivation or deletion closes every socket of the account; a web
log-out closes the sockets of that session, an API log-out (`/api/auth/token/logout/`) those
opened with an access token of that log-in (its `sid` claim, kept through refresh rotation). Each gets an `error` frame with code
`session_ended`, then close code 4401 (CLOSE_SESSION_ENDED, the same as "not authenticated": the
client signs in again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.auth import AuthMiddleware, get_user
from channels.layers import get_channel_layer
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, Token

from digitalme.db import db_async
from digitalme.errors import error_frame
from digitalme.realtime import user_auth_group

logger = logging.getLogger(__name__)

CLOSE_SESSION_ENDED = 4401
SESSION_REVOKE = "session.revoke"
LOGIN_CLAIM = "sid"  # names one API log-in; refresh rotation and its access tokens copy it


class _SessionUserOnPool(AuthMiddleware):
    """Channels' session log-in, with its user lookup on the bounded pool: the stock one runs on
    the single thread-sensitive thread, where every socket's connect in the process queues."""

    async def resolve_scope(self, scope: dict[str, Any]) -> None:
        scope["user"]._wrapped = await db_async(get_user.func)(scope)


def _carries_session_cookie(scope: dict[str, Any]) -> bool:
    marker = f"{settings.SESSION_COOKIE_NAME}=".encode()
    return any(name == b"cookie" and marker in value for name, value in scope.get("headers") or ())


class WebSocketAuthMiddleware:
    """Channels' AuthMiddlewareStack (cookie → session → user), the lookup off the shared thread.

    A handshake without the session cookie (API clients and scripts, which sign in with the `auth`
    frame's JWT) skips it and is anonymous at once: the stack would only find no session, and keeps
    for the socket's life a cookie dict, a session store, lazy users and two scope copies
    (≈ 3 KB × every open socket; docs/QUALITY.md, memory of a web process)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.with_session = CookieMiddleware(SessionMiddleware(_SessionUserOnPool(inner)))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if _carries_session_cookie(scope):
            return await self.with_session(scope, receive, send)
        # As Channels' AuthMiddleware: a user an outer layer already put in the scope is kept.
        return await self.inner({"user": AnonymousUser(), **scope}, receive, send)


def token_session_key(token: Token) -> str:
    """The revocation key of a socket opened with a JWT of this log-in (`jwt:<sid>`); tokens
    without the claim (minted by `for_user` in scripts, or before log-ins were named) share `jwt:`."""
    return f"jwt:{token.get(LOGIN_CLAIM, '')}"


@dataclass(frozen=True)
class TokenLogin:
    user: Any  # the active user, or AnonymousUser for any bad token
    session_key: str


@db_async  # not the single thread-sensitive thread: 1,000 sockets signing in at once queued there
def login_from_access_token(raw_token: str) -> TokenLogin:
    """Who an access JWT signs in, and the log-in it belongs to (closed together on API log-out)."""
    try:
        token = AccessToken(raw_token)  # type: ignore[arg-type]
    except TokenError:
        return TokenLogin(AnonymousUser(), "")
    User = get_user_model()
    try:
        user = User.objects.get(pk=token["user_id"], is_active=True)
    except (User.DoesNotExist, KeyError, ValueError):
        return TokenLogin(AnonymousUser(), "")
    return TokenLogin(user, token_session_key(token))


def sockets_close_for_user(user_id: int, *, reason: str, session_key: str | None = None) -> None:
    """Close the user's open sockets (only those of `session_key` when given). Best effort: a
    channel layer that is down is logged; the tokens are already revoked in the database."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": SESSION_REVOKE, "reason": reason, "session_key": session_key or ""}
    try:
        async_to_sync(layer.group_send)(user_auth_group(user_id), message)
    except Exception:
        logger.warning("closing the user's sockets failed", extra={"user_id": user_id, "reason": reason}, exc_info=True)


class SessionRevocationMixin:
    """For consumers of signed-in users: call `watch_session(user)` once authenticated and
    `unwatch_session()` on disconnect; `session.revoke` messages then close the socket."""

    revocation_group: str | None = None
    login_key = ""  # `jwt:<sid>` for a socket signed in with an access token
    scope: dict[str, Any]
    channel_layer: Any
    channel_name: str

    async def watch_session(self, user: Any, *, login_key: str = "") -> None:
        self.revocation_group = user_auth_group(user.pk)
        self.login_key = login_key
        await self.channel_layer.group_add(self.revocation_group, self.channel_name)

    async def unwatch_session(self) -> None:
        if self.revocation_group is not None:
            await self.channel_layer.group_discard(self.revocation_group, self.channel_name)
            self.revocation_group = None

    def _session_key(self) -> str:
        if self.login_key:
            return self.login_key
        session = self.scope.get("session")
        return (getattr(session, "session_key", None) or "") if session is not None else ""

    async def session_revoke(self, message: dict[str, Any]) -> None:
        wanted = message.get("session_key") or ""
        if wanted and wanted != self._session_key():
            return  # another browser's log-out
        await self.send_json(error_frame("Your session ended; sign in again.", "session_ended"))  # type: ignore[attr-defined]
        await self.close(code=CLOSE_SESSION_ENDED)  # type: ignore[attr-defined]
