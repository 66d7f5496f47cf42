"""litellm Router built from settings, and the streaming call the chat pipeline makes."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from django.conf import settings
from litellm import Router

from chat.llm.providers.fake import FakeLLM
from chat.llm.providers.local import LocalLLM
from digitalme import metrics, tokens

logger = logging.getLogger(__name__)

PRIMARY = "ivan"
DEFAULT_CONTEXT_WINDOW = 8192
FAKE_CONTEXT_WINDOW = 8192

litellm.custom_provider_map = [
    *(item for item in litellm.custom_provider_map if item["provider"] not in {"fake", "local"}),
    {"provider": "fake", "custom_handler": FakeLLM()},
    {"provider": "local", "custom_handler": LocalLLM()},
]
litellm.telemetry = False
litellm.suppress_debug_info = True


class LLMUnavailableError(Exception):
    """No model produced a reply within the timeout (all retries and fallbacks failed)."""


@dataclass(frozen=True)
class StreamResult:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: int | None
    latency_ms: int
    stopped: bool  # should_stop() ended it early


_routers: dict[tuple, Router] = {}
_router_lock = threading.Lock()


def _settings_key(model: str) -> tuple:
    return (
        model,
        tuple(settings.LLM_FALLBACK_MODELS),
        settings.LLM_API_BASE,
        settings.LLM_API_KEY,
        settings.LLM_TIMEOUT_S,
        settings.LLM_MAX_RETRIES,
    )


def _build_router(model: str) -> Router:
    primary: dict[str, Any] = {"model": model, "timeout": settings.LLM_TIMEOUT_S}
    if settings.LLM_API_BASE:
        primary["api_base"] = settings.LLM_API_BASE
    if settings.LLM_API_KEY:
        primary["api_key"] = settings.LLM_API_KEY
    model_list = [{"model_name": PRIMARY, "litellm_params": primary}]
    fallback_names = []
    for index, model in enumerate(settings.LLM_FALLBACK_MODELS):
        name = f"fallback-{index}"
        fallback_names.append(name)
        # Fallbacks read their keys and api_base the way litellm does (provider env variables).
        model_list.append({"model_name": name, "litellm_params": {"model": model, "timeout": settings.LLM_TIMEOUT_S}})
    return Router(
        model_list=model_list,
        fallbacks=[{PRIMARY: fallback_names}] if fallback_names else [],
        num_retries=settings.LLM_MAX_RETRIES,
        retry_after=0,  # litellm backs off exponentially between retries on its own
        timeout=settings.LLM_TIMEOUT_S,
        disable_cooldowns=True,  # one deployment per model: a cooldown would only mean "fail fast"
    )


def router(model: str | None = None) -> Router:
    """The process's Router for `model` (default LLM_MODEL) as primary, with the configured fallbacks,
    timeout and retries; a new one when those settings change (tests override them)."""
    key = _settings_key(model or settings.LLM_MODEL)
    with _router_lock:
        found = _routers.get(key)
        if found is None:
            if len(_routers) >= 8:  # settings changed (tests) or many evaluated models: start over
                _routers.clear()
            found = _routers[key] = _build_router(key[0])
        return found


def reset_router() -> None:
    with _router_lock:
        _routers.clear()


def current_model() -> str:
    return settings.LLM_MODEL


def context_window(model: str | None = None) -> int:
    """Tokens the model accepts (prompt + reply)."""
    model = model or settings.LLM_MODEL
    if model.startswith("local/"):
        return settings.LOCAL_LLM_CONTEXT
    if model.startswith("fake/"):
        return FAKE_CONTEXT_WINDOW
    try:
        info = litellm.get_model_info(model)
    except Exception:  # noqa: BLE001 - unknown to litellm's map: assume a common size
        return DEFAULT_CONTEXT_WINDOW
    return int(info.get("max_input_tokens") or info.get("max_tokens") or DEFAULT_CONTEXT_WINDOW)


def count_tokens(
    *, messages: list[dict[str, Any]] | None = None, text: str | None = None, model: str | None = None
) -> int:
    """digitalme.tokens for the configured model (each distinct text is counted once per process)."""
    model = model or settings.LLM_MODEL
    if messages is not None:
        return tokens.count_messages(messages, model)
    return tokens.count_text(text or "", model)


DEADLINE_GRACE_S = 1.0


def _total_deadline() -> float:
    """Backstop over the Router: each model in the chain gets LLM_TIMEOUT_S to start answering.

    The per-model timeout (httpx for HTTP providers, the providers' own for custom ones) fires
    first; this only catches a provider that ignores it. Cancelling litellm mid-call is the last
    resort, so it gets a second of grace.
    """
    return settings.LLM_TIMEOUT_S * (1 + len(settings.LLM_FALLBACK_MODELS)) + DEADLINE_GRACE_S


def _generation_params(max_tokens: int | None, temperature: float | None) -> dict[str, Any]:
    params: dict[str, Any] = {"max_tokens": max_tokens or settings.LLM_MAX_TOKENS}
    if temperature is not None:
        params["temperature"] = temperature
    return params


async def stream_reply(
    messages: list[dict[str, Any]],
    *,
    model: str | None = None,
    on_delta: Callable[[str], Awaitable[None]] | None = None,
    should_stop: Callable[[], bool] | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    prompt_tokens: int | None = None,
) -> StreamResult:
    """Stream one completion, calling `on_delta` per piece of text.

    `prompt_tokens` (the caller's count of `messages`) is stored when the provider reports no usage.

    `model` is the primary model (default LLM_MODEL); LLM_FALLBACK_MODELS follow it.
    Raises LLMUnavailableError when no model starts within the timeout, or a stream breaks or
    stalls for LLM_TIMEOUT_S between pieces. `should_stop()` is checked after every piece.
    """
    model = model or settings.LLM_MODEL
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_total_deadline()):
            response: Any = await router(model).acompletion(
                model=PRIMARY,
                messages=messages,  # type: ignore[arg-type]
                stream=True,
                **_generation_params(max_tokens, temperature),
            )
    except Exception as exc:
        logger.warning("LLM call failed", extra={"error": type(exc).__name__, "model": model})
        metrics.observe_llm(model=model, error=type(exc).__name__)
        raise LLMUnavailableError(str(type(exc).__name__)) from exc

    parts: list[str] = []
    ttft_ms: int | None = None
    stopped = False
    model_used = model
    usage_prompt = usage_completion = None
    iterator = response.__aiter__()
    try:
        while True:
            try:
                async with asyncio.timeout(settings.LLM_TIMEOUT_S):
                    chunk = await iterator.__anext__()
            except StopAsyncIteration:
                break
            model_used = _model_of(chunk, model_used, model)
            usage = getattr(chunk, "usage", None)
            if usage:
                usage_prompt, usage_completion = usage.prompt_tokens, usage.completion_tokens
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                if ttft_ms is None:
                    ttft_ms = _ms_since(started)
                parts.append(delta)
                if on_delta is not None:
                    await on_delta(delta)
            if should_stop is not None and should_stop():
                stopped = True
                break
    except Exception as exc:
        logger.warning("LLM stream failed", extra={"error": type(exc).__name__, "model": model_used})
        metrics.observe_llm(model=model_used, error=type(exc).__name__)
        raise LLMUnavailableError(str(type(exc).__name__)) from exc
    finally:
        await _close(response)

    text = "".join(parts)
    result = StreamResult(
        text=text,
        model=model_used,
        prompt_tokens=int(usage_prompt or prompt_tokens or count_tokens(messages=messages, model=model)),
        completion_tokens=int(usage_completion or (count_tokens(text=text, model=model) if text else 0)),
        ttft_ms=ttft_ms,
        latency_ms=_ms_since(started),
        stopped=stopped,
    )
    metrics.observe_llm(
        model=result.model,
        latency_s=result.latency_ms / 1000,
        ttft_s=None if result.ttft_ms is None else result.ttft_ms / 1000,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
    )
    return result


async def complete(messages: list[dict[str, Any]], *, max_tokens: int | None = None, temperature: float = 0.2) -> str:
    """One non-streamed completion (background jobs: summaries, memory extraction)."""
    try:
        async with asyncio.timeout(_total_deadline()):
            response: Any = await router().acompletion(
                model=PRIMARY,
                messages=messages,  # type: ignore[arg-type]
                stream=False,
                **_generation_params(max_tokens, temperature),
            )
    except Exception as exc:
        logger.warning("LLM call failed", extra={"error": type(exc).__name__, "model": settings.LLM_MODEL})
        raise LLMUnavailableError(str(type(exc).__name__)) from exc
    return response.choices[0].message.content or ""


def _model_of(chunk: Any, default: str, primary: str) -> str:
    """The concrete model that answered (a fallback shows here), as `provider/name`."""
    name = getattr(chunk, "model", None)
    if not name:
        return default
    if "/" in name:
        return name
    for model in (primary, *settings.LLM_FALLBACK_MODELS):
        if model.split("/", 1)[-1] == name:
            return model
    return name


async def _close(response: Any) -> None:
    """Close the provider stream so a stopped local generation frees the model for the next user."""
    for target in (getattr(response, "completion_stream", None), response):
        aclose = getattr(target, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:
                logger.debug("closing the LLM stream failed", exc_info=True)


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
