"""litellm custom providers registered by the chat app: `fake/...` (tests, bench) and `local/...`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing litellm costs ~190 MB: only the modules that register a provider do
    from litellm.types.utils import GenericStreamingChunk


def stream_chunk(text: str, *, finished: bool = False, usage: dict | None = None) -> GenericStreamingChunk:
    """One piece of a custom provider's stream, in the shape litellm's stream wrapper reads."""
    return {
        "text": text,
        "is_finished": finished,
        "finish_reason": "stop" if finished else "",
        "usage": usage,  # type: ignore[typeddict-item]
        "index": 0,
        "tool_use": None,
    }
