"""The LLM layer's entry points: `stream_reply()` (a chat reply, streamed), `complete()` (background
jobs), and the budget helpers `count_tokens()` / `context_window()`.

Streaming from an OpenAI-compatible endpoint (`openai/...`) or the fake provider takes the lean path
(chat/llm/lean.py: httpx, no litellm); every other provider goes through litellm's Router
(chat/llm/router.py), imported only then (≈ 190 MB). Both keep the same timeout, retry and fallback
semantics; LLM_LEAN_STREAM=false sends everything through litellm.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from chat.llm import lean
from digitalme import metrics, tokens

logger = logging.getLogger(__name__)

DEFAULT_CONTEXT_WINDOW = 8192
FAKE_CONTEXT_WINDOW = 8192


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


def reset_router() -> None:
    """Forget the litellm Routers built so far (tests that change the LLM settings)."""
    from chat.llm import router

    router.reset()


def current_model() -> str:
    return settings.LLM_MODEL


def context_window(model: str | None = None) -> int:
    """Tokens the model accepts (prompt + reply): litellm's model map, read without importing litellm."""
    model = model or settings.LLM_MODEL
    if model.startswith("local/"):
        return settings.LOCAL_LLM_CONTEXT
    if model.startswith("fake/"):
        return FAKE_CONTEXT_WINDOW
    info = _litellm_model_map().get(model) or _litellm_model_map().get(model.split("/", 1)[-1]) or {}
    return int(info.get("max_input_tokens") or info.get("max_tokens") or DEFAULT_CONTEXT_WINDOW)


@functools.cache
def _litellm_model_map() -> dict[str, dict[str, Any]]:
    """The context sizes from the model map litellm ships (the one it reads itself offline,
    LITELLM_LOCAL_MODEL_COST_MAP), found without importing litellm; only the sizes are kept."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    entries = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: {key: entry[key] for key in ("max_input_tokens", "max_tokens") if key in entry}
        for name, entry in entries.items()
        if isinstance(entry, dict)
    }


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


class _StallWatchdog:
    """Gives up a stream that sends nothing for `limit_s` while it is awaited (the time between pieces).

    One timer for the whole stream instead of an `asyncio.timeout` per piece (a timer scheduled
    and cancelled per token: ≈ 7 µs each, the stream's largest fixed cost after the frames): the
    stream sets `since` to `time.monotonic()` before it awaits a piece and to None when it came (an
    attribute, not a method call, per piece), and the timer, when it fires, either expires `stall`
    (the stream's `asyncio.timeout`: its task is cancelled and TimeoutError raised, as before) or
    sets itself again for what is left of the current wait."""

    def __init__(self, stall: asyncio.Timeout, limit_s: float) -> None:
        self._stall = stall
        self._limit_s = limit_s
        self._loop = asyncio.get_running_loop()
        self.since: float | None = None  # when the current wait for a piece began (None: not waiting)
        self._timer = self._loop.call_at(self._loop.time() + limit_s, self._fire)

    def cancel(self) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        now = time.monotonic()
        if self.since is not None and now - self.since >= self._limit_s:
            self._stall.reschedule(self._loop.time())  # expire: the awaited piece is cancelled, TimeoutError raised
            return
        waited = now - self.since if self.since is not None else 0.0
        self._timer = self._loop.call_at(self._loop.time() + self._limit_s - waited, self._fire)


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
    chain = [model, *settings.LLM_FALLBACK_MODELS]
    params = _generation_params(max_tokens, temperature)
    if not all(lean.is_lean(name) for name in chain):
        # imports litellm (seconds, once per process) outside the deadline: only a chain with a non-lean model
        from chat.llm import router
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_total_deadline()):
            if lean.is_lean(model):
                pieces = await lean.open_stream(chain, messages, params)
            else:
                pieces = await router.open_stream(chain, messages, params, own_endpoint=True)
    except Exception as exc:
        logger.warning("LLM call failed", extra={"error": type(exc).__name__, "model": model})
        metrics.observe_llm(model=model, error=type(exc).__name__)
        raise LLMUnavailableError(str(type(exc).__name__)) from exc

    parts: list[str] = []
    ttft_ms: int | None = None
    stopped = False
    model_used = model
    usage_prompt = usage_completion = None
    next_piece = pieces.__aiter__().__anext__
    try:
        async with asyncio.timeout(None) as stall:
            watchdog = _StallWatchdog(stall, settings.LLM_TIMEOUT_S)
            try:
                while True:
                    watchdog.since = time.monotonic()
                    try:
                        piece = await next_piece()
                    except StopAsyncIteration:
                        break
                    watchdog.since = None
                    model_used = piece.model or model_used
                    if piece.prompt_tokens is not None or piece.completion_tokens is not None:
                        usage_prompt, usage_completion = piece.prompt_tokens, piece.completion_tokens
                    if piece.text:
                        if ttft_ms is None:
                            ttft_ms = _ms_since(started)
                        parts.append(piece.text)
                        if on_delta is not None:
                            await on_delta(piece.text)
                    if should_stop is not None and should_stop():
                        stopped = True
                        break
            finally:
                watchdog.cancel()
    except Exception as exc:
        logger.warning("LLM stream failed", extra={"error": type(exc).__name__, "model": model_used})
        metrics.observe_llm(model=model_used, error=type(exc).__name__)
        raise LLMUnavailableError(str(type(exc).__name__)) from exc
    finally:
        await pieces.aclose()

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
    from chat.llm import router  # imports litellm: background jobs, not the chat turn

    try:
        async with asyncio.timeout(_total_deadline()):
            return await router.complete(messages, _generation_params(max_tokens, temperature))
    except Exception as exc:
        logger.warning("LLM call failed", extra={"error": type(exc).__name__, "model": settings.LLM_MODEL})
        raise LLMUnavailableError(str(type(exc).__name__)) from exc


def _ms_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
