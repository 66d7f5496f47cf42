"""Token counting: the one definition (prompt budgets, history fitting, stored counts, summaries).

Texts are counted with litellm's tokenizer for the model (`litellm.token_counter`; its default
tokenizer, offline, for models it does not know such as fake/… and local/…), each distinct text
once per process (an LRU: a persona version's facts, examples and fixed sections, and the
conversation's messages, recur on every turn). A list of chat messages costs the sum of its
contents plus OpenAI's framing — 4 tokens per message (3 + the role) and 3 to prime the reply —
which is what `litellm.token_counter(messages=...)` returns for these models, without counting
every message again on every turn. litellm is imported on first use, not at import (≈ 190 MB).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

PER_MESSAGE = 4  # <|start|>{role} … <|end|>: 3, plus the role's own token
REPLY_PRIMING = 3


@functools.lru_cache(maxsize=16384)
def count_text(text: str, model: str) -> int:
    """Tokens of `text` for `model` (litellm's tokenizer), counted once per distinct text."""
    if not text:
        return 0
    import litellm

    return int(litellm.token_counter(model=model, text=text))


def count_messages(messages: Iterable[Mapping[str, Any]], model: str) -> int:
    """Tokens of a chat request: each message's content plus the framing (see the module docstring)."""
    total = REPLY_PRIMING
    for message in messages:
        total += PER_MESSAGE + count_text(str(message.get("content") or ""), model)
    return total
