"""What reaches Sentry: no request bodies, no frame locals, no bot token, no secret values.

Each case runs in a fresh process with SENTRY_DSN pointing at a loopback fake Sentry, so the
real sentry-sdk transport and the settings' init are what is tested."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from tests.fakes.sentry import FakeSentry

ROOT = Path(settings.BASE_DIR)
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-secret"
LLM_KEY = "sk-live-llm-key-0123456789abcdef"


def _events(script: str) -> list[dict]:
    sentry = FakeSentry().start()
    env = {
        **os.environ,
        "SENTRY_DSN": sentry.dsn,
        "DJANGO_SETTINGS_MODULE": "digitalme.settings",
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "LLM_API_KEY": LLM_KEY,
    }
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django, sentry_sdk; django.setup()\n" + script + "\nsentry_sdk.flush(timeout=10)",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert sentry.received.wait(10), result.stderr
    finally:
        sentry.stop()
    return sentry.events


def test_an_exception_event_has_no_locals_and_no_bot_token_or_secret():
    script = f"""
def send(chat_id):
    url = "https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
    api_key = "{LLM_KEY}"
    raise RuntimeError(f"POST {{url}} failed with key {{api_key}}")
try:
    send(42)
except RuntimeError:
    sentry_sdk.capture_exception()
"""
    [event] = _events(script)
    text = json.dumps(event)
    assert BOT_TOKEN not in text
    assert BOT_TOKEN.split(":")[1] not in text
    assert LLM_KEY not in text
    assert "bot[Filtered]/sendMessage" in text
    frames = event["exception"]["values"][0]["stacktrace"]["frames"]
    assert all("vars" not in frame for frame in frames)


def test_a_request_that_crashes_sends_no_body_and_no_locals():
    script = """
import sys, types
from django.test import Client, override_settings
from django.urls import path

def crash(request):
    password = request.body.decode()
    raise RuntimeError("view failed")

urls = types.ModuleType("crash_urls")
urls.urlpatterns = [path("crash/", crash)]
sys.modules["crash_urls"] = urls
with override_settings(ROOT_URLCONF="crash_urls"):
    body = '{"email": "a@example.com", "password": "hunter2-body-secret"}'
    response = Client(raise_request_exception=False).post("/crash/", data=body, content_type="application/json")
    assert response.status_code == 500
"""
    events = _events(script)
    assert "hunter2-body-secret" not in json.dumps(events)
    assert all(not event.get("request", {}).get("data") for event in events)  # sentry marks it removed
    assert all("vars" not in frame for event in events for frame in _frames(event))


def _frames(event: dict) -> list[dict]:
    values = (event.get("exception") or {}).get("values") or []
    return [frame for value in values for frame in (value.get("stacktrace") or {}).get("frames", [])]
