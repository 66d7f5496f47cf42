"""Assembles what the LLM sees: persona prompt + memory + integration context + recent turns.

Everything is token-counted (digitalme.tokens) for the configured model and fitted into its context
window, leaving LLM_MAX_TOKENS for the reply. The persona part comes only from
personality.prompts.compose_prompt (the persona app owns how Ivan is described).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from chat import llm
from chat.context import ContextItem
from digitalme import tokens

SAFETY_MARGIN_TOKENS = 32


@dataclass(frozen=True)
class BuiltPrompt:
    messages: list[dict[str, str]]  # exactly what is sent to the LLM
    composed: Any  # personality.prompts.ComposedPrompt
    profile: Any  # the PersonaProfile it was composed from
    token_count: int
    memory: tuple[str, ...] = ()
    context: tuple[ContextItem, ...] = ()
    history_messages: int = 0  # how many earlier turns fitted
    sections: dict[str, str] = field(default_factory=dict)


def prompt_budget(model: str | None = None) -> int:
    """Tokens available for the prompt: the model's window minus the reply and a margin."""
    return max(256, llm.context_window(model) - settings.LLM_MAX_TOKENS - SAFETY_MARGIN_TOKENS)


def build_prompt(
    *,
    profile: Any,
    text: str,
    history: Sequence[dict[str, Any]] = (),
    memory: Sequence[str] = (),
    context: Sequence[ContextItem] = (),
    model: str | None = None,
) -> BuiltPrompt:
    """`history` is oldest first ({"role", "content"}, and "tokens" when the message's count is stored);
    the newest turns that fit are kept."""
    from personality.prompts import compose_prompt

    model = model or llm.current_model()
    budget = prompt_budget(model)
    persona_budget = int(budget * (1 - settings.CHAT_HISTORY_SHARE))
    composed = compose_prompt(
        profile=profile,
        user_message=text,
        memory=tuple(memory),
        context=tuple(context),
        model=model,
        budget_tokens=persona_budget,
        compact=llm.context_window(model) <= settings.PERSONA_PROMPT_COMPACT_WINDOW,
    )
    head = [{"role": "system", "content": composed.system}, *composed.few_shot]
    tail = [{"role": "user", "content": text}]
    used = llm.count_tokens(messages=[*head, *tail], model=model)
    kept: list[dict[str, str]] = []
    for turn in reversed(history):
        cost = tokens.message_cost(turn, model)  # the stored count when the turn brings one
        if used + cost > budget:
            break
        kept.append({"role": turn["role"], "content": turn["content"]})
        used += cost
    kept.reverse()
    messages = composed.messages(text, kept)
    return BuiltPrompt(
        messages=messages,
        composed=composed,
        profile=profile,
        token_count=used,  # = tokens.count_messages(messages): head, kept history and tail, each counted once
        memory=tuple(memory),
        context=tuple(context),
        history_messages=len(kept),
        sections=dict(getattr(composed, "sections", {}) or {}),
    )
