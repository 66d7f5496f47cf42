"""GitHub: the user, their recent events, repositories, open pull requests and reviews.

Conditional requests (ETag / If-None-Match) make unchanged lists cost nothing (304 does not
count against the rate limit). Limits: X-RateLimit-Remaining/Reset and Retry-After.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from django.conf import settings

from integrations.clients.base import ApiClient, backoff_delay, new_http_client, retry_after_seconds

MAX_EVENT_PAGES = 3  # GitHub keeps at most 300 recent events per user
SECONDARY_LIMIT_MIN_WAIT_S = 60.0


class GitHubClient(ApiClient):
    provider = "github"

    def __init__(self, *, access_token: str, base_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(base_url=base_url or settings.GITHUB_API_BASE_URL, access_token=access_token, **kwargs)

    def rate_limit_wait(self, response: httpx.Response, attempt: int) -> float | None:
        if response.status_code not in (403, 429):
            return None
        retry_after = retry_after_seconds(response)
        if retry_after is not None:
            return retry_after
        if response.headers.get("X-RateLimit-Remaining") == "0":
            return self._seconds_until_reset(response)
        if response.status_code == 429:
            # Secondary limit without headers: GitHub asks for at least a minute, growing.
            return max(SECONDARY_LIMIT_MIN_WAIT_S, backoff_delay(attempt))
        return None  # a plain 403 is a permission problem, not a limit

    def note_response(self, response: httpx.Response) -> None:
        if response.status_code < 400 and response.headers.get("X-RateLimit-Remaining") == "0":
            self._blocked_until = time.time() + self._seconds_until_reset(response)

    @staticmethod
    def _seconds_until_reset(response: httpx.Response) -> float:
        try:
            reset = float(response.headers.get("X-RateLimit-Reset", "0"))
        except ValueError:
            reset = 0.0
        return max(1.0, reset - time.time())

    def _conditional(self, url: str, etag: str, params: dict | None = None) -> httpx.Response:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if etag:
            headers["If-None-Match"] = etag
        response = self.request("GET", url, params=params, headers=headers)
        if response.status_code != 304:
            self.raise_for_status(response)
        return response

    def _paginated(self, path: str, *, etag: str, params: dict, max_pages: int) -> tuple[list[dict] | None, str]:
        """All pages of a list (Link: rel="next"); (None, etag) when the first page is unchanged."""
        response = self._conditional(path, etag, params)
        if response.status_code == 304:
            return None, etag
        new_etag = response.headers.get("ETag", "")
        items: list[dict] = list(response.json())
        pages = 1
        while pages < max_pages and "next" in response.links:
            response = self._conditional(response.links["next"]["url"], "")
            items.extend(response.json())
            pages += 1
        return items, new_etag

    def user(self) -> dict:
        return self._conditional("/user", "").json()

    def user_events(self, *, login: str, etag: str = "") -> tuple[list[dict] | None, str]:
        return self._paginated(f"/users/{login}/events", etag=etag, params={"per_page": 100}, max_pages=MAX_EVENT_PAGES)

    def user_repos(self, *, etag: str = "") -> tuple[list[dict] | None, str]:
        params = {"per_page": 100, "sort": "pushed", "affiliation": "owner,collaborator,organization_member"}
        return self._paginated("/user/repos", etag=etag, params=params, max_pages=3)

    def open_pull_requests(self, *, login: str) -> list[dict]:
        params = {"q": f"is:pr is:open author:{login}", "per_page": 50, "sort": "created", "order": "asc"}
        return list(self._conditional("/search/issues", "", params).json().get("items", []))

    def pull_request_reviews(self, *, repo: str, number: int, etag: str = "") -> tuple[list[dict] | None, str]:
        return self._paginated(
            f"/repos/{repo}/pulls/{number}/reviews", etag=etag, params={"per_page": 100}, max_pages=1
        )


def revoke_grant(*, client_id: str, client_secret: str, access_token: str) -> bool:
    """Delete the app's grant for this token (GitHub's revocation). True when done or already gone."""
    if not (client_id and client_secret and access_token):
        return False
    try:
        with new_http_client() as http:
            response = http.request(
                "DELETE",
                f"{settings.GITHUB_API_BASE_URL}/applications/{client_id}/grant",
                auth=(client_id, client_secret),
                json={"access_token": access_token},
                headers={"Accept": "application/vnd.github+json"},
            )
    except httpx.TransportError:
        return False
    return response.status_code in (204, 404, 422)
