"""Chat fixtures: Ivan published, the fake LLM with a clean recorder, socket helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.core.management import call_command
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from chat.llm.providers.fake import RECORDER
from digitalme.asgi import application
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = (b"origin", b"http://testserver")


@pytest.fixture(autouse=True)
def fake_llm(settings):
    """Every chat test talks to the deterministic fake provider, with fast failure paths (tests of timeouts set their own)."""
    settings.LLM_MODEL = "fake/ivan"
    settings.LLM_FALLBACK_MODELS = []
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_TIMEOUT_S = 10.0  # the fake answers at once; 2 s timed out on a loaded 2-core host
    RECORDER.reset()
    yield RECORDER
    RECORDER.reset()


@pytest.fixture
def ivan(db):
    """Ivan's persona loaded from the repository's data file and published."""
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)


def session_cookie_header(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def access_token(user) -> str:
    return str(AccessToken.for_user(user))


def communicator(*headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN, *headers])


async def receive_until(comm: WebsocketCommunicator, frame_type: str, timeout: float = 20.0) -> list[dict]:
    """Every frame up to and including the first of `frame_type` (generous: the first turn loads the
    tokenizer and the moderation model cold)."""
    frames = []
    while True:
        frame = await comm.receive_json_from(timeout=timeout)
        frames.append(frame)
        if frame["type"] == frame_type:
            return frames


@pytest.fixture
def guard(settings):
    """The moderation guard model pointed at a loopback OpenAI-compatible server answering `safe`."""
    with FakeOpenAI(reply="safe") as server:
        settings.MODERATION_GUARD_MODEL = "openai/llama-guard3"
        settings.MODERATION_GUARD_API_BASE = server.base_url
        settings.MODERATION_GUARD_API_KEY = "test-guard-key"
        settings.MODERATION_GUARD_TIMEOUT_S = 1.0
        yield server
