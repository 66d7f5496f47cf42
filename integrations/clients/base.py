"""What both vendors' clients share: auth header, retries with backoff, rate-limit waits.

A wait the provider asks for (Retry-After, X-RateLimit-Reset, 429 backoff) is slept in-process
when it is at most INTEGRATIONS_RATE_LIMIT_MAX_WAIT_S; a longer one raises RateLimited so the
Celery task retries later instead of holding a worker. 5xx and network errors are retried with
exponential backoff and jitter, then raised as TransientSyncError.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings

from integrations.errors import RateLimited, ReconnectNeeded, SyncError, TransientSyncError


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with full jitter on top: base * 2^attempt + U(0, base)."""
    base = settings.INTEGRATIONS_BACKOFF_BASE_S
    return base * (2**attempt) + random.uniform(0, base)


def new_http_client() -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(settings.INTEGRATIONS_HTTP_TIMEOUT_S),
        headers={"User-Agent": "DigitalMe-integrations/1.0"},
        follow_redirects=False,
    )


@dataclass
class CallStats:
    requests: int = 0
    waits: list[float] = field(default_factory=list)


class ApiClient:
    """Authenticated JSON calls with the retry/limit policy above. Subclasses say what a limit is."""

    provider = ""
    auth_scheme = "Bearer"

    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        http: httpx.Client | None = None,
        on_unauthorized: Callable[[], str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._access_token = access_token
        self._own_http = http is None
        self.http = http or new_http_client()
        self._on_unauthorized = on_unauthorized
        self._sleep = sleep
        self._blocked_until = 0.0
        self.stats = CallStats()

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    # --- policy hooks -------------------------------------------------------------------------
    def rate_limit_wait(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds the provider wants us to wait before retrying, or None if not a limit."""
        return None

    def note_response(self, response: httpx.Response) -> None:
        """Look at every response (e.g. remember that the quota is spent)."""

    # --- the call ---------------------------------------------------------------------------
    def _url(self, path_or_url: str) -> str:
        return path_or_url if path_or_url.startswith("http") else f"{self.base_url}{path_or_url}"

    def _wait(self, seconds: float, reason: str) -> None:
        seconds = max(0.0, seconds)
        if seconds > settings.INTEGRATIONS_RATE_LIMIT_MAX_WAIT_S:
            raise RateLimited(f"{self.provider}: {reason}; retry in {seconds:.0f}s", retry_after=seconds)
        self.stats.waits.append(seconds)
        self._sleep(seconds)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Any = None,
        headers: dict[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        url = self._url(path_or_url)
        attempts = max(1, settings.INTEGRATIONS_MAX_HTTP_ATTEMPTS)
        refreshed = False
        attempt = 0
        while True:
            if self._blocked_until > time.time():
                self._wait(self._blocked_until - time.time(), "quota spent until the reset time")
            request_headers = {"Authorization": f"{self.auth_scheme} {self._access_token}", **(headers or {})}
            try:
                response = self.http.request(method, url, params=params, headers=request_headers, json=json)
            except httpx.TransportError as exc:
                if attempt + 1 >= attempts:
                    raise TransientSyncError(f"{self.provider}: network error ({type(exc).__name__})") from None
                self._sleep(backoff_delay(attempt))
                attempt += 1
                continue
            self.stats.requests += 1
            self.note_response(response)
            if response.status_code == 401:
                if self._on_unauthorized is not None and not refreshed:
                    self._access_token = self._on_unauthorized()
                    refreshed = True
                    continue
                raise ReconnectNeeded(f"{self.provider} rejected the access token (401)")
            wait = self.rate_limit_wait(response, attempt)
            if wait is not None:
                if attempt + 1 >= attempts:
                    raise RateLimited(f"{self.provider}: still rate limited after {attempts} tries", retry_after=wait)
                self._wait(wait, f"rate limited ({response.status_code})")
                attempt += 1
                continue
            if response.status_code >= 500:
                if attempt + 1 >= attempts:
                    raise TransientSyncError(f"{self.provider}: server error {response.status_code}")
                self._sleep(backoff_delay(attempt))
                attempt += 1
                continue
            return response

    def get_json(self, path_or_url: str, **kwargs: Any) -> Any:
        response = self.request("GET", path_or_url, **kwargs)
        self.raise_for_status(response)
        return response.json()

    def raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            raise SyncError(
                f"{self.provider}: unexpected {response.status_code} from {response.request.url.path}",
                code=f"http_{response.status_code}",
            )


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
