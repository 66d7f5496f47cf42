"""Receivers that hand allauth's events to services (no logic here).

Every path that stores a SocialToken (sign-up, log-in, connect, auto-connect by email) saves
the row, so a post_save receiver is the one place that sees them all.
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialToken
from allauth.socialaccount.signals import social_account_removed
from django.db.models.signals import post_save
from django.dispatch import receiver

from integrations import services
from integrations.models import Integration


@receiver(post_save, sender=SocialToken, dispatch_uid="integrations.capture_social_token")
def capture_social_token(sender: Any, instance: SocialToken, **kwargs: Any) -> None:
    services.social_token_capture(social_token=instance)


@receiver(social_account_removed, dispatch_uid="integrations.social_account_removed")
def social_account_removed_disconnect(sender: Any, request: Any, socialaccount: Any, **kwargs: Any) -> None:
    """Disconnecting on allauth's connections page disconnects the integration as well."""
    if Integration.objects.filter(user=socialaccount.user, provider=socialaccount.provider).exists():
        services.integration_disconnect(user=socialaccount.user, provider=socialaccount.provider)
