"""Receivers that hand Django's auth events to services (no logic here).

Every log-out path (allauth's page, the admin, account deletion) calls django.contrib.auth's
logout(), which sends `user_logged_out` while the session key is still known.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from accounts import services


@receiver(user_logged_out, dispatch_uid="accounts.close_sockets_on_logout")
def close_sockets_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    services.user_logged_out(user=user, session_key=getattr(session, "session_key", None))
