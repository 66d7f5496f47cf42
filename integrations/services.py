"""Changes to integrations: storing tokens from allauth, refreshing them, privacy switches,
disconnecting, and what account export/deletion need. Syncing lives in integrations.sync.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations import crypto
from integrations.clients import github as github_client
from integrations.clients import google as google_client
from integrations.errors import (
    IntegrationDisabled,
    IntegrationError,
    IntegrationNotConnected,
    ReconnectNeeded,
    SyncQueueUnavailable,
    UnknownProvider,
)
from integrations.models import (
    KIND_MODELS,
    PROVIDER_KINDS,
    Integration,
    IntegrationStatus,
    IntegrationToken,
    Provider,
)
from integrations.oauth.process import oauth_is_connecting

logger = logging.getLogger(__name__)

# Which cursor keys belong to which kind: switching a kind off forgets its sync position too.
KIND_CURSORS = {"gmail": ("gmail_history_id",), "calendar": ("calendar_sync_token",), "github": ("github_etags",)}


def provider_from_slug(provider: str) -> str:
    if provider not in Provider.values:
        raise UnknownProvider(f"Unknown provider {provider!r}; use one of: {', '.join(Provider.values)}.")
    return provider


def oauth_app_credentials(provider: str) -> tuple[str, str]:
    """(client_id, secret) of the allauth app configured for `provider` ('', '') if none."""
    from allauth.socialaccount.adapter import get_adapter
    from allauth.socialaccount.models import SocialApp

    try:
        app = get_adapter().get_app(None, provider)
    except SocialApp.DoesNotExist:
        return "", ""
    return app.client_id, app.secret


def _account_label(social_account: Any) -> str:
    data = social_account.extra_data or {}
    return str(data.get("login") or data.get("email") or data.get("name") or "")[:255]


# --- tokens --------------------------------------------------------------------------------------


@transaction.atomic
def integration_tokens_store(
    *,
    user: Any,
    provider: str,
    access_token: str,
    refresh_token: str = "",
    expires_at: datetime | None = None,
    social_account: Any = None,
) -> Integration:
    """Create or update the user's integration with fresh tokens (encrypted); clears 'reconnect needed'."""
    integration, created = Integration.objects.select_for_update().get_or_create(
        user=user, provider=provider, defaults={"kinds": dict.fromkeys(PROVIDER_KINDS[provider], True)}
    )
    if social_account is not None:
        integration.social_account = social_account
        integration.account_label = _account_label(social_account)
    integration.status = IntegrationStatus.ACTIVE
    integration.status_detail = ""
    integration.full_clean()
    integration.save()
    token, _ = IntegrationToken.objects.get_or_create(integration=integration)
    token.access_token_encrypted = crypto.encrypt(access_token)
    if refresh_token:  # providers often send the refresh token only on the first consent
        token.refresh_token_encrypted = crypto.encrypt(refresh_token)
    token.expires_at = expires_at
    token.save()
    logger.info(
        "integration tokens stored",
        extra={
            "user_id": user.pk,
            "provider": provider,
            "new_integration": created,
            "has_refresh": bool(refresh_token),
        },
    )
    return integration


def social_token_capture(*, social_token: Any) -> Integration | None:
    """Move a token allauth just saved into IntegrationToken (only in a connect flow), then blank
    allauth's plaintext copy."""
    from allauth.socialaccount.models import SocialToken

    account = social_token.account
    if account is None or account.provider not in Provider.values or not social_token.token:
        return None
    if not oauth_is_connecting():
        # Signing in proves identity only: it never switches an integration on or replaces the
        # tokens a connect stored. allauth's plaintext copy is not kept either.
        SocialToken.objects.filter(pk=social_token.pk).update(token="", token_secret="")
        return None
    integration = integration_tokens_store(
        user=account.user,
        provider=account.provider,
        access_token=social_token.token,
        refresh_token=social_token.token_secret or "",
        expires_at=social_token.expires_at,
        social_account=account,
    )
    SocialToken.objects.filter(pk=social_token.pk).update(token="", token_secret="")
    return integration


def integration_mark_reconnect_needed(*, integration: Integration, detail: str) -> None:
    Integration.objects.filter(pk=integration.pk).update(
        status=IntegrationStatus.RECONNECT_NEEDED, status_detail=detail[:255], last_error=detail[:500]
    )
    integration.status = IntegrationStatus.RECONNECT_NEEDED
    integration.status_detail = detail[:255]
    logger.warning("integration needs reconnecting", extra={"integration_id": integration.pk, "reason": detail})


def integration_token_refresh(*, integration: Integration) -> str:
    """Refresh a Google access token with the stored refresh token; returns the new access token.

    Attempts and successes are counted on the integration. A refused refresh marks it
    "reconnect needed" and raises ReconnectNeeded; transient failures raise TransientSyncError.
    """
    if integration.provider != Provider.GOOGLE:
        raise ReconnectNeeded(f"{integration.provider} tokens cannot be refreshed; reconnect")
    Integration.objects.filter(pk=integration.pk).update(refresh_attempts=F("refresh_attempts") + 1)
    token = IntegrationToken.objects.get(integration=integration)
    client_id, client_secret = oauth_app_credentials(Provider.GOOGLE)
    try:
        payload = google_client.refresh_access_token(
            refresh_token=crypto.decrypt(token.refresh_token_encrypted),
            client_id=client_id,
            client_secret=client_secret,
        )
    except ReconnectNeeded as exc:
        integration_mark_reconnect_needed(integration=integration, detail=exc.detail)
        raise
    token.access_token_encrypted = crypto.encrypt(payload["access_token"])
    if payload.get("refresh_token"):
        token.refresh_token_encrypted = crypto.encrypt(payload["refresh_token"])
    expires_in = int(payload.get("expires_in") or 3600)
    token.expires_at = timezone.now() + timedelta(seconds=expires_in)
    token.save(update_fields=["access_token_encrypted", "refresh_token_encrypted", "expires_at", "updated_at"])
    Integration.objects.filter(pk=integration.pk).update(refresh_successes=F("refresh_successes") + 1)
    logger.info("google access token refreshed", extra={"integration_id": integration.pk})
    return payload["access_token"]


def integration_access_token(*, integration: Integration) -> str:
    """A usable access token: Google's is refreshed first when it expires within the margin."""
    try:
        token = IntegrationToken.objects.get(integration=integration)
    except IntegrationToken.DoesNotExist:
        raise ReconnectNeeded("no token stored; connect the account again") from None
    margin = timedelta(seconds=settings.INTEGRATIONS_TOKEN_REFRESH_MARGIN_S)
    if (
        integration.provider == Provider.GOOGLE
        and token.expires_at is not None
        and token.expires_at <= timezone.now() + margin
    ):
        return integration_token_refresh(integration=integration)
    access_token = crypto.decrypt(token.access_token_encrypted)
    if not access_token:
        raise ReconnectNeeded("no access token stored; connect the account again")
    return access_token


def integration_tokens_reencrypt() -> int:
    """Re-encrypt every stored token under the newest FIELD_ENCRYPTION_KEY; returns rows rewritten."""
    rewritten = 0
    for pk in list(IntegrationToken.objects.values_list("pk", flat=True)):
        with transaction.atomic():
            token = IntegrationToken.objects.select_for_update().get(pk=pk)
            token.access_token_encrypted = crypto.reencrypt(token.access_token_encrypted)
            token.refresh_token_encrypted = crypto.reencrypt(token.refresh_token_encrypted)
            token.save(update_fields=["access_token_encrypted", "refresh_token_encrypted", "updated_at"])
            rewritten += 1
    return rewritten


# --- privacy -------------------------------------------------------------------------------------


def integration_get_for_user(*, user: Any, provider: str) -> Integration:
    provider = provider_from_slug(provider)
    integration = Integration.objects.filter(user=user, provider=provider).first()
    if integration is None:
        raise IntegrationNotConnected(f"{Provider(provider).label} is not connected; connect it first.")
    return integration


def integration_sync_request(*, user: Any, provider: str) -> Integration:
    """Queue a manual sync of the user's integration; 409 when it can't sync, 503 when the broker is down."""
    from kombu.exceptions import OperationalError

    from integrations.tasks import sync_integration

    integration = integration_get_for_user(user=user, provider=provider)
    if integration.reconnect_needed:
        raise IntegrationNotConnected(
            f"{integration.get_provider_display()} needs to be reconnected before it can sync.",
            code="reconnect_needed",
        )
    if not integration.enabled or not integration.enabled_kinds:
        raise IntegrationDisabled(f"{integration.get_provider_display()} is switched off; switch it on to sync.")
    try:
        sync_integration.apply_async(args=[integration.pk], kwargs={"trigger": "manual"}, retry=False)
    except OperationalError as exc:
        logger.warning("sync not queued: broker unavailable", extra={"integration_id": integration.pk})
        raise SyncQueueUnavailable("The sync queue is unavailable right now; try again in a minute.") from exc
    return integration


def integration_kind_data_delete(*, integration: Integration, kind: str) -> int:
    """Delete everything synced for one kind and forget its sync position."""
    deleted = 0
    for model in KIND_MODELS[kind]:
        count, _ = model.objects.filter(integration=integration).delete()  # type: ignore[attr-defined]
        deleted += count
    for key in KIND_CURSORS[kind]:
        integration.cursors.pop(key, None)
    integration.kind_synced_at.pop(kind, None)
    return deleted


@transaction.atomic
def integration_update(
    *, user: Any, provider: str, enabled: bool | None = None, kinds: dict[str, bool] | None = None
) -> Integration:
    """Switch the integration or single kinds on/off. A kind switched off loses its synced data."""
    integration = integration_get_for_user(user=user, provider=provider)
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    if kinds is not None:
        allowed = PROVIDER_KINDS[integration.provider]
        unknown = sorted(set(kinds) - set(allowed))
        if unknown:
            raise IntegrationError(
                "Invalid input: see fields.",
                code="invalid",
                fields={
                    "kinds": [
                        f"Unknown kind(s) for {integration.provider}: {', '.join(unknown)}; use {', '.join(allowed)}."
                    ]
                },
            )
        for kind, on in kinds.items():
            was_on = bool(integration.kinds.get(kind, True))
            integration.kinds[kind] = bool(on)
            if was_on and not on:
                deleted = integration_kind_data_delete(integration=integration, kind=kind)
                logger.info(
                    "integration kind switched off",
                    extra={"integration_id": integration.pk, "kind": kind, "deleted": deleted},
                )
    if enabled is not None:
        integration.enabled = enabled
    integration.full_clean()
    integration.save()
    return integration


def _revoke_at_provider(integration: Integration) -> bool:
    try:
        token = IntegrationToken.objects.get(integration=integration)
    except IntegrationToken.DoesNotExist:
        return False
    try:
        if integration.provider == Provider.GOOGLE:
            # Revoking the refresh token ends the whole grant (access tokens included).
            secret = crypto.decrypt(token.refresh_token_encrypted) or crypto.decrypt(token.access_token_encrypted)
            return google_client.revoke_token(secret)
        client_id, client_secret = oauth_app_credentials(Provider.GITHUB)
        return github_client.revoke_grant(
            client_id=client_id, client_secret=client_secret, access_token=crypto.decrypt(token.access_token_encrypted)
        )
    except crypto.TokenDecryptionError:
        return False


def integration_disconnect(*, user: Any, provider: str) -> dict[str, Any]:
    """Revoke the grant at the provider, then delete tokens and every synced row.

    allauth's SocialAccount is kept only when it is the user's sole way to log in (no usable
    password); its stored tokens are deleted either way.
    """
    from allauth.socialaccount.models import SocialAccount, SocialToken

    integration = integration_get_for_user(user=user, provider=provider)
    revoked = _revoke_at_provider(integration)  # network: outside the transaction
    with transaction.atomic():
        accounts = SocialAccount.objects.filter(user=user, provider=integration.provider)
        SocialToken.objects.filter(account__in=accounts).delete()
        other_logins = (
            user.has_usable_password()
            or SocialAccount.objects.filter(user=user).exclude(provider=integration.provider).exists()
        )
        if other_logins:
            accounts.delete()
        integration.delete()
    logger.info("integration disconnected", extra={"user_id": user.pk, "provider": provider, "revoked": revoked})
    return {"provider": provider, "revoked": revoked}


def user_integrations_revoke(user: Any) -> None:
    """Account deletion hook: revoke every grant at the providers (cascades delete the rows)."""
    for integration in Integration.objects.filter(user=user):
        revoked = _revoke_at_provider(integration)
        logger.info("grant revoked for account deletion", extra={"provider": integration.provider, "revoked": revoked})
