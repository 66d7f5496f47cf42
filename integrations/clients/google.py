"""Google: OAuth token refresh and revocation, Gmail metadata and Calendar events.

Base URLs come from settings (GOOGLE_API_BASE_URL serves /gmail/v1 and /calendar/v3,
GOOGLE_OAUTH_TOKEN_URL, GOOGLE_OAUTH_REVOKE_URL) so tests point this at loopback fakes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
from django.conf import settings

from integrations.clients.base import ApiClient, backoff_delay, new_http_client, retry_after_seconds
from integrations.errors import ReconnectNeeded, ResyncRequired, SyncError, TransientSyncError

GOOGLE_RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
GMAIL_METADATA_HEADERS = ["From", "To", "Subject", "Date"]
# Token endpoint errors that mean the grant is gone: only the user reconnecting fixes them.
GRANT_GONE_ERRORS = {"invalid_grant", "unauthorized_client", "invalid_client"}


def _error_reasons(response: httpx.Response) -> set[str]:
    try:
        error = response.json().get("error", {})
    except ValueError:
        return set()
    if not isinstance(error, dict):
        return set()
    reasons = {str(item.get("reason", "")) for item in error.get("errors", []) if isinstance(item, dict)}
    if error.get("status") == "RESOURCE_EXHAUSTED":
        reasons.add("rateLimitExceeded")
    return reasons


class GoogleClient(ApiClient):
    provider = "google"

    def __init__(self, *, access_token: str, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url=base_url or settings.GOOGLE_API_BASE_URL, access_token=access_token, **kwargs)

    def rate_limit_wait(self, response: httpx.Response, attempt: int) -> float | None:
        if response.status_code == 429 or (
            response.status_code == 403 and _error_reasons(response) & GOOGLE_RATE_LIMIT_REASONS
        ):
            return retry_after_seconds(response) or backoff_delay(attempt)
        return None

    # --- Gmail ----------------------------------------------------------------------------------
    def gmail_profile(self) -> dict:
        return self.get_json("/gmail/v1/users/me/profile")

    def gmail_message_ids(self, *, query: str, limit: int) -> Iterator[str]:
        """Ids of messages matching `query`, newest first, across pages, at most `limit`."""
        page_token = None
        seen = 0
        while True:
            params: dict[str, Any] = {"q": query, "maxResults": min(100, limit)}
            if page_token:
                params["pageToken"] = page_token
            data = self.get_json("/gmail/v1/users/me/messages", params=params)
            for item in data.get("messages", []):
                yield item["id"]
                seen += 1
                if seen >= limit:
                    return
            page_token = data.get("nextPageToken")
            if not page_token:
                return

    def gmail_message_metadata(self, message_id: str) -> dict | None:
        """Headers, labels and snippet of one message (format=metadata: no body); None if gone."""
        response = self.request(
            "GET",
            f"/gmail/v1/users/me/messages/{message_id}",
            params=[("format", "metadata"), *[("metadataHeaders", h) for h in GMAIL_METADATA_HEADERS]],
        )
        if response.status_code == 404:
            return None
        self.raise_for_status(response)
        return response.json()

    def gmail_history(self, *, start_history_id: str) -> tuple[list[dict], str]:
        """All history records since `start_history_id` and the newest historyId.

        Gmail answers 404 when the start id is too old: then a full sync is needed.
        """
        records: list[dict] = []
        page_token = None
        latest = start_history_id
        while True:
            params: dict[str, Any] = {"startHistoryId": start_history_id, "maxResults": 500}
            if page_token:
                params["pageToken"] = page_token
            response = self.request("GET", "/gmail/v1/users/me/history", params=params)
            if response.status_code == 404:
                raise ResyncRequired("gmail history id expired")
            self.raise_for_status(response)
            data = response.json()
            records.extend(data.get("history", []))
            latest = str(data.get("historyId", latest))
            page_token = data.get("nextPageToken")
            if not page_token:
                return records, latest

    # --- Calendar -------------------------------------------------------------------------------
    def calendar_events(
        self,
        *,
        time_min: datetime | None = None,
        time_max: datetime | None = None,
        sync_token: str | None = None,
        calendar_id: str = "primary",
    ) -> tuple[list[dict], str]:
        """Events (single instances) in the window, or changes since `sync_token`, across pages.

        Returns the events and the nextSyncToken. 410 Gone means the token expired.
        """
        events: list[dict] = []
        page_token = None
        while True:
            params: dict[str, Any] = {"singleEvents": "true", "maxResults": 250}
            if sync_token:
                params["syncToken"] = sync_token
            else:
                params["timeMin"] = time_min.isoformat() if time_min else None
                params["timeMax"] = time_max.isoformat() if time_max else None
                params["showDeleted"] = "false"
            if page_token:
                params["pageToken"] = page_token
            params = {k: v for k, v in params.items() if v is not None}
            response = self.request("GET", f"/calendar/v3/calendars/{calendar_id}/events", params=params)
            if response.status_code == 410:
                raise ResyncRequired("calendar sync token expired")
            self.raise_for_status(response)
            data = response.json()
            events.extend(data.get("items", []))
            page_token = data.get("nextPageToken")
            if not page_token:
                return events, str(data.get("nextSyncToken", ""))


def refresh_access_token(*, refresh_token: str, client_id: str, client_secret: str) -> dict:
    """Trade the refresh token for a new access token: {"access_token", "expires_in", ...}.

    Raises ReconnectNeeded when Google says the grant is gone, TransientSyncError otherwise.
    """
    if not refresh_token:
        raise ReconnectNeeded("no refresh token stored; reconnect Google")
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    try:
        with new_http_client() as http:
            response = http.post(settings.GOOGLE_OAUTH_TOKEN_URL, data=data)
    except httpx.TransportError as exc:
        raise TransientSyncError(f"google token endpoint unreachable ({type(exc).__name__})") from None
    if response.status_code == 200:
        payload = response.json()
        if not payload.get("access_token"):
            raise TransientSyncError("google token endpoint answered without an access token")
        return payload
    error = ""
    with contextlib.suppress(ValueError, AttributeError):
        error = str(response.json().get("error", ""))
    if response.status_code in (400, 401) and (error in GRANT_GONE_ERRORS or not error):
        raise ReconnectNeeded(f"google refused the refresh token ({error or response.status_code})")
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientSyncError(f"google token endpoint error {response.status_code}")
    raise SyncError(f"google token endpoint answered {response.status_code} ({error})", code="refresh_failed")


def revoke_token(token: str) -> bool:
    """Revoke a grant at Google (the refresh token revokes the whole grant). True when done."""
    if not token:
        return False
    try:
        with new_http_client() as http:
            response = http.post(settings.GOOGLE_OAUTH_REVOKE_URL, data={"token": token})
    except httpx.TransportError:
        return False
    # 400 invalid_token: already revoked or expired, which is what we wanted.
    return response.status_code in (200, 400)
