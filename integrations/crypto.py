"""Encryption of stored OAuth tokens with MultiFernet keys from FIELD_ENCRYPTION_KEY.

FIELD_ENCRYPTION_KEY holds comma-separated Fernet keys, newest first. New values are encrypted
with the first key; any listed key decrypts. To rotate: prepend a new key, deploy, run
`manage.py reencrypt_integration_tokens`, then drop the old key. Without FIELD_ENCRYPTION_KEY a
key is derived from SECRET_KEY (development and tests; `check --deploy` warns about it).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class TokenDecryptionError(Exception):
    """The stored value was not made with any of the configured keys."""


def _keys() -> list[bytes]:
    configured = [key.strip() for key in settings.FIELD_ENCRYPTION_KEY.split(",") if key.strip()]
    if configured:
        return [key.encode() for key in configured]
    digest = hashlib.sha256(f"integrations-token-key:{settings.SECRET_KEY}".encode()).digest()
    return [base64.urlsafe_b64encode(digest)]


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in _keys()])
    except (ValueError, TypeError) as exc:
        # Never echo the key itself.
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be comma-separated Fernet keys (32 url-safe base64 bytes each); "
            'make one with `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`.'
        ) from exc


def encrypt(value: str) -> str:
    if not value:
        return ""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(value: str) -> str:
    if not value:
        return ""
    try:
        return _fernet().decrypt(value.encode()).decode()
    except InvalidToken as exc:
        raise TokenDecryptionError("stored token was encrypted with a key that is no longer configured") from exc


def reencrypt(value: str) -> str:
    """The same plaintext under the newest key (MultiFernet.rotate)."""
    if not value:
        return ""
    try:
        return _fernet().rotate(value.encode()).decode()
    except InvalidToken as exc:
        raise TokenDecryptionError("stored token was encrypted with a key that is no longer configured") from exc
