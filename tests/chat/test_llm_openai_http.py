"""litellm's real OpenAI-compatible HTTP path against a loopback server (LLM_MODEL=openai/...)."""

from __future__ import annotations

import time

import pytest

from chat import llm
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def remote_llm(settings):
    server = FakeOpenAI().start()
    settings.LLM_MODEL = "openai/ivan-remote"
    settings.LLM_API_BASE = f"{server.url}/v1"
    settings.LLM_API_KEY = "test-remote-key"
    settings.LLM_FALLBACK_MODELS = []
    settings.LLM_MAX_RETRIES = 0
    yield server
    server.stop()


async def test_streaming_reply_over_http(remote_llm):
    deltas: list[str] = []

    async def on_delta(delta: str) -> None:
        deltas.append(delta)

    result = await llm.stream_reply([{"role": "user", "content": "hi"}], on_delta=on_delta)

    assert result.text == "Privet from the remote model"
    assert len(deltas) == 5
    assert remote_llm.requests[-1]["stream"] is True
    assert remote_llm.requests[-1]["model"] == "ivan-remote"
    assert remote_llm.requests[-1]["messages"] == [{"role": "user", "content": "hi"}]
    assert remote_llm.auth_headers[-1] == "Bearer test-remote-key"


async def test_non_streaming_reply_over_http(remote_llm):
    text = await llm.complete([{"role": "user", "content": "summarise"}])

    assert text == "Privet from the remote model"
    assert remote_llm.requests[-1].get("stream") in (None, False)


async def test_http_500_is_llm_unavailable(remote_llm):
    remote_llm.mode = "error500"

    with pytest.raises(llm.LLMUnavailableError):
        await llm.stream_reply([{"role": "user", "content": "hi"}])
    assert len(remote_llm.requests) >= 1


async def test_http_timeout_is_llm_unavailable_within_the_timeout(remote_llm, settings):
    remote_llm.mode = "hang"
    settings.LLM_TIMEOUT_S = 1.0
    started = time.monotonic()

    with pytest.raises(llm.LLMUnavailableError):
        await llm.stream_reply([{"role": "user", "content": "hi"}])
    assert time.monotonic() - started < 3.5


async def test_fallback_to_the_fake_provider_when_the_remote_fails(remote_llm, settings, fake_llm):
    remote_llm.mode = "error500"
    settings.LLM_FALLBACK_MODELS = ["fake/ivan"]

    result = await llm.stream_reply([{"role": "user", "content": "still there"}])

    assert result.text == "Ivan here. You said: still there"
    assert len(remote_llm.requests) >= 1
