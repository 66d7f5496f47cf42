"""Notification domain errors (mapped to the API's {"detail","code","fields"} shape)."""

from __future__ import annotations

from rest_framework import status

from digitalme.errors import DomainError


class PushUnavailableError(DomainError):
    status_code = status.HTTP_409_CONFLICT  # type: ignore[assignment]
    code = "push_unavailable"


class InvalidSubscriptionError(DomainError):
    code = "invalid_subscription"


class PushTransientError(Exception):
    """The push service failed in a way worth retrying (5xx, 429, network)."""
