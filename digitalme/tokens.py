"""Token counting: the one definition (prompt budgets, history fitting, stored counts, summaries).

A text is counted with the tokenizer `litellm.token_counter` picks for the model: for OpenAI and
OpenAI-compatible models (`openai/…`, bare names) and ours (fake/…, local/…) that is a tiktoken
encoding (o200k_base for gpt-4o and later releases, the model's own for older ones, cl100k_base for
everything else), read from the copy litellm ships (offline) without importing litellm (≈ 190 MB);
other providers and the families litellm counts with their own HuggingFace tokenizer (Claude,
Command R, DeepSeek, Llama 2/3) go through litellm itself. tests/chat/test_llm.py checks the counts
equal litellm's. Each distinct text is counted once per process (an LRU), and a message once in its
life: its count is stored on the row (chat.models.Message.tokens) and read back for history budgets.

A list of chat messages costs the sum of its contents plus OpenAI's framing — 4 tokens per message
(3 + the role) and 3 to prime the reply — which is what `litellm.token_counter(messages=...)`
returns for these models, without counting every message again on every turn.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PER_MESSAGE = 4  # <|start|>{role} … <|end|>: 3, plus the role's own token
# litellm encodes a text in slices of this many characters (linear cost on huge inputs; a token
# across a slice boundary counts as two): the same slices give the same counts.
CHUNK_CHARS = 1024
REPLY_PRIMING = 3
# Model-name marks of the families litellm counts with a HuggingFace tokenizer (litellm.utils
# huggingface_tokenizer_kind): those are counted by litellm itself.
OWN_TOKENIZER_MARKS = ("claude", "command-r", "deepseek", "llama-2", "llama-3", "replicate")

# OpenAI releases newer than tiktoken's table (gpt-5…, o-series): o200k_base, as litellm counts them.
_NEWER_OPENAI = re.compile(r"(?:gpt-(?:[5-9]|[1-9]\d+)|o[1-9]\d*)(?:[.-]|$)")
_encoding_lock = threading.Lock()


@functools.cache
def _encoding(name: str) -> Any:
    """A tiktoken encoding from litellm's bundled cache directory (no download, no litellm import)."""
    with _encoding_lock:
        if "TIKTOKEN_CACHE_DIR" not in os.environ:
            spec = importlib.util.find_spec("litellm")
            if spec is not None and spec.submodule_search_locations:
                bundled = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
                os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
        import tiktoken

        encoding = tiktoken.get_encoding(name)
        # tiktoken keeps the Python dict the Rust encoder was built from (100k byte strings → rank;
        # ≈ 13 MB of RSS per process, docs/QUALITY.md) for pickling and its educational module only:
        # encode() runs on the Rust copy. Counting never pickles an encoding.
        if isinstance(getattr(encoding, "_mergeable_ranks", None), dict):
            encoding._mergeable_ranks = {}
        return encoding


@functools.lru_cache(maxsize=256)
def encoding_name(model: str) -> str | None:
    """The tiktoken encoding litellm counts `model` with, or None when litellm must count it."""
    provider, _, name = model.partition("/") if "/" in model else ("openai", "", model)
    if provider in ("fake", "local"):
        return "cl100k_base"
    if provider != "openai" or any(mark in name.lower() for mark in OWN_TOKENIZER_MARKS):
        return None
    if "gpt-4o" in name:
        return "o200k_base"
    import tiktoken

    try:
        return tiktoken.encoding_name_for_model(name)
    except KeyError:
        return "o200k_base" if _NEWER_OPENAI.match(name) else "cl100k_base"


def tokenizer_of(model: str) -> str:
    """The name of the tokenizer `model` is counted with: a stored count is reused only for the same one."""
    return encoding_name(model) or f"litellm:{model}"[:64]


@functools.lru_cache(maxsize=2048)
def count_text(text: str, model: str) -> int:
    """Tokens of `text` for `model`, counted once per distinct text. The texts that recur are the
    prompt's parts (a few hundred per persona version); a message or reply is counted once and its
    count stored, so the cache stays small: 2,048 texts of up to a few kB, not 16k."""
    if not text:
        return 0
    name = encoding_name(model)
    if name is None:
        import litellm

        return int(litellm.token_counter(model=model, text=text))
    encoding = _encoding(name)
    return sum(
        len(encoding.encode(text[start : start + CHUNK_CHARS], disallowed_special=()))
        for start in range(0, len(text), CHUNK_CHARS)
    )


def count_messages(messages: Iterable[Mapping[str, Any]], model: str) -> int:
    """Tokens of a chat request: each message's content plus the framing (see the module docstring)."""
    return REPLY_PRIMING + sum(message_cost(message, model) for message in messages)


def message_cost(message: Mapping[str, Any], model: str) -> int:
    """One message's share of a request: its content (the stored count `tokens` when given) and framing."""
    stored = message.get("tokens")
    return PER_MESSAGE + (stored if stored is not None else count_text(str(message.get("content") or ""), model))
