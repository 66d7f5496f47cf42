"""Request ids reach Sentry events and Telegram updates (Celery and the JSON logs are in
test_real_processes.py; the whole chain in test_request_chain.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from tests.fakes.sentry import FakeSentry

ROOT = Path(settings.BASE_DIR)


def test_a_sentry_event_carries_the_request_id_it_happened_under():
    sentry = FakeSentry().start()
    script = (
        "import django, logging, sentry_sdk; django.setup();"
        "from digitalme.request_id import current_request_id;"
        "current_request_id.set('sentry-trace-0001');"
        "logging.getLogger('digitalme.test').error('something broke');"
        "sentry_sdk.flush(timeout=10)"
    )
    env = {**os.environ, "SENTRY_DSN": sentry.dsn, "DJANGO_SETTINGS_MODULE": "digitalme.settings"}
    try:
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert sentry.received.wait(10), result.stderr
    finally:
        sentry.stop()
    event = sentry.events[0]
    assert event["tags"]["request_id"] == "sentry-trace-0001"
    assert event["logentry"]["message"] == "something broke"
