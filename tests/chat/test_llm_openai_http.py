"""The OpenAI-compatible HTTP path against a loopback server (LLM_MODEL=openai/...), on both paths:
the lean one (chat/llm/lean.py, httpx) and litellm's Router (LLM_LEAN_STREAM=false). Each case
asserts the same outcome and the same number of requests on both: the lean path keeps litellm's
timeout, retry and fallback semantics."""

from __future__ import annotations

import sys
import time

import pytest
from asgiref.sync import sync_to_async

from chat import llm
from chat.models import Message, Role
from tests.chat.conftest import communicator, receive_until, session_cookie_header
from tests.fakes.openai_server import FakeOpenAI

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(params=["lean", "litellm"])
def path(request, settings):
    settings.LLM_LEAN_STREAM = request.param == "lean"
    return request.param


@pytest.fixture
def remote_llm(settings, path):
    server = FakeOpenAI().start()
    settings.LLM_MODEL = "openai/ivan-remote"
    settings.LLM_API_BASE = f"{server.url}/v1"
    settings.LLM_API_KEY = "test-remote-key"
    settings.LLM_FALLBACK_MODELS = []
    settings.LLM_MAX_RETRIES = 0
    yield server
    server.stop()


async def _stream(messages=HI) -> tuple[llm.StreamResult, list[str]]:
    deltas: list[str] = []

    async def on_delta(delta: str) -> None:
        deltas.append(delta)

    return await llm.stream_reply(messages, on_delta=on_delta), deltas


async def test_streaming_reply_over_http(remote_llm):
    result, deltas = await _stream()

    assert result.text == "Privet from the remote model"
    assert len(deltas) == 5
    assert result.model == "openai/ivan-remote"
    assert remote_llm.requests[-1]["stream"] is True
    assert remote_llm.requests[-1]["model"] == "ivan-remote"
    assert remote_llm.requests[-1]["messages"] == HI
    assert remote_llm.requests[-1]["max_tokens"] == 256
    assert remote_llm.auth_headers[-1] == "Bearer test-remote-key"


async def test_sse_comments_fields_and_blank_lines_are_skipped(remote_llm, settings):
    # Lean path only: litellm's parser takes these valid SSE lines for JSON and fails the stream.
    settings.LLM_LEAN_STREAM = True
    remote_llm.mode = "noisy"

    result, deltas = await _stream()

    assert result.text == "Privet from the remote model"
    assert len(deltas) == 5


async def test_http_500_is_llm_unavailable(remote_llm):
    remote_llm.mode = "error500"

    with pytest.raises(llm.LLMUnavailableError):
        await llm.stream_reply(HI)
    assert len(remote_llm.requests) == 1


async def test_a_5xx_is_retried_and_the_retry_answers(remote_llm, settings):
    settings.LLM_MAX_RETRIES = 1
    remote_llm.fail_first = 1
    remote_llm.status = 503

    result, _ = await _stream()

    assert result.text == "Privet from the remote model"
    assert len(remote_llm.requests) == 2


async def test_a_429_is_retried_until_the_retries_run_out(remote_llm, settings):
    settings.LLM_MAX_RETRIES = 1
    remote_llm.mode = "error500"
    remote_llm.status = 429

    with pytest.raises(llm.LLMUnavailableError):
        await llm.stream_reply(HI)
    assert len(remote_llm.requests) == 2


async def test_a_400_is_not_retried(remote_llm, settings):
    settings.LLM_MAX_RETRIES = 2
    remote_llm.mode = "error500"
    remote_llm.status = 400

    with pytest.raises(llm.LLMUnavailableError):
        await llm.stream_reply(HI)
    assert len(remote_llm.requests) == 1


async def test_http_timeout_is_llm_unavailable_within_the_timeout(remote_llm, settings):
    remote_llm.mode = "hang"
    settings.LLM_TIMEOUT_S = 1.0
    started = time.monotonic()

    with pytest.raises(llm.LLMUnavailableError):
        await llm.stream_reply(HI)
    assert time.monotonic() - started < 3.5
    assert len(remote_llm.requests) == 1


async def test_a_malformed_event_before_any_text_is_retried(remote_llm, settings):
    settings.LLM_MAX_RETRIES = 1
    remote_llm.mode = "malformed"

    with pytest.raises(llm.LLMUnavailableError):
        await llm.stream_reply(HI)
    assert len(remote_llm.requests) == 2


async def test_a_stream_cut_mid_body_is_an_error_after_the_text_so_far(remote_llm, settings, fake_llm):
    settings.LLM_MAX_RETRIES = 2
    settings.LLM_FALLBACK_MODELS = ["fake/ivan"]
    remote_llm.mode = "die"
    deltas: list[str] = []

    async def on_delta(delta: str) -> None:
        deltas.append(delta)

    with pytest.raises(llm.LLMUnavailableError):
        await llm.stream_reply(HI, on_delta=on_delta)
    # the user has seen part of the reply: neither a retry nor a fallback rewrites it
    assert deltas == ["Privet", " from"]
    assert len(remote_llm.requests) == 1
    assert fake_llm.calls == []


async def test_fallback_to_the_fake_provider_when_the_remote_fails(remote_llm, settings, fake_llm):
    remote_llm.mode = "error500"
    settings.LLM_FALLBACK_MODELS = ["fake/ivan"]

    result = await llm.stream_reply([{"role": "user", "content": "still there"}])

    assert result.text == "Ivan here. You said: still there"
    assert result.model == "fake/ivan"
    assert len(remote_llm.requests) == 1
    assert [call.model for call in fake_llm.calls] == ["ivan"]


async def test_non_streaming_reply_over_http(remote_llm):
    text = await llm.complete([{"role": "user", "content": "summarise"}])

    assert text == "Privet from the remote model"
    assert remote_llm.requests[-1].get("stream") in (None, False)


async def test_the_lean_path_streams_without_importing_litellm(remote_llm, path):
    if path == "lean" and "litellm" in sys.modules:
        pytest.skip("litellm was imported earlier in this test process (the subprocess test checks it cleanly)")

    await _stream()

    assert ("litellm" in sys.modules) == (path == "litellm")


async def test_a_stream_that_ends_without_a_finish_reason_is_an_error(remote_llm):
    remote_llm.mode = "truncated"
    deltas: list[str] = []

    async def on_delta(delta: str) -> None:
        deltas.append(delta)

    with pytest.raises(llm.LLMUnavailableError):
        await llm.stream_reply(HI, on_delta=on_delta)
    assert "".join(deltas) == "Privet from the remote model"
    assert len(remote_llm.requests) == 1


@pytest.mark.django_db(transaction=True)
async def test_a_socket_turn_whose_provider_dies_mid_stream_ends_in_an_error_frame_and_keeps_the_message(
    remote_llm, user, ivan
):
    remote_llm.mode = "die"
    comm = communicator(await sync_to_async(session_cookie_header)(user))
    connected, _ = await comm.connect()
    assert connected
    try:
        assert (await comm.receive_json_from(timeout=20))["type"] == "ready"
        await comm.send_json_to({"type": "message", "content": "What are you working on?"})
        frames = await receive_until(comm, "error")
    finally:
        await comm.disconnect()

    assert [frame["type"] for frame in frames] == [
        "message.created",
        "reply.start",
        "reply.token",
        "reply.token",
        "error",
    ]
    assert frames[-1]["code"] == "llm_unavailable"
    stored = await sync_to_async(lambda: list(Message.objects.values_list("role", "content")))()
    assert stored == [(Role.USER, "What are you working on?")]
