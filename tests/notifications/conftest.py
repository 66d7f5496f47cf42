"""Web Push fixtures: a VAPID key in settings, the loopback push service, Ivan and the fake LLM."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from py_vapid import Vapid
from py_vapid.utils import b64urlencode

from chat.llm.providers.fake import RECORDER
from tests.fakes.push_service import FakePushService

ROOT = Path(__file__).resolve().parents[2]


def new_vapid_private_key() -> str:
    vapid = Vapid()
    vapid.generate_keys()
    return b64urlencode(vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))


@pytest.fixture(scope="session")
def vapid_private_key() -> str:
    return new_vapid_private_key()


@pytest.fixture
def push_service():
    service = FakePushService().start()
    yield service
    service.stop()


@pytest.fixture(autouse=True)
def push_settings(settings, vapid_private_key):
    settings.WEBPUSH_VAPID_PRIVATE_KEY = vapid_private_key
    settings.WEBPUSH_VAPID_SUBJECT = "mailto:ops@digitalme.test"
    settings.WEBPUSH_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WEBPUSH_TIMEOUT_S = 5.0
    settings.LLM_MODEL = "fake/ivan"
    settings.LLM_FALLBACK_MODELS = []
    settings.LLM_MAX_RETRIES = 0
    RECORDER.reset()
    return settings


@pytest.fixture
def ivan(db):
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)
