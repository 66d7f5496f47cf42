"""Browser-test fixtures: a live daphne (real HTTP + WebSocket) on the test database, one Chromium.

Sync Playwright keeps an event loop running in the test thread, so Django's ORM refuses to run
there (SynchronousOnlyOperation). Browser tests therefore never touch the ORM directly: data is
made through the UI, the HTTP API, or `orm(...)`, which runs a function in a short-lived thread.
The browser lives for one module (tests/web/test_browser.py), so later tests get a clean thread.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings
from django.db import connection, connections

from tests.fakes.github import FakeGitHub
from tests.fakes.google import FakeGoogle
from tests.fakes.telegram import BOT_USERNAME as TELEGRAM_BOT_USERNAME
from tests.fakes.telegram import FakeTelegram

# `make test` sets CHROMIUM (tools/ensure_chromium.sh finds or installs it).
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT_DIR = Path(os.environ.get("TEST_OUTPUT_DIR") or Path(settings.BASE_DIR) / "test-output")
SCREENSHOTS = OUTPUT_DIR / "screenshots"
PASSWORD = "correct-horse-battery-staple-42"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _test_database_url() -> str:
    """DATABASE_URL of the database pytest-django created (its NAME is the test database's now)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _new_vapid_private_key() -> str:
    from py_vapid import Vapid
    from py_vapid.utils import b64urlencode

    vapid = Vapid()
    vapid.generate_keys()
    return b64urlencode(vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))


def _server_env(**extra: str) -> dict[str, str]:
    """The environment of a server process the browser tests start: the test database, this Redis."""
    return {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "DB_POOL_MAX_SIZE": "6",
        "PYTHONUNBUFFERED": "1",
        # Sign-up sends a verification mail; there is no SMTP server in tests.
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        **extra,
    }


class ServerProcess:
    """A process of ours (daphne, a Celery worker, the Telegram poller) logging into test-output/."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = OUTPUT_DIR / f"{name}.log"
        self.log = self.log_path.open("w")
        self.log.write(f"database: {connection.settings_dict['NAME']}\n")
        self.log.flush()
        self.process = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_until(self, ready: Callable[[], bool], *, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{what} did not start; see {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.log.closed:  # stopped already
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _answers_health(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_daphne(name: str, **extra_env: str) -> tuple[ServerProcess, str]:
    """daphne serving digitalme.asgi on a free port, against the test database and the same Redis."""
    port = _free_port()
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "digitalme.asgi:application"]
    server = ServerProcess(name, command, _server_env(**extra_env))
    url = f"http://127.0.0.1:{port}"
    server.wait_until(lambda: _answers_health(url), what="daphne")
    return server, url


@pytest.fixture(scope="session")
def daphne_server(test_database) -> Iterator[str]:
    server, url = start_daphne(
        "daphne-browser-tests",
        # Linking codes need a bot; its API base points at a closed local port (nothing leaves).
        TELEGRAM_BOT_TOKEN="123456:browser-tests-not-a-real-token",
        TELEGRAM_BOT_USERNAME="digitalme_test_bot",
        TELEGRAM_API_BASE_URL="http://127.0.0.1:9",
        # Web Push on, with the loopback push service (tests/fakes/push_service.py) allowed.
        WEBPUSH_VAPID_PRIVATE_KEY=_new_vapid_private_key(),
        WEBPUSH_ALLOWED_HOSTS="127.0.0.1",
    )
    yield url
    server.stop()


@pytest.fixture(scope="session")
def orm(django_db_blocker) -> Callable[..., Any]:
    """Run `fn(*args, **kwargs)` with database access in a fresh thread (no event loop there)."""

    def run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        outcome: dict[str, Any] = {}
        test_database = dict(connection.settings_dict)  # the main thread's, pointing at the test DB

        def target() -> None:
            try:
                connections["default"].settings_dict.update(test_database)
                with django_db_blocker.unblock():
                    outcome["value"] = fn(*args, **kwargs)
            except BaseException as exc:
                outcome["error"] = exc
            finally:
                connections.close_all()

        thread = threading.Thread(target=target)
        thread.start()
        thread.join(60)
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("value")

    return run


def load_ivan() -> None:
    from django.core.management import call_command

    from personality.models import Persona

    if not Persona.objects.filter(slug="ivan").exists():
        call_command("load_persona", str(Path(settings.BASE_DIR) / "personality" / "data" / "ivan.yaml"))


def _create_user(email: str, *, is_staff: bool = False) -> int:
    from accounts.services import user_create

    return user_create(email=email, password=PASSWORD, is_staff=is_staff).pk


@pytest.fixture
def live_server_url(daphne_server: str) -> str:
    return daphne_server


def _flush() -> None:
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(scope="module")
def browser(daphne_server, orm):
    """One Chromium for the module; afterwards the data the pages created is flushed away."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make test` (it installs it) or `tools/ensure_chromium.sh`")
    orm(load_ivan)  # data files are not migrations: the test database starts without Ivan
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    orm(_flush)


class Pages:
    """Opens pages in fresh browser contexts and collects console errors (CSP violations show there)."""

    def __init__(self, browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list = []
        self.console_errors: list[str] = []
        self.external_requests: list[str] = []

    def new(self, *, width: int = 1280, height: int = 860, color_scheme: str = "light", **options):
        context = self.browser.new_context(
            base_url=self.base_url,
            viewport={"width": width, "height": height},
            color_scheme=color_scheme,
            **options,
        )
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(message.text))
        page.on("pageerror", lambda error: self.console_errors.append(f"pageerror: {error}"))
        page.on(
            "request",
            lambda request: (
                request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
                or self.external_requests.append(request.url)
            ),
        )
        return page

    def log_in(self, page, email: str, password: str = PASSWORD, next_path: str = "/chat/") -> None:
        page.goto(f"/accounts/login/?next={next_path}")
        page.locator("#id_login").fill(email)
        page.locator("#id_password").fill(password)
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(f"**{next_path}")

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def _pages(browser, base_url: str) -> Iterator[Pages]:
    opened = Pages(browser, base_url)
    yield opened
    opened.close()
    csp = [text for text in opened.console_errors if "Content Security Policy" in text]
    assert csp == [], csp
    assert opened.external_requests == [], "nothing may load from the internet"


@pytest.fixture
def pages(browser, daphne_server) -> Iterator[Pages]:
    yield from _pages(browser, daphne_server)


@dataclass
class ConnectedStack:
    """The product as deployed, with every remote service a loopback fake."""

    url: str
    github: FakeGitHub
    google: FakeGoogle
    telegram: FakeTelegram


def _celery_ready(worker: ServerProcess) -> bool:
    return "ready." in worker.log_path.read_text()


@pytest.fixture(scope="module")
def connected_stack(browser) -> Iterator[ConnectedStack]:
    """daphne, a Celery worker and the Telegram poller, with Google and GitHub sign-in configured and
    the Telegram bot on: all pointed at the loopback fakes (tests/fakes/)."""
    github, google, telegram = FakeGitHub().start(), FakeGoogle().start(), FakeTelegram().start()
    env = {
        "ACCOUNT_DEFAULT_HTTP_PROTOCOL": "http",  # the OAuth callback URL of a plain-HTTP server
        "GITHUB_CLIENT_ID": github.client_id,
        "GITHUB_CLIENT_SECRET": github.client_secret,
        "GITHUB_OAUTH_BASE_URL": github.url,
        "GITHUB_API_BASE_URL": github.url,
        "GOOGLE_CLIENT_ID": google.client_id,
        "GOOGLE_CLIENT_SECRET": google.client_secret,
        "GOOGLE_OAUTH_AUTHORIZE_URL": f"{google.url}/auth",
        "GOOGLE_OAUTH_TOKEN_URL": f"{google.url}/token",
        "GOOGLE_OAUTH_REVOKE_URL": f"{google.url}/revoke",
        "GOOGLE_API_BASE_URL": google.url,
        "INTEGRATIONS_SYNC_JITTER_S": "0",
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_BOT_USERNAME": TELEGRAM_BOT_USERNAME,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
    }
    web, url = start_daphne("daphne-connected", **env)
    worker = ServerProcess(
        "celery-connected",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "digitalme",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "-Q",
            "celery,telegram",  # one worker for the background and the Telegram queue (the Procfile has two)
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        _server_env(**env),
    )
    poller = ServerProcess(
        "telegram-poller-connected", [sys.executable, "manage.py", "run_telegram_bot"], _server_env(**env)
    )
    started = [web, worker, poller]
    try:
        worker.wait_until(lambda: _celery_ready(worker), what="the Celery worker")
        poller.wait_until(lambda: bool(telegram.calls_of("getUpdates")), what="the Telegram poller")
        yield ConnectedStack(url=url, github=github, google=google, telegram=telegram)
    finally:
        for process in reversed(started):
            process.stop()
        for fake in (github, google):
            fake.stop()
        telegram.stop()


@pytest.fixture
def connected_pages(browser, connected_stack) -> Iterator[Pages]:
    yield from _pages(browser, connected_stack.url)


_user_counter = iter(range(1, 1_000_000))


@pytest.fixture
def make_user(orm) -> Callable[..., str]:
    def make(*, is_staff: bool = False) -> str:
        email = f"browser{next(_user_counter)}-{time.monotonic_ns()}@example.com"
        orm(_create_user, email, is_staff=is_staff)
        return email

    return make


def wait_for_async(page: Any, expression: str, arg: Any = None, timeout_s: float = 10) -> Any:
    """Poll an async page function until it returns something truthy; that value is returned.

    page.wait_for_function can't do this: its predicate is sync by design, so a returned promise
    counts as truthy at once (microsoft/playwright#29132) and the wait checks nothing.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression, arg)
        if value or time.monotonic() > deadline:
            assert value, f"still false after {timeout_s:g} s: {expression}"
            return value
        page.wait_for_timeout(100)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    path = SCREENSHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def record_metric(name: str, value: Any) -> None:
    path = OUTPUT_DIR / "web-metrics.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = value
    path.write_text(json.dumps(data, indent=2))


def api_token(base_url: str, email: str, password: str = PASSWORD) -> str:
    response = httpx.post(f"{base_url}/api/auth/token/", json={"email": email, "password": password}, timeout=10)
    response.raise_for_status()
    return response.json()["access"]
