"""litellm's side of the LLM layer: the Router built from settings (timeout, retries with backoff,
fallbacks) and the custom providers registered with it. Importing this imports litellm (≈ 190 MB):
only the non-lean paths do (chat/llm/client.py), never a web process streaming from an
OpenAI-compatible endpoint."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncGenerator, Sequence
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from django.conf import settings
from litellm import Router

from chat.llm.lean import Piece
from chat.llm.providers.fake_litellm import FakeLLM
from chat.llm.providers.local import LocalLLM

logger = logging.getLogger(__name__)

PRIMARY = "ivan"

litellm.custom_provider_map = [
    *(item for item in litellm.custom_provider_map if item["provider"] not in {"fake", "local"}),
    {"provider": "fake", "custom_handler": FakeLLM()},
    {"provider": "local", "custom_handler": LocalLLM()},
]
litellm.telemetry = False
litellm.suppress_debug_info = True

_routers: dict[tuple, Router] = {}
_router_lock = threading.Lock()


def _settings_key(chain: Sequence[str], own_endpoint: bool) -> tuple:
    return (
        tuple(chain),
        own_endpoint,
        settings.LLM_API_BASE,
        settings.LLM_API_KEY,
        settings.LLM_TIMEOUT_S,
        settings.LLM_MAX_RETRIES,
    )


def _build_router(chain: Sequence[str], own_endpoint: bool) -> Router:
    model, *fallbacks = chain
    primary: dict[str, Any] = {"model": model, "timeout": settings.LLM_TIMEOUT_S}
    if own_endpoint and settings.LLM_API_BASE:
        primary["api_base"] = settings.LLM_API_BASE
    if own_endpoint and settings.LLM_API_KEY:
        primary["api_key"] = settings.LLM_API_KEY
    model_list = [{"model_name": PRIMARY, "litellm_params": primary}]
    fallback_names = []
    for index, fallback in enumerate(fallbacks):
        name = f"fallback-{index}"
        fallback_names.append(name)
        # Fallbacks read their keys and api_base the way litellm does (provider env variables).
        model_list.append(
            {"model_name": name, "litellm_params": {"model": fallback, "timeout": settings.LLM_TIMEOUT_S}}
        )
    return Router(
        model_list=model_list,
        fallbacks=[{PRIMARY: fallback_names}] if fallback_names else [],
        num_retries=settings.LLM_MAX_RETRIES,
        retry_after=0,  # litellm backs off exponentially between retries on its own
        timeout=settings.LLM_TIMEOUT_S,
        disable_cooldowns=True,  # one deployment per model: a cooldown would only mean "fail fast"
    )


def router(chain: Sequence[str], *, own_endpoint: bool = True) -> Router:
    """The process's Router for `chain` (the first model primary, the rest its fallbacks in order);
    `own_endpoint`: the first model is LLM_MODEL's position and gets LLM_API_BASE/LLM_API_KEY. A new
    Router when those settings change (tests override them)."""
    key = _settings_key(chain, own_endpoint)
    with _router_lock:
        found = _routers.get(key)
        if found is None:
            if len(_routers) >= 8:  # settings changed (tests) or many evaluated models: start over
                _routers.clear()
            found = _routers[key] = _build_router(chain, own_endpoint)
        return found


def reset() -> None:
    with _router_lock:
        _routers.clear()


async def open_stream(
    chain: Sequence[str], messages: list[dict[str, Any]], params: dict[str, Any], *, own_endpoint: bool
) -> AsyncGenerator[Piece, None]:
    """Start a stream through the Router (it retries and falls back until a model answers), as Pieces."""
    response: Any = await router(chain, own_endpoint=own_endpoint).acompletion(
        model=PRIMARY,
        messages=messages,  # type: ignore[arg-type]
        stream=True,
        **params,
    )
    return _pieces(response, chain)


async def _pieces(response: Any, chain: Sequence[str]) -> AsyncGenerator[Piece, None]:
    try:
        async for chunk in response:
            usage = getattr(chunk, "usage", None)
            yield Piece(
                text=(chunk.choices[0].delta.content or "") if chunk.choices else "",
                model=_model_of(chunk, chain),
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else None,
            )
    finally:
        await _close(response)


async def complete(messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    response: Any = await router([settings.LLM_MODEL, *settings.LLM_FALLBACK_MODELS]).acompletion(
        model=PRIMARY,
        messages=messages,  # type: ignore[arg-type]
        stream=False,
        **params,
    )
    return response.choices[0].message.content or ""


def _model_of(chunk: Any, chain: Sequence[str]) -> str | None:
    """The concrete model that answered (a fallback shows here), as `provider/name`."""
    name = getattr(chunk, "model", None)
    if not name:
        return None
    if "/" in name:
        return name
    for model in chain:
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
