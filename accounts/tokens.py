"""JWTs that name the API log-in they belong to, so logging out ends that log-in's open sockets."""

from __future__ import annotations

import uuid

from rest_framework_simplejwt.tokens import RefreshToken

from digitalme.ws_auth import LOGIN_CLAIM


class LoginRefreshToken(RefreshToken):
    """A refresh token with a fresh `sid` claim. Refresh rotation keeps a token's claims and access
    tokens copy them, so every token of one log-in carries the same `sid`."""

    @classmethod
    def for_user(cls, user):  # type: ignore[no-untyped-def]
        token = super().for_user(user)
        token[LOGIN_CLAIM] = uuid.uuid4().hex
        return token
