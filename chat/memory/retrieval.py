"""What of a user's memory goes into Ivan's prompt: the rolling summary and the relevant facts.

Retrieval ranks the user's current facts against the message with BM25 (digitalme.bm25): cheap,
offline, no embeddings model to load (docs/PITFALLS.md measured the alternatives).
"""

from __future__ import annotations

import re

from django.conf import settings

from chat.models import MemoryFact
from chat.selectors import memory_fact_list, user_memory_get
from digitalme.bm25 import BM25Okapi

_WORD = re.compile(r"\w+", re.UNICODE)


def tokenize(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def relevant_facts(*, user, text: str, limit: int | None = None) -> list[MemoryFact]:
    """The user's current facts most relevant to `text`; all of them when there are few."""
    limit = limit or settings.CHAT_MEMORY_FACTS_IN_PROMPT
    facts = list(memory_fact_list(user=user)[:200])
    if len(facts) <= limit:
        return facts
    corpus = [tokenize(f"{fact.key.replace('_', ' ')} {fact.text}") for fact in facts]
    scores = BM25Okapi(corpus).scores(tokenize(text))
    # Ties (no overlap at all) keep the newest facts first: facts are ordered newest first.
    ranked = sorted(range(len(facts)), key=lambda i: -scores[i])
    return [facts[i] for i in ranked[:limit]]


def memory_for_prompt(*, user, text: str) -> list[str]:
    """Lines of memory for the persona prompt: the rolling summary, then relevant facts."""
    lines: list[str] = []
    memory = user_memory_get(user=user)
    if memory and memory.summary:
        lines.append(f"Earlier conversations with this user, summarised: {memory.summary}")
    lines.extend(f"The user told you: {fact.text}" for fact in relevant_facts(user=user, text=text))
    return lines
