"""Who may do what: anonymous / user / other user / staff × every HTTP and WebSocket route.

ONE table. Every route the URL conf (and the WebSocket router) serves must have a row, and every
method its view implements must have an expectation, so a new route without a row fails here.
Third-party route families get one rule each (every Django-admin page needs staff; allauth's
pages are listed one by one). Path parameters are filled with the *user's* objects, so "other"
and "staff" prove they cannot reach another account's data (404, never 403, so ids don't leak).

Expectations per identity:
  ok     authorised: not 401/403, not sent to a log-in page, not a 5xx (validation 4xx is fine —
         the bodies sent are deliberately minimal so nothing expensive runs)
  401    the API's "not authenticated"
  403    forbidden (signed in, not allowed)
  404    not found (another account's object)
  login  a page that redirects to the log-in page
  admin  the admin's own log-in redirect
  any    public and harmless for everyone (still: never a 5xx)
  in     past the log-in (the admin's own 403 for a missing model permission is fine), no 5xx
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

# (anonymous, user, other user, staff)
PUBLIC = ("any", "any", "any", "any")
SIGNED_IN = ("401", "ok", "ok", "ok")
OWNED = ("401", "ok", "404", "404")
STAFF = ("401", "403", "403", "ok")
PAGE = ("login", "ok", "ok", "ok")
STAFF_PAGE = ("login", "403", "403", "ok")
ANON_ONLY_PAGE = ("ok", "any", "any", "any")  # allauth log-in/sign-up pages redirect signed-in users
FORM_METHODS = ("GET", "POST", "PUT")


def form(expectations: tuple[str, str, str, str]) -> dict[str, tuple[str, str, str, str]]:
    """allauth's form views take GET, POST and (Django's ProcessFormView) PUT alike."""
    return dict.fromkeys(FORM_METHODS, expectations)


def every_method(expectations: tuple[str, str, str, str]) -> dict[str, tuple[str, str, str, str]]:
    return dict.fromkeys(("GET", "POST", "PUT", "PATCH", "DELETE"), expectations)


@dataclass(frozen=True)
class Row:
    methods: dict[str, tuple[str, str, str, str]]
    path: str | None = None  # a concrete path for regex routes
    body: dict | None = None


R = Row
ROWS: dict[str, Row] = {
    # --- the foundation ---
    "health/": R({"GET": PUBLIC}),
    "health/ready/": R({"GET": PUBLIC}),
    "metrics": R({"GET": ("403", "403", "403", "403")}, body=None),  # loopback or bearer only (see below)
    "api/schema/": R({"GET": PUBLIC}),
    "api/docs/": R({"GET": PUBLIC}),
    "i18n/setlang/": R({"POST": PUBLIC}, body={"language": "en"}),
    "": R({"GET": PUBLIC}),
    "manifest.webmanifest": R({"GET": PUBLIC}),
    "sw.js": R({"GET": PUBLIC}),
    "offline/": R({"GET": PUBLIC}),
    "favicon.ico": R({"GET": PUBLIC}),
    # --- pages ---
    "chat/": R({"GET": PAGE}),
    "chat/<int:conversation_id>/": R({"GET": ("login", "ok", "404", "404")}),
    "persona/": R({"GET": PUBLIC}),
    "integrations/": R({"GET": PAGE}),
    "settings/": R({"GET": PAGE, "POST": PAGE}),
    "settings/delete-account/": R({"POST": PAGE}, body={"password": "wrong"}),
    "settings/telegram-qr.svg": R({"GET": PAGE}),
    "ops/": R({"GET": STAFF_PAGE}),
    # --- accounts API ---
    "api/auth/register/": R({"POST": PUBLIC}),
    "api/auth/token/": R({"POST": PUBLIC}),
    "api/auth/token/refresh/": R({"POST": PUBLIC}),
    "api/auth/token/logout/": R({"POST": PUBLIC}),
    "api/me/": R({"GET": SIGNED_IN, "PATCH": SIGNED_IN, "DELETE": SIGNED_IN}, body={"password": "wrong"}),
    "api/me/export/": R({"GET": SIGNED_IN}),
    "api/me/memory/": R({"GET": SIGNED_IN, "DELETE": SIGNED_IN}, body={"confirm": False}),
    "api/me/memory/<int:fact_id>/": R({"DELETE": OWNED}),
    "api/telegram/link-code/": R({"POST": SIGNED_IN}),
    # --- notifications (Web Push) ---
    "api/push/config/": R({"GET": SIGNED_IN}),
    "api/push/subscriptions/": R({"GET": SIGNED_IN, "POST": SIGNED_IN}, body={"endpoint": "nonsense"}),
    "api/push/subscriptions/<int:subscription_id>/": R({"DELETE": OWNED}),
    # --- chat API ---
    "api/conversations/": R({"GET": SIGNED_IN, "POST": SIGNED_IN}, body={"title": "x" * 500}),
    "api/conversations/<int:conversation_id>/": R({"GET": OWNED, "PATCH": OWNED, "DELETE": OWNED}, body={"title": ""}),
    "api/conversations/<int:conversation_id>/messages/": R({"GET": OWNED, "POST": OWNED}, body={"content": ""}),
    "api/messages/<int:message_id>/feedback/": R({"POST": OWNED}, body={"rating": 1}),
    "api/chat/load-test": R({"POST": STAFF}, body={"concurrentUsers": -1}),
    "api/chat/personality-test": R({"POST": STAFF}, body={"version": "nonsense", "model": ""}),
    "api/chat/personality-test/<int:run_id>": R({"GET": STAFF}),
    # --- personality API ---
    "api/personas/": R({"GET": PUBLIC}),
    "api/personas/<slug:slug>/": R({"GET": PUBLIC, "PATCH": STAFF}, body={"traits": "nonsense"}),
    "api/personas/<slug:slug>/card/": R({"GET": PUBLIC}),
    "api/personas/<slug:slug>/card.png": R({"GET": PUBLIC}),
    "api/personas/<slug:slug>/prompt-preview/": R({"POST": STAFF}, body={}),
    "api/personas/<slug:slug>/evaluations/": R({"GET": PUBLIC}),
    "api/personas/<slug:slug>/traits/history/": R({"GET": PUBLIC}),
    "api/personas/<slug:slug>/drift/": R({"GET": STAFF}),
    "api/personas/<slug:slug>/versions/": R({"GET": STAFF}),
    "api/personas/<slug:slug>/versions/compare/": R({"GET": STAFF}),
    "api/personas/<slug:slug>/versions/<int:number>/": R({"GET": STAFF}),
    "api/personas/<slug:slug>/versions/<int:number>/revert/": R({"POST": STAFF}, body={"publish": "nonsense"}),
    "api/personas/<slug:slug>/versions/<int:number>/publish/": R({"POST": STAFF}, body={}),
    # --- integrations API ---
    "api/integrations/": R({"GET": SIGNED_IN}),
    "^api/integrations/health/?$": R({"GET": PUBLIC}, path="/api/integrations/health"),
    "^api/integrations/load-test/?$": R({"POST": STAFF}, path="/api/integrations/load-test", body={"users": -1}),
    "api/integrations/<str:provider>/": R(
        {"GET": SIGNED_IN, "PATCH": SIGNED_IN, "DELETE": SIGNED_IN}, body={"enabled": "nonsense"}
    ),
    "api/integrations/<str:provider>/sync/": R({"POST": SIGNED_IN}),
    "api/integrations/<str:provider>/disconnect/": R({"POST": SIGNED_IN}),
    "api/insights/": R({"GET": SIGNED_IN}),
    "^api/performance/database-test/?$": R(
        {"POST": STAFF}, path="/api/performance/database-test", body={"iterations": "x"}
    ),
    # --- Telegram: Telegram itself, proven by the secret header; nobody else ---
    "telegram/webhook/": R({"POST": ("403", "403", "403", "403")}),
    # --- allauth, page by page ---
    "accounts/login/": R(form(ANON_ONLY_PAGE)),
    "accounts/logout/": R({"GET": PUBLIC, "POST": PUBLIC}),
    "accounts/inactive/": R({"GET": PUBLIC}),
    "accounts/signup/": R(form(ANON_ONLY_PAGE)),
    "accounts/reauthenticate/": R(form(PAGE)),
    "accounts/email/": R(form(PAGE)),
    "accounts/confirm-email/": R({"GET": PUBLIC}),
    "accounts/password/change/": R(form(PAGE)),
    "accounts/password/set/": R(form(PAGE)),
    "accounts/password/reset/": R(form(PUBLIC)),
    "accounts/login/code/confirm/": R(form(PUBLIC)),
    "accounts/^confirm-email/(?P<key>[-:\\w]+)/$": R(
        {"GET": PUBLIC, "POST": PUBLIC}, path="/accounts/confirm-email/bogus-key/"
    ),
    "accounts/password/reset/key/done/": R({"GET": PUBLIC}),
    "accounts/^password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$": R(
        form(PUBLIC), path="/accounts/password/reset/key/1-bogus/"
    ),
    "accounts/password/reset/done/": R({"GET": PUBLIC}),
    "accounts/3rdparty/login/cancelled/": R({"GET": PUBLIC}),
    "accounts/3rdparty/login/error/": R({"GET": PUBLIC}),
    "accounts/3rdparty/signup/": R(form(PUBLIC)),
    "accounts/3rdparty/": R(form(PAGE)),
    # allauth's old paths: permanent redirects to the 3rdparty/ ones, for every method
    "accounts/social/login/cancelled/": R(every_method(PUBLIC)),
    "accounts/social/login/error/": R(every_method(PUBLIC)),
    "accounts/social/signup/": R(every_method(PUBLIC)),
    "accounts/social/connections/": R(every_method(PUBLIC)),
    # without client id/secret (as here) the providers' URLs are 404s (accounts.adapters)
    "accounts/google/login/": R({"GET": PUBLIC, "POST": PUBLIC}),
    "accounts/google/login/callback/": R({"GET": PUBLIC}),
    "accounts/github/login/": R({"GET": PUBLIC, "POST": PUBLIC}),
    "accounts/github/login/callback/": R({"GET": PUBLIC}),
    # --- the admin's own log-in and log-out; every other admin page follows ADMIN_RULE ---
    "admin/login/": R({"GET": PUBLIC, "POST": PUBLIC}, body={"username": "x", "password": "y"}),
    "admin/logout/": R({"GET": PUBLIC, "POST": PUBLIC}),
}
# Django admin: one rule for the whole family (185 pages): staff only, everyone else to its log-in.
ADMIN_RULE = ("admin", "admin", "admin", "in")
ADMIN_PREFIX = "admin/"

WS_ROWS: dict[str, tuple[str, str, str, str]] = {
    # "ready": accepted and signed in; "auth": accepted, but nothing until an auth frame;
    # "public": accepted for anyone; "4403"/"4404"/"4503": refused with that close code.
    "ws/chat/": ("auth", "ready", "ready", "ready"),
    "^ws/persona/(?P<slug>[-a-z0-9_]+)/$": ("public", "public", "public", "public"),
    "^ws/bench/echo/$": ("closed", "closed", "closed", "closed"),  # off unless BENCH_ECHO_ENABLED
    "^ws/ops/$": ("4403", "4403", "4403", "public"),
}
WS_PATHS = {"^ws/persona/(?P<slug>[-a-z0-9_]+)/$": "/ws/persona/ivan/", "^ws/bench/echo/$": "/ws/bench/echo/"}


def _routes() -> dict[str, URLPattern]:
    found: dict[str, URLPattern] = {}

    def walk(patterns, prefix: str = "") -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                found[prefix + str(pattern.pattern)] = pattern

    walk(get_resolver().url_patterns)
    return found


def _implemented_methods(pattern: URLPattern) -> set[str] | None:
    view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
    if view_class is None:
        return None  # a function view: its row says which methods it takes
    return {m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)}


def _fill(route: str, values: dict[str, object]) -> str:
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route)
    return "/" + path


def _admin_path(route: str, values: dict[str, object]) -> str:
    concrete = {
        "app_label": "accounts",
        "object_id": values["user_pk"],
        "id": values["user_pk"],
        "url": "nothing-here",
        "content_type_id": 1,
        "uidb64": "MQ",
        "token": "x",
    }
    path = route.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(concrete.get(m.group(1), "1")), path)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(concrete.get(m.group(1), "1")), path)
    return "/" + re.sub(r"\(\?:[^)]*\)|\\", "", path)


def _verdict(expected: str, response) -> bool:
    status = response.status_code
    location = response.get("Location", "")
    if status >= 500:
        return False
    if expected == "any":
        return True
    if expected == "ok":
        return status not in (401, 403) and "/login/" not in location
    if expected == "in":
        return "/login/" not in location
    if expected == "login":
        return status == 302 and "/accounts/login/" in location
    if expected == "admin":
        return status == 302 and "/admin/login/" in location
    return status == int(expected)


@pytest.fixture
def world(db):
    from chat.models import Conversation, MemoryFact, Message
    from notifications.models import PushSubscription
    from personality.evaluation.runner import eval_run_prepare
    from personality.loading import persona_load_file
    from tests.personality.conftest import IVAN_FILE

    persona_load_file(path=IVAN_FILE)
    user = UserFactory(password=PASSWORD)
    other = UserFactory(password=PASSWORD)
    staff = UserFactory(password=PASSWORD, is_staff=True)
    conversation = Conversation.objects.create(user=user, title="mine", platform="web")
    message = Message.objects.create(conversation=conversation, role="assistant", content="hi", platform="web")
    fact = MemoryFact.objects.create(user=user, key="pet", value="cat", text="has a cat")
    device = PushSubscription.objects.create(
        user=user, endpoint="https://fcm.googleapis.com/fcm/send/matrix", p256dh="x", auth="y"
    )
    run = eval_run_prepare(slug="ivan")
    values = {
        "conversation_id": conversation.pk,
        "message_id": message.pk,
        "fact_id": fact.pk,
        "subscription_id": device.pk,
        "slug": "ivan",
        "number": 1,
        "run_id": run.pk,
        "provider": "github",
        "user_pk": user.pk,
    }
    return {"identities": [None, user, other, staff], "values": values}


def _client(identity) -> Client:
    # Not loopback (/metrics must refuse); a crash is a 500 to record, not an exception to stop at.
    client = Client(REMOTE_ADDR="203.0.113.77", raise_request_exception=False)
    if identity is not None:
        client.force_login(identity)
    return client


def _request(client: Client, method: str, path: str, body: dict | None):
    if method == "GET":
        return client.get(path)
    return client.generic(method, path, data=json.dumps(body or {}), content_type="application/json")


def test_every_route_has_a_row_and_every_identity_gets_what_its_row_says(world, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    routes = _routes()
    admin_pages = {route for route in routes if route.startswith(ADMIN_PREFIX) and route not in ROWS}
    ours = set(routes) - admin_pages
    assert sorted(ours - set(ROWS)) == [], "routes without a row in the authorization matrix"
    assert sorted(set(ROWS) - ours) == [], "rows for routes that no longer exist"

    failures: list[str] = []
    for route, row in ROWS.items():
        implemented = _implemented_methods(routes[route])
        if implemented is not None and not implemented <= set(row.methods):
            failures.append(f"{route}: methods without an expectation: {sorted(implemented - set(row.methods))}")
        path = row.path or _fill(route, world["values"])
        # The owner acts last: their DELETE may remove the object the others were refused.
        for index in (0, 2, 3, 1):
            identity = world["identities"][index]
            for method, expectations in row.methods.items():
                response = _request(_client(identity), method, path, row.body)
                if not _verdict(expectations[index], response):
                    who = ("anonymous", "user", "other", "staff")[index]
                    failures.append(
                        f"{method} {path} as {who}: expected {expectations[index]}, got {response.status_code}"
                        f" {response.get('Location', '')}"
                    )

    for route in sorted(admin_pages):
        path = _admin_path(route, world["values"])
        for index, identity in enumerate(world["identities"]):
            response = _client(identity).get(path)
            if not _verdict(ADMIN_RULE[index], response):
                who = ("anonymous", "user", "other", "staff")[index]
                failures.append(
                    f"GET {path} ({route}) as {who}: expected {ADMIN_RULE[index]}, got {response.status_code}"
                )

    failures += async_to_sync(_websocket_failures)(world)
    assert failures == [], "\n".join(failures)


async def _websocket_failures(world) -> list[str]:
    from asgiref.sync import sync_to_async

    from digitalme.asgi import application
    from digitalme.routing import websocket_urlpatterns

    failures: list[str] = []
    declared = {str(pattern.pattern) for pattern in websocket_urlpatterns}
    if declared != set(WS_ROWS):
        failures.append(f"WebSocket routes without a row: {sorted(declared - set(WS_ROWS))}")
    for route, expectations in WS_ROWS.items():
        path = WS_PATHS.get(route, "/" + route.strip("^$"))
        for index, identity in enumerate(world["identities"]):
            headers = [(b"origin", b"http://testserver")]
            if identity is not None:
                client = await sync_to_async(_client)(identity)
                headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
            communicator = WebsocketCommunicator(application, path, headers=headers)
            connected, code = await communicator.connect(timeout=10)
            expected = expectations[index]
            if expected in ("ready", "public"):
                ok = connected and (await communicator.receive_json_from(timeout=10))["type"] in ("ready", "ops.frame")
            elif expected == "auth":
                await communicator.send_json_to({"type": "message", "content": "hi"}) if connected else None
                frame = await communicator.receive_json_from(timeout=10) if connected else {}
                ok = connected and frame.get("type") == "error" and frame.get("code") == "bad_request"
            elif expected == "closed":
                ok = not connected
            else:
                ok = not connected and code == int(expected)
            if not ok:
                who = ("anonymous", "user", "other", "staff")[index]
                failures.append(f"WS {path} as {who}: expected {expected}, connected={connected} code={code}")
            await communicator.disconnect()
    return failures
