"""Loopback fake of GitHub: OAuth web flow (the browser's authorize page and the token endpoint),
/user, events, repos, PR search, reviews and grant revocation, with ETag/304, Link pagination and
rate-limit headers.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import time
from datetime import UTC, datetime, timedelta

from tests.fakes._integrations_server import Call, FakeServer, Response


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGitHub(FakeServer):
    def __init__(self, *, client_id: str = "github-client-id", client_secret: str = "github-client-secret") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.page_size = 2
        self._ids = itertools.count(1)
        self.codes: dict[str, str] = {}  # code -> login
        self.tokens: dict[str, str] = {}  # token -> login
        self.revoked: set[str] = set()
        self.users: dict[str, dict] = {}
        self.events: dict[str, list[dict]] = {}  # login -> newest first
        self.repos: dict[str, list[dict]] = {}
        self.pulls: dict[str, list[dict]] = {}  # login -> open PRs (search items)
        self.reviews: dict[str, list[dict]] = {}  # "owner/repo#n" -> reviews
        self.rate_remaining = 4999
        self.signed_in: str | None = None  # who approves at the authorize page (a browser test)

    # --- arrange ----------------------------------------------------------------------------
    def add_user(self, login: str, *, email: str, user_id: int | None = None) -> None:
        self.users[login] = {
            "id": user_id or 5000 + len(self.users),
            "login": login,
            "name": login.title(),
            "email": email,
            "html_url": f"https://github.com/{login}",
        }
        self.events.setdefault(login, [])
        self.repos.setdefault(login, [])
        self.pulls.setdefault(login, [])

    def authorize(self, code: str, login: str) -> None:
        self.codes[code] = login

    def sign_in(self, login: str) -> None:
        """The browser reaching /login/oauth/authorize is `login`, signed in, and approves the app."""
        self.signed_in = login

    def give_token(self, login: str, token: str | None = None) -> str:
        token = token or f"gh-token-{next(self._ids)}"
        self.tokens[token] = login
        return token

    def add_push(self, login: str, repo: str, *, commits: int, at: datetime | None = None) -> None:
        at = at or datetime.now(UTC)
        self.events[login].insert(
            0,
            {
                "id": str(900000 + next(self._ids)),
                "type": "PushEvent",
                "repo": {"name": repo},
                "created_at": _iso(at),
                "payload": {
                    "size": commits,
                    "ref": "refs/heads/main",
                    "commits": [{"sha": f"c{i}"} for i in range(commits)],
                },
            },
        )

    def add_pr_event(
        self, login: str, repo: str, *, number: int, title: str, action: str = "opened", at: datetime | None = None
    ) -> None:
        at = at or datetime.now(UTC)
        self.events[login].insert(
            0,
            {
                "id": str(900000 + next(self._ids)),
                "type": "PullRequestEvent",
                "repo": {"name": repo},
                "created_at": _iso(at),
                "payload": {
                    "action": action,
                    "number": number,
                    "pull_request": {
                        "number": number,
                        "title": title,
                        "html_url": f"https://github.com/{repo}/pull/{number}",
                    },
                },
            },
        )

    def add_repo(self, login: str, full_name: str, *, pushed: datetime | None = None, private: bool = False) -> None:
        self.repos[login].append(
            {
                "id": 70000 + next(self._ids),
                "full_name": full_name,
                "private": private,
                "description": f"{full_name} repo",
                "html_url": f"https://github.com/{full_name}",
                "pushed_at": _iso(pushed or datetime.now(UTC)),
            }
        )

    def add_open_pr(
        self, login: str, repo: str, *, number: int, title: str, opened_days_ago: float, reviews: int = 0
    ) -> None:
        opened = datetime.now(UTC) - timedelta(days=opened_days_ago)
        self.pulls[login].append(
            {
                "number": number,
                "title": title,
                "draft": False,
                "created_at": _iso(opened),
                "repository_url": f"{self.url}/repos/{repo}",
                "html_url": f"https://github.com/{repo}/pull/{number}",
            }
        )
        self.reviews[f"{repo}#{number}"] = [{"id": i, "state": "COMMENTED"} for i in range(reviews)]

    # --- routes -----------------------------------------------------------------------------
    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            "X-RateLimit-Remaining": str(self.rate_remaining),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            **(extra or {}),
        }

    def route(self, call: Call) -> Response:
        if call.path == "/login/oauth/authorize" and call.method == "GET":
            return self._authorize(call)
        if call.path == "/login/oauth/access_token" and call.method == "POST":
            return self._token(call)
        if call.path.startswith(f"/applications/{self.client_id}/grant") and call.method == "DELETE":
            expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if call.headers.get("authorization") != expected:
                return Response(401, {"message": "Bad credentials"})
            token = call.json.get("access_token", "")
            self.revoked.add(token)
            return Response(204)
        login = self.tokens.get(call.bearer)
        if login is None or call.bearer in self.revoked:
            return Response(401, {"message": "Bad credentials"}, self._headers())
        if call.path == "/user":
            return Response(200, self.users[login], self._headers())
        if call.path == "/user/emails":
            return Response(
                200, [{"email": self.users[login]["email"], "primary": True, "verified": True}], self._headers()
            )
        if call.path == f"/users/{login}/events":
            return self._list(call, self.events[login])
        if call.path == "/user/repos":
            return self._list(call, self.repos[login])
        if call.path == "/search/issues":
            return Response(200, {"total_count": len(self.pulls[login]), "items": self.pulls[login]}, self._headers())
        if call.path.startswith("/repos/") and call.path.endswith("/reviews"):
            parts = call.path.split("/")  # /repos/{owner}/{repo}/pulls/{n}/reviews
            return self._list(call, self.reviews.get(f"{parts[2]}/{parts[3]}#{parts[5]}", []))
        return Response(404, {"message": "Not Found"}, self._headers())

    def _authorize(self, call: Call) -> Response:
        """GitHub's consent page, approved at once: back to redirect_uri with a code and the state."""
        if call.q("client_id") != self.client_id:
            return Response(404, "Unknown OAuth application")
        if self.signed_in is None:
            return Response(403, "Nobody is signed in to the fake GitHub (call sign_in first)")
        code = f"gh-code-{next(self._ids)}"
        self.codes[code] = self.signed_in
        return self.approve(call, code)

    def _token(self, call: Call) -> Response:
        form = call.form
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Response(200, {"error": "incorrect_client_credentials"})
        login = self.codes.pop(form.get("code", ""), None)
        if login is None:
            return Response(200, {"error": "bad_verification_code"})
        token = self.give_token(login)
        return Response(
            200, {"access_token": token, "token_type": "bearer", "scope": "read:user,user:email,public_repo"}
        )

    def _list(self, call: Call, items: list[dict]) -> Response:
        etag = '"' + hashlib.sha1(json.dumps(items, sort_keys=True).encode(), usedforsecurity=False).hexdigest() + '"'
        page = int(call.q("page") or 1)
        if page == 1 and call.headers.get("if-none-match") == etag:
            return Response(304, None, self._headers({"ETag": etag}))
        chunk = items[(page - 1) * self.page_size : page * self.page_size]
        headers = self._headers({"ETag": etag})
        if page * self.page_size < len(items):
            headers["Link"] = f'<{self.url}{call.path}?page={page + 1}&per_page={self.page_size}>; rel="next"'
        return Response(200, chunk, headers)
