"""Account changes: registration, profile updates, deletion, data export."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from accounts.registry import user_data_exporters, user_deletion_hooks
from digitalme.errors import DomainError
from digitalme.ws_auth import sockets_close_for_user, token_session_key

logger = logging.getLogger(__name__)


class AccountError(DomainError):
    code = "account_error"


def _raise_as_fields(exc: ValidationError) -> None:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    raise AccountError("Invalid input: see fields.", code="invalid", fields=fields) from exc


@transaction.atomic
def user_create(
    *, email: str, password: str, display_name: str = "", language: str = "en", is_staff: bool = False
) -> User:
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise AccountError(
            "Invalid input: see fields.",
            code="invalid",
            fields={"email": ["An account with this email already exists."]},
        )
    user = User(email=email, display_name=display_name, language=language, is_staff=is_staff)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise AccountError("Invalid input: see fields.", code="invalid", fields={"password": exc.messages}) from exc
    user.set_password(password)
    try:
        user.full_clean()
    except ValidationError as exc:
        _raise_as_fields(exc)
    user.save()
    _email_address_record(user)
    logger.info("user registered", extra={"user_id": user.pk})
    return user


def _email_address_record(user: User) -> None:
    """Keep allauth's EmailAddress in step so web log-in and password reset find API sign-ups."""
    from allauth.account.models import EmailAddress

    EmailAddress.objects.get_or_create(user=user, email=user.email, defaults={"primary": True, "verified": False})


@transaction.atomic
def user_update(*, user: User, **changes: Any) -> User:
    allowed = {"display_name", "language", "timezone"}
    for field, value in changes.items():
        if field in allowed:
            setattr(user, field, value)
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        _raise_as_fields(exc)
    user.save(update_fields=[f for f in changes if f in allowed])
    return user


@transaction.atomic
def user_tokens_revoke(*, user: User, reason: str) -> int:
    """End every refresh token of the account (simplejwt's blacklist) and close its open sockets.

    Called when the credentials a token was issued for stop being trusted: a password change or
    reset, deactivation, deletion. Access tokens die on their own within ACCESS_TOKEN_LIFETIME
    (15 min); refresh tokens would otherwise live for days. Returns how many were revoked.
    """
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    tokens = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    revoked = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in tokens], ignore_conflicts=True
    )
    user_id = user.pk
    transaction.on_commit(lambda: sockets_close_for_user(user_id, reason=reason))
    logger.info("refresh tokens revoked", extra={"user_id": user_id, "reason": reason, "count": len(revoked)})
    return len(revoked)


def user_logged_out(*, user: User | None, session_key: str | None) -> None:
    """A web log-out (allauth, the admin, account deletion): that session's sockets close."""
    if user is None or not session_key:
        return
    user_id = user.pk
    transaction.on_commit(lambda: sockets_close_for_user(user_id, reason="logged_out", session_key=session_key))


@transaction.atomic
def user_token_logout(*, refresh: str) -> None:
    """API log-out: the refresh token stops working and the sockets opened with access tokens of
    the same log-in close (4401). Raises simplejwt's TokenError for a bad or spent token."""
    token = RefreshToken(refresh)  # type: ignore[arg-type]
    token.blacklist()
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    if user_id is None:
        return
    session_key = token_session_key(token)
    transaction.on_commit(lambda: sockets_close_for_user(user_id, reason="logged_out", session_key=session_key))


@transaction.atomic
def user_delete(*, user: User, password: str) -> None:
    """Delete the account and, through the registered hooks and cascades, all of its data."""
    if not user.check_password(password):
        raise AccountError(
            "Invalid input: see fields.", code="invalid", fields={"password": ["The password is not correct."]}
        )
    for name, hook in user_deletion_hooks().items():
        try:
            hook(user)
        except Exception:  # a provider being down must not keep a user's data alive
            logger.exception("deletion hook failed", extra={"hook": name, "user_id": user.pk})
    user_tokens_revoke(user=user, reason="deleted")
    user_id = user.pk
    user.delete()
    logger.info("user deleted", extra={"user_id": user_id})


def user_data_export(*, user: User) -> dict[str, Any]:
    """Everything stored about the user, as JSON-ready data."""
    export: dict[str, Any] = {
        "exported_at": timezone.now().isoformat(),
        "account": {
            "id": user.pk,
            "email": user.email,
            "display_name": user.display_name,
            "language": user.language,
            "timezone": user.timezone,
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
        },
    }
    for section, exporter in user_data_exporters().items():
        export[section] = exporter(user)
    return export
