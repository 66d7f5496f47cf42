"""All LLM access of DigitalMe goes through here, and through litellm.

`stream_reply()` streams one completion through a litellm Router (per-model timeout, retries
with backoff, fallbacks from LLM_FALLBACK_MODELS); `complete()` is the non-streaming variant for
background jobs (summaries). `count_tokens()` / `context_window()` let the pipeline budget a
prompt. Custom providers (`fake/...`, `local/...`) are registered with litellm on import.
"""

from chat.llm.client import (
    LLMUnavailableError,
    StreamResult,
    complete,
    context_window,
    count_tokens,
    current_model,
    reset_router,
    stream_reply,
)

__all__ = [
    "LLMUnavailableError",
    "StreamResult",
    "complete",
    "context_window",
    "count_tokens",
    "current_model",
    "reset_router",
    "stream_reply",
]
