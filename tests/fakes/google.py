"""Loopback fake of Google: OAuth consent page (approves at once), token/revoke/userinfo, Gmail (metadata + history) and Calendar.

State is plain Python so tests arrange it directly (add_message, add_event, cancel_event) and
tell it to misbehave (expire_access_tokens, expire_sync_tokens, script(...)).
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from typing import Any

import jwt

from tests.fakes._integrations_server import Call, FakeServer, Response, paginate

GMAIL = "/gmail/v1/users/me"
CALENDAR = "/calendar/v3/calendars/primary/events"


class FakeGoogle(FakeServer):
    def __init__(self, *, client_id: str = "google-client-id", client_secret: str = "google-client-secret") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.page_size = 2
        self._counter = itertools.count(1)
        self.codes: dict[str, dict[str, Any]] = {}  # auth code -> identity
        self.access_tokens: dict[str, float] = {}  # token -> expiry (epoch)
        self.refresh_tokens: set[str] = set()
        self.revoked: set[str] = set()
        # Gmail
        self.messages: dict[str, dict] = {}
        self.history: list[tuple[int, dict]] = []
        self.history_id = 1000
        self.oldest_history_id = 1000
        # Calendar: event id -> (version, event)
        self.events: dict[str, tuple[int, dict]] = {}
        self.calendar_version = 0
        self.valid_sync_tokens: set[str] = set()
        self.signed_in: dict[str, Any] | None = None  # who approves at the consent page (a browser test)

    # --- arrange ----------------------------------------------------------------------------
    def authorize(self, code: str, *, email: str, sub: str = "10001", name: str = "Ivan Tester") -> None:
        self.codes[code] = {"email": email, "sub": sub, "name": name}

    def sign_in(self, *, email: str, sub: str = "10001", name: str = "Ivan Tester") -> None:
        """The browser reaching /auth is this Google account, signed in, and approves the app."""
        self.signed_in = {"email": email, "sub": sub, "name": name}

    def issue_tokens(self) -> tuple[str, str]:
        n = next(self._counter)
        access, refresh = f"g-access-{n}", f"g-refresh-{n}"
        self.access_tokens[access] = time.time() + 3600
        self.refresh_tokens.add(refresh)
        return access, refresh

    def expire_access_tokens(self) -> None:
        for token in self.access_tokens:
            self.access_tokens[token] = 0

    def revoke_refresh_tokens(self) -> None:
        self.revoked |= self.refresh_tokens

    def add_message(
        self,
        message_id: str,
        *,
        subject: str,
        sender: str = "ann@example.com",
        to: str = "ivan@example.com",
        thread_id: str | None = None,
        sent: datetime | None = None,
        labels: list[str] | None = None,
        snippet: str = "",
        body: str = "SECRET BODY TEXT",
    ) -> None:
        sent = sent or datetime.now().astimezone()
        self.history_id += 1
        self.messages[message_id] = {
            "id": message_id,
            "threadId": thread_id or message_id,
            "labelIds": labels or ["INBOX"],
            "snippet": snippet or subject[:40],
            "historyId": str(self.history_id),
            "internalDate": str(int(sent.timestamp() * 1000)),
            "payload": {
                "headers": [
                    {"name": "From", "value": sender},
                    {"name": "To", "value": to},
                    {"name": "Subject", "value": subject},
                    {"name": "Date", "value": sent.strftime("%a, %d %b %Y %H:%M:%S %z")},
                ],
                "body": {"data": body},
            },
        }
        self.history.append(
            (
                self.history_id,
                {
                    "id": str(self.history_id),
                    "messagesAdded": [{"message": {"id": message_id, "threadId": thread_id or message_id}}],
                },
            )
        )

    def delete_message(self, message_id: str) -> None:
        self.messages.pop(message_id, None)
        self.history_id += 1
        self.history.append(
            (self.history_id, {"id": str(self.history_id), "messagesDeleted": [{"message": {"id": message_id}}]})
        )

    def expire_history(self) -> None:
        self.oldest_history_id = self.history_id + 1

    def add_event(self, event_id: str, *, summary: str, start: datetime, end: datetime, attendees: int = 2) -> None:
        self.calendar_version += 1
        event = {
            "id": event_id,
            "status": "confirmed",
            "summary": summary,
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": end.isoformat()},
            "attendees": [{"email": f"p{i}@example.com"} for i in range(attendees)],
            "htmlLink": f"https://calendar.google.com/event?eid={event_id}",
        }
        self.events[event_id] = (self.calendar_version, event)

    def cancel_event(self, event_id: str) -> None:
        self.calendar_version += 1
        self.events[event_id] = (self.calendar_version, {"id": event_id, "status": "cancelled"})

    def expire_sync_tokens(self) -> None:
        self.valid_sync_tokens.clear()

    # --- routes -----------------------------------------------------------------------------
    def route(self, call: Call) -> Response:
        if call.path == "/auth" and call.method == "GET":
            return self._consent(call)
        if call.path == "/token" and call.method == "POST":
            return self._token(call)
        if call.path == "/revoke" and call.method == "POST":
            token = call.form.get("token", "") or (call.q("token") or "")
            self.revoked.add(token)
            return Response(200, {})
        if not self._authorized(call):
            return Response(
                401,
                {
                    "error": {
                        "code": 401,
                        "message": "Request had invalid authentication credentials.",
                        "status": "UNAUTHENTICATED",
                    }
                },
            )
        if call.path == "/oauth2/v2/userinfo":
            return Response(200, {"id": "10001", "email": "ivan@example.com", "verified_email": True})
        if call.path.startswith(GMAIL):
            return self._gmail(call)
        if call.path == CALENDAR:
            return self._calendar(call)
        return Response(404, {"error": {"code": 404, "message": "not found"}})

    def _consent(self, call: Call) -> Response:
        """Google's consent screen, approved at once: back to redirect_uri with a code and the state."""
        if call.q("client_id") != self.client_id:
            return Response(400, "Error 401: invalid_client")
        if self.signed_in is None:
            return Response(403, "Nobody is signed in to the fake Google (call sign_in first)")
        code = f"g-code-{next(self._counter)}"
        self.codes[code] = dict(self.signed_in)
        return self.approve(call, code)

    def _authorized(self, call: Call) -> bool:
        expiry = self.access_tokens.get(call.bearer)
        return expiry is not None and expiry > time.time() and call.bearer not in self.revoked

    def _token(self, call: Call) -> Response:
        form = call.form
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Response(401, {"error": "invalid_client"})
        if form.get("grant_type") == "authorization_code":
            identity = self.codes.pop(form.get("code", ""), None)
            if identity is None:
                return Response(400, {"error": "invalid_grant"})
            access, refresh = self.issue_tokens()
            now = int(time.time())
            id_token = jwt.encode(
                {
                    "iss": "https://accounts.google.com",
                    "aud": self.client_id,
                    "sub": identity["sub"],
                    "email": identity["email"],
                    "email_verified": True,
                    "name": identity["name"],
                    "iat": now,
                    "exp": now + 3600,
                },
                "fake-google-signing-key-that-is-long-enough-for-hs256",
                algorithm="HS256",
            )
            return Response(
                200,
                {
                    "access_token": access,
                    "refresh_token": refresh,
                    "expires_in": 3600,
                    "token_type": "Bearer",
                    "id_token": id_token,
                    "scope": "openid email profile",
                },
            )
        if form.get("grant_type") == "refresh_token":
            refresh = form.get("refresh_token", "")
            if refresh not in self.refresh_tokens or refresh in self.revoked:
                return Response(
                    400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
                )
            n = next(self._counter)
            access = f"g-access-{n}"
            self.access_tokens[access] = time.time() + 3600
            return Response(200, {"access_token": access, "expires_in": 3600, "token_type": "Bearer"})
        return Response(400, {"error": "unsupported_grant_type"})

    def _gmail(self, call: Call) -> Response:
        path = call.path[len(GMAIL) :]
        if path == "/profile":
            return Response(200, {"emailAddress": "ivan@example.com", "historyId": str(self.history_id)})
        if path == "/messages":
            ids = sorted(self.messages, key=lambda i: -int(self.messages[i]["internalDate"]))
            page, token = paginate(
                [{"id": i, "threadId": self.messages[i]["threadId"]} for i in ids], self.page_size, call.q("pageToken")
            )
            body: dict[str, Any] = {"messages": page, "resultSizeEstimate": len(ids)}
            if token:
                body["nextPageToken"] = token
            return Response(200, body)
        if path.startswith("/messages/"):
            message = self.messages.get(path.rsplit("/", 1)[-1])
            if message is None:
                return Response(404, {"error": {"code": 404, "message": "Requested entity was not found."}})
            if call.q("format") == "metadata":
                message = {**message, "payload": {"headers": message["payload"]["headers"]}}
            return Response(200, message)
        if path == "/history":
            start = int(call.q("startHistoryId") or 0)
            if start < self.oldest_history_id:
                return Response(404, {"error": {"code": 404, "message": "Requested entity was not found."}})
            records = [record for hid, record in self.history if hid > start]
            page, token = paginate(records, self.page_size, call.q("pageToken"))
            body = {"history": page, "historyId": str(self.history_id)}
            if token:
                body["nextPageToken"] = token
            return Response(200, body)
        return Response(404, {"error": {"code": 404, "message": "not found"}})

    def _calendar(self, call: Call) -> Response:
        sync_token = call.q("syncToken")
        if sync_token:
            if sync_token not in self.valid_sync_tokens:
                return Response(
                    410,
                    {
                        "error": {
                            "code": 410,
                            "message": "Sync token is no longer valid, a full sync is required.",
                            "errors": [{"reason": "fullSyncRequired"}],
                        }
                    },
                )
            since = int(sync_token.split("-", 1)[1])
            items = [event for version, event in self.events.values() if version > since]
        else:
            time_min = datetime.fromisoformat(call.q("timeMin") or "1970-01-01T00:00:00+00:00")
            time_max = datetime.fromisoformat(call.q("timeMax") or "2999-01-01T00:00:00+00:00")
            items = [
                event
                for _, event in self.events.values()
                if event.get("status") != "cancelled"
                and datetime.fromisoformat(event["end"]["dateTime"]) > time_min
                and datetime.fromisoformat(event["start"]["dateTime"]) < time_max
            ]
        page, token = paginate(items, self.page_size, call.q("pageToken"))
        body: dict[str, Any] = {"items": page}
        if token:
            body["nextPageToken"] = token
        else:
            new_token = f"sync-{self.calendar_version}"
            self.valid_sync_tokens.add(new_token)
            body["nextSyncToken"] = new_token
        return Response(200, body)
