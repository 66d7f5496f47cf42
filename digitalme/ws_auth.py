"""WebSocket authentication: the session cookie, or a first `auth` frame carrying a JWT.

The session is resolved here (Channels' AuthMiddlewareStack); the JWT path is handled by the
consumer through `user_from_access_token`, because tokens never travel in the URL.
"""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken


def WebSocketAuthMiddleware(inner):  # noqa: N802 - reads like the middleware class it wraps
    return AuthMiddlewareStack(inner)


@database_sync_to_async
def user_from_access_token(raw_token: str):
    """The active user an access JWT belongs to, or AnonymousUser for any bad token."""
    try:
        token = AccessToken(raw_token)  # type: ignore[arg-type]
    except TokenError:
        return AnonymousUser()
    User = get_user_model()
    try:
        return User.objects.get(pk=token["user_id"], is_active=True)
    except (User.DoesNotExist, KeyError, ValueError):
        return AnonymousUser()
