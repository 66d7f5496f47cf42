"""The lean streaming path: OpenAI-compatible endpoints (`openai/...`) over one shared httpx pool per
process, and the in-process fake provider (`fake/...`), without litellm.

Why: streaming a 40-token reply through litellm's Router and its stream wrapper cost ≈ 30 ms of CPU,
against ≈ 0.04 ms for the provider's own generator (docs/QUALITY.md, "The chat turn at the floor"),
and importing litellm costs ≈ 190 MB per process. litellm stays for every other provider (the local
model, Anthropic, …), for a chain's models after the first non-lean one, and for `complete()`.

The semantics are the Router's, as measured against the loopback OpenAI server
(tests/chat/test_llm_openai_http.py runs each case on both paths):
- each request gets LLM_TIMEOUT_S (httpx connect/read/write/pool timeouts, as litellm sets them);
- a request that fails before the first piece of text — 408, 429, 5xx, a timeout, a broken
  connection, a malformed event — is retried LLM_MAX_RETRIES times, with litellm's backoff
  (0.5 s·2ⁿ capped at 8 s, plus up to 0.75 s of jitter; a Retry-After of ≤ 60 s is honoured);
  other 4xx are not retried;
- then LLM_FALLBACK_MODELS are tried in order, each the same way;
- once text has arrived, a failure is the stream's error (no retry: the user has seen part of it);
- a stream that ends (`data: [DONE]` or the connection closing) before a chunk carried a
  finish_reason was cut short: an error, as litellm has it.
Server-sent events: `data:` lines carry one JSON chunk each; comments, other fields and blank lines
are skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Sequence
from typing import Any, NamedTuple, Protocol

import httpx
from django.conf import settings

from chat.llm.providers import fake

logger = logging.getLogger(__name__)

LEAN_PROVIDERS = ("openai/", "fake/")
OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"
# litellm's retry backoff (litellm.utils.calculate_retry_after with its default constants).
INITIAL_RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 8.0
JITTER_S = 0.75
LONGEST_RETRY_AFTER_S = 60.0
# The OpenAI SDK's pool limits, which litellm's OpenAI path uses.
POOL_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)


class Piece(NamedTuple):
    """One streamed piece: text (may be empty), the model that sent it, usage when the provider reports it.

    A named tuple, made once per streamed chunk: 0.3 µs against 0.7 µs for the frozen dataclass it was
    (docs/QUALITY.md, "Eighth pass, per-token path")."""

    text: str
    model: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finished: bool = False  # the provider said why it stopped (finish_reason)


class Pieces(Protocol):
    """A started stream of Pieces: iterate it, and close it when done (an async generator is one)."""

    def __aiter__(self) -> AsyncIterator[Piece]: ...

    def __anext__(self) -> Awaitable[Piece]: ...

    def aclose(self) -> Awaitable[None]: ...


class ProviderError(Exception):
    """A provider request failed; `retryable` as litellm's Router decides it."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


def is_lean(model: str) -> bool:
    return settings.LLM_LEAN_STREAM and model.startswith(LEAN_PROVIDERS)


async def open_stream(chain: Sequence[str], messages: list[dict[str, Any]], params: dict[str, Any]) -> Pieces:
    """Start streaming from the first model of `chain` that answers (its first piece of text has
    arrived), retrying and falling back as the module docstring says. Raises the last ProviderError."""
    last: ProviderError | None = None
    for position, model in enumerate(chain):
        if not is_lean(model):
            from chat.llm import router  # imports litellm: only a chain with a non-lean model gets here

            return await router.open_stream(chain[position:], messages, params, own_endpoint=position == 0)
        for attempt in range(settings.LLM_MAX_RETRIES + 1):
            if attempt:
                await asyncio.sleep(_backoff_s(attempt, last))
            stream = _provider_stream(model, messages, params, own_endpoint=position == 0)
            try:
                started = await _started(stream)
            except ProviderError as exc:
                await stream.aclose()
                logger.info("LLM request failed", extra={"model": model, "error": str(exc), "attempt": attempt})
                last = exc
                if not exc.retryable:
                    break
                continue
            except BaseException:  # the caller's deadline: give the connection back now, not at GC
                await stream.aclose()
                raise
            return started
    assert last is not None  # a chain has at least one model
    raise last


async def _started(stream: AsyncGenerator[Piece, None]) -> Pieces:
    """Read up to the first piece with text (or the end), then hand back a stream that replays it."""
    held: list[Piece] = []
    async for piece in stream:
        held.append(piece)
        if piece.text:
            break
    return _Replay(held, stream)


class _Replay:
    """The pieces read while starting, then the rest of the provider's stream. After the held ones,
    `__anext__` hands out the provider generator's own `__anext__()`: no generator of its own
    resumed in between for every later piece of the reply."""

    __slots__ = ("_held", "_rest")

    def __init__(self, held: list[Piece], rest: AsyncGenerator[Piece, None]) -> None:
        self._held = held[::-1]  # popped from the end
        self._rest = rest

    def __aiter__(self) -> _Replay:
        return self

    def __anext__(self) -> Awaitable[Piece]:
        if self._held:
            return _now(self._held.pop())
        return self._rest.__anext__()

    def aclose(self) -> Awaitable[None]:
        return self._rest.aclose()


async def _now(piece: Piece) -> Piece:
    return piece


def _backoff_s(attempt: int, error: ProviderError | None) -> float:
    jitter = JITTER_S * random.random()
    if error is not None and error.retry_after is not None and 0 < error.retry_after <= LONGEST_RETRY_AFTER_S:
        return error.retry_after + jitter
    return min(INITIAL_RETRY_DELAY_S * 2**attempt, MAX_RETRY_DELAY_S) + jitter


def _provider_stream(
    model: str, messages: list[dict[str, Any]], params: dict[str, Any], *, own_endpoint: bool
) -> AsyncGenerator[Piece, None]:
    if model.startswith("fake/"):
        return _fake_stream(model, messages, params)
    return _openai_stream(model, messages, params, own_endpoint=own_endpoint)


async def _fake_stream(
    model: str, messages: list[dict[str, Any]], params: dict[str, Any]
) -> AsyncGenerator[Piece, None]:
    try:
        async for text, usage in fake.astream(model, messages, params, timeout=settings.LLM_TIMEOUT_S):
            if usage is None:
                yield Piece(text, model)
            else:
                yield Piece(text, model, usage["prompt_tokens"], usage["completion_tokens"])
    except fake.FakeProviderError as exc:
        raise ProviderError(str(exc), status=exc.status_code, retryable=True) from exc
    except fake.FakeTimeoutError as exc:
        raise ProviderError(str(exc), retryable=True) from exc


# --- OpenAI-compatible HTTP ------------------------------------------------------------------------

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()


def _client() -> httpx.AsyncClient:
    """The process's connection pool (one per event loop: a pooled connection belongs to its loop)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = _clients[loop] = httpx.AsyncClient(limits=POOL_LIMITS)
    return client


def _endpoint(*, own_endpoint: bool) -> tuple[str, str]:
    """(api_base, api_key) as litellm resolves them: LLM_API_BASE/LLM_API_KEY for LLM_MODEL's place in
    the chain, the provider's environment variables otherwise."""
    env_base = os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_BASE") or OPENAI_DEFAULT_BASE
    env_key = os.environ.get("OPENAI_API_KEY", "")
    if own_endpoint:
        return settings.LLM_API_BASE or env_base, settings.LLM_API_KEY or env_key
    return env_base, env_key


async def _openai_stream(
    model: str, messages: list[dict[str, Any]], params: dict[str, Any], *, own_endpoint: bool
) -> AsyncGenerator[Piece, None]:
    base, key = _endpoint(own_endpoint=own_endpoint)
    body = {"model": model.split("/", 1)[1], "messages": messages, "stream": True, **params}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        async with _client().stream(
            "POST", base.rstrip("/") + "/chat/completions", json=body, headers=headers, timeout=settings.LLM_TIMEOUT_S
        ) as response:
            if response.status_code >= 400:
                raise _status_error(model, response.status_code, (await response.aread())[:300], response.headers)
            buffer = b""
            finished = False
            async for data in response.aiter_bytes():
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if not line or line == b"\r":  # the blank line after every event: nothing to parse
                        continue
                    piece = _event(line, model)
                    if piece is _DONE:
                        buffer = b""
                        break
                    if isinstance(piece, Piece):
                        finished = finished or piece.finished
                        yield piece
                else:
                    continue
                break
            if isinstance(piece := _event(buffer, model), Piece):
                finished = finished or piece.finished
                yield piece
            if not finished:
                raise ProviderError(f"{model}: the stream ended before a finish_reason", retryable=True)
    except httpx.TimeoutException as exc:
        raise ProviderError(f"{model} timed out ({type(exc).__name__})", retryable=True) from exc
    except httpx.HTTPError as exc:
        raise ProviderError(f"{model}: {type(exc).__name__}", retryable=True) from exc


_DONE = object()


def _event(line: bytes, model: str) -> Piece | object | None:
    """One SSE line: a Piece, _DONE, or None for what carries no chunk (comments, other fields, blank)."""
    line = line.strip()
    if not line.startswith(b"data:"):
        return None
    data = line[5:].strip()
    if data == b"[DONE]":
        return _DONE
    try:
        chunk = json.loads(data.decode())  # str: json's encoding detection for bytes skipped
    except ValueError:
        raise ProviderError(f"{model} sent a malformed event: {data[:80]!r}", retryable=True) from None
    if not isinstance(chunk, dict):
        raise ProviderError(f"{model} sent a malformed event: {data[:80]!r}", retryable=True)
    if "error" in chunk:
        raise ProviderError(f"{model} reported an error mid-stream: {str(chunk['error'])[:200]}", retryable=True)
    choices = chunk.get("choices") or ()
    choice = choices[0] if choices and isinstance(choices[0], dict) else {}
    delta = choice.get("delta") or {}
    usage = chunk.get("usage") or {}
    return Piece(
        delta.get("content") or "",
        model,
        usage.get("prompt_tokens"),
        usage.get("completion_tokens"),
        finished=bool(choice.get("finish_reason")),
    )


def _status_error(model: str, status: int, body: bytes, headers: httpx.Headers) -> ProviderError:
    retry_after: float | None = None
    with contextlib.suppress(ValueError):
        retry_after = float(headers.get("retry-after", ""))
    return ProviderError(
        f"{model} answered HTTP {status}: {body.decode('utf-8', 'replace')}",
        status=status,
        retryable=status in (408, 429) or status >= 500,
        retry_after=retry_after,
    )
