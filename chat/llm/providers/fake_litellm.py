"""The fake provider (chat/llm/providers/fake.py) as a litellm custom provider: what `complete()`
and a fake model behind a non-lean model in a fallback chain go through. Importing this imports litellm."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import litellm
from litellm.llms.custom_llm import CustomLLM, CustomLLMError
from litellm.types.utils import GenericStreamingChunk, ModelResponse

from chat.llm.providers import stream_chunk
from chat.llm.providers.fake import hang_for, start, usage


def _timeout(model: str) -> litellm.Timeout:
    return litellm.Timeout(message="fake provider timed out (requested by the test)", model=model, llm_provider="fake")


def _fail(message: str = "fake provider failure (requested by the test)") -> CustomLLMError:
    return CustomLLMError(status_code=500, message=message)


class FakeLLM(CustomLLM):
    async def astreaming(  # type: ignore[override]
        self, model, messages, *args, optional_params=None, **kwargs
    ) -> AsyncIterator[GenericStreamingChunk]:
        plan = start(model, messages, optional_params or {})
        if plan.fail_before:
            raise _fail()
        if plan.hang_before:
            await asyncio.sleep(hang_for(kwargs.get("timeout")))
            raise _timeout(model)
        for index, token in enumerate(plan.tokens):
            if plan.die_after is not None and index == plan.die_after:
                raise _fail("fake provider stream broke")
            if plan.delay_s:
                await asyncio.sleep(plan.delay_s)
            yield stream_chunk(token)
        yield stream_chunk("", finished=True, usage=usage(messages, plan.tokens))

    def streaming(self, model, messages, *args, optional_params=None, **kwargs) -> Iterator[GenericStreamingChunk]:  # type: ignore[override]
        plan = start(model, messages, optional_params or {})
        if plan.fail_before:
            raise _fail()
        if plan.hang_before:
            time.sleep(hang_for(kwargs.get("timeout")))
            raise _timeout(model)
        for index, token in enumerate(plan.tokens):
            if plan.die_after is not None and index == plan.die_after:
                raise _fail("fake provider stream broke")
            if plan.delay_s:
                time.sleep(plan.delay_s)
            yield stream_chunk(token)
        yield stream_chunk("", finished=True, usage=usage(messages, plan.tokens))

    def _response(self, model: str, messages: list, optional_params: dict, model_response: ModelResponse) -> Any:
        plan = start(model, messages, optional_params or {})
        if plan.fail_before:
            raise _fail()
        model_response.choices[0].message.content = "".join(plan.tokens)  # type: ignore[union-attr]
        model_response.model = model
        model_response.usage = usage(messages, plan.tokens)  # type: ignore[attr-defined]
        return plan

    def completion(self, model, messages, *args, optional_params=None, model_response=None, **kwargs) -> ModelResponse:  # type: ignore[override]
        plan = self._response(model, messages, optional_params or {}, model_response)
        if plan.hang_before:
            time.sleep(hang_for(kwargs.get("timeout")))
            raise _timeout(model)
        return model_response

    async def acompletion(  # type: ignore[override]
        self, model, messages, *args, optional_params=None, model_response=None, **kwargs
    ) -> ModelResponse:
        plan = self._response(model, messages, optional_params or {}, model_response)
        if plan.hang_before:
            await asyncio.sleep(hang_for(kwargs.get("timeout")))
            raise _timeout(model)
        return model_response
