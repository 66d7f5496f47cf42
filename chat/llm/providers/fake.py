"""`fake/...`: a deterministic provider for tests and benchmarks.

The reply is derived from the last user message, so tests can assert on it:
    "Ivan here. You said: <text>"  streamed word by word.
Every call is recorded (model, messages, params) in `RECORDER` so tests can assert on the prompt.
No litellm here: the lean path (chat/llm/lean.py) streams `astream()` directly, as the benchmark's
`fake/fixed40` does; chat/llm/providers/fake_litellm.py adapts the same plans for litellm
(`complete()`, or a fake model behind a non-lean one in a fallback chain).

Markers in the last user message steer failure paths:
    [[fail]]     the provider raises (a 500-like error) before the first token
    [[timeout]]  the provider sleeps longer than any sane LLM_TIMEOUT_S before the first token
    [[slow]]     each token waits 0.05 s and the reply is ~120 tokens long (stop mid-stream)
    [[die]]      a few tokens, then the stream breaks
    [[say:...]]  the reply is exactly the text after `say:` (up to `]]`), e.g. to test output checks
    [[cite]]     the reply quotes the context lines of the system prompt (connected accounts, each with
                 its source and freshness) as a model using them would, or says there are none
Models:
    fake/ivan     the above
    fake/broken   always fails (for fallback tests)
    fake/fixed40  a fixed 40-token reply, zero delay (benchmarks measure the server, not the model)
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

SLOW_TOKEN_DELAY_S = 0.05
TIMEOUT_SLEEP_S = 3600.0
FIXED_40 = " ".join(f"w{i}" for i in range(40))
_SAY = re.compile(r"\[\[say:(.*)\]\]", re.DOTALL)
# personality.prompts writes each context item as "- [source, synced … (… UTC)] text".
_CONTEXT_LINE = re.compile(r"^- \[([\w+]+, [^\]]+)\] (.+)$", re.MULTILINE)


@dataclass
class FakeCall:
    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]


@dataclass
class Recorder:
    """What the fake provider received, in call order (thread-safe): the newest KEEP calls, so a
    long-running server (the benchmark) does not grow by every prompt it was sent. Tests read the
    last call or the last few; each call keeps its whole prompt (≈ 8.6 kB), so 500 were ≈ 4 MB of
    a benchmarked server's memory."""

    KEEP = 50
    calls: list[FakeCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, call: FakeCall) -> None:
        with self._lock:
            self.calls.append(call)
            if len(self.calls) > self.KEEP:
                del self.calls[: len(self.calls) - self.KEEP]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    @property
    def last(self) -> FakeCall:
        return self.calls[-1]


RECORDER = Recorder()


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content") or ""
            return content if isinstance(content, str) else str(content)
    return ""


@dataclass(frozen=True)
class _Plan:
    tokens: list[str]
    delay_s: float = 0.0
    fail_before: bool = False
    hang_before: bool = False
    die_after: int | None = None


def _cited_context(messages: list[dict[str, Any]]) -> str:
    system = "\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    lines = [f"{text} [{where}]" for where, text in _CONTEXT_LINE.findall(system)]
    return "Ivan here. From your accounts: " + " ".join(lines) if lines else "Ivan here. I see nothing synced."


# The [[slow]] reply's 120 words: plain prose ending in SLOW_END, so tests can tell a cut reply from a
# whole one. (Numbered filler — "more0 … more119", "1. … 119." — is junk the output classifier can
# misread as harm and replace: docs/QUALITY.md, known gaps.)
SLOW_END = "and that is the end."
SLOW_FILLER = " ".join(["and the story goes on,"] * 23) + " " + SLOW_END


def _plan(model: str, messages: list[dict[str, Any]]) -> _Plan:
    name = model.split("/", 1)[-1]
    text = _last_user_text(messages)
    if name == "broken" or "[[fail]]" in text:
        return _Plan(tokens=[], fail_before=True)
    if name == "fixed40":
        return _Plan(tokens=_split(FIXED_40))
    if "[[timeout]]" in text:
        return _Plan(tokens=[], hang_before=True)
    said = _SAY.search(text)
    if said:
        reply = said.group(1)
    elif "[[cite]]" in text:
        reply = _cited_context(messages)
    else:
        reply = f"Ivan here. You said: {text}"
    if "[[slow]]" in text:
        reply = reply + " " + SLOW_FILLER
        return _Plan(tokens=_split(reply), delay_s=SLOW_TOKEN_DELAY_S)
    if "[[die]]" in text:
        return _Plan(tokens=_split(reply), die_after=3)
    return _Plan(tokens=_split(reply))


def hang_for(timeout: Any) -> float:
    """Like a real HTTP provider, a hung fake gives up at the request timeout it was given."""
    return float(timeout) if isinstance(timeout, int | float) and timeout > 0 else TIMEOUT_SLEEP_S


def _split(reply: str) -> list[str]:
    words = reply.split(" ")
    return [words[0], *[" " + word for word in words[1:]]] if words else []


def usage(messages: list[dict[str, Any]], tokens: list[str]) -> dict[str, int]:
    # ≈ 4 characters a token: a real provider counts on its side, so the fake (run inside the
    # benchmarked server) must not spend the server's CPU splitting a whole prompt into words per reply
    prompt = sum(len(str(m.get("content") or "")) for m in messages) // 4 + 1
    return {"prompt_tokens": prompt, "completion_tokens": len(tokens), "total_tokens": prompt + len(tokens)}


class FakeProviderError(Exception):
    """What the fake raises where a real provider answers 5xx or breaks the stream."""

    status_code = 500


class FakeTimeoutError(TimeoutError):
    """The fake's request timeout ran out (`[[timeout]]`)."""


def start(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> _Plan:
    """Record the call (as litellm hands it to a custom provider: the name without `fake/`) and plan the reply."""
    RECORDER.record(FakeCall(model=model.split("/", 1)[-1], messages=[dict(m) for m in messages], params=dict(params)))
    return _plan(model, messages)


async def astream(
    model: str, messages: list[dict[str, Any]], params: dict[str, Any], *, timeout: float | None
) -> AsyncIterator[tuple[str, dict[str, int] | None]]:
    """The reply as (piece, usage) pairs: usage only on the last, empty piece."""
    plan = start(model, messages, params)
    if plan.fail_before:
        raise FakeProviderError("fake provider failure (requested by the test)")
    if plan.hang_before:
        await asyncio.sleep(hang_for(timeout))
        raise FakeTimeoutError("fake provider timed out (requested by the test)")
    for index, token in enumerate(plan.tokens):
        if plan.die_after is not None and index == plan.die_after:
            raise FakeProviderError("fake provider stream broke")
        if plan.delay_s:
            await asyncio.sleep(plan.delay_s)
        yield token, None
    yield "", usage(messages, plan.tokens)
