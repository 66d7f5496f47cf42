"""Deploy check: stored OAuth tokens need their own key, not one derived from SECRET_KEY."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def field_encryption_key_set(app_configs, **kwargs):
    if settings.FIELD_ENCRYPTION_KEY.strip():
        return []
    return [
        Warning(
            "FIELD_ENCRYPTION_KEY is not set: OAuth tokens are encrypted with a key derived from SECRET_KEY.",
            hint="Set FIELD_ENCRYPTION_KEY to a Fernet key (comma-separated, newest first, to rotate).",
            id="integrations.W001",
        )
    ]
