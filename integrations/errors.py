"""Domain errors of the integrations app: API-facing ones and the sync failure taxonomy."""

from __future__ import annotations

from rest_framework import status

from digitalme.errors import DomainError


class IntegrationError(DomainError):
    code = "integration_error"


class IntegrationNotConnected(IntegrationError):  # noqa: N818 - named for what happened
    status_code = status.HTTP_409_CONFLICT  # type: ignore[assignment]
    code = "not_connected"


class IntegrationDisabled(IntegrationError):  # noqa: N818 - named for what happened
    status_code = status.HTTP_409_CONFLICT  # type: ignore[assignment]
    code = "disabled"


class UnknownProvider(IntegrationError):  # noqa: N818 - named for what happened
    status_code = status.HTTP_404_NOT_FOUND  # type: ignore[assignment]
    code = "not_found"


class SyncQueueUnavailable(IntegrationError):  # noqa: N818 - named for what happened
    """The task broker could not take the job: nothing was queued, the user may retry."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE  # type: ignore[assignment]
    code = "queue_unavailable"


class SyncError(Exception):
    """A sync could not finish. `code` is safe to store and show; messages never carry tokens."""

    code = "sync_error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code


class TransientSyncError(SyncError):
    """Network trouble or a 5xx: worth retrying later with backoff."""

    code = "provider_unavailable"


class RateLimited(SyncError):  # noqa: N818 - named for what happened
    """The provider asked us to wait longer than we wait in-process; retry after `retry_after` s."""

    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: float) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ReconnectNeeded(SyncError):  # noqa: N818 - named for what happened
    """The grant is gone (revoked, expired refresh token): only the user can fix it."""

    code = "reconnect_needed"


class ResyncRequired(SyncError):  # noqa: N818 - named for what happened
    """The incremental cursor expired (Calendar 410, Gmail history 404): do a full sync."""

    code = "resync_required"
