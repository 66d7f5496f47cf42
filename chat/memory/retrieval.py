"""What of a user's memory goes into Ivan's prompt: the rolling summary and the relevant facts.

Retrieval ranks the user's current facts against the message with BM25 (digitalme.bm25): cheap,
offline, no embeddings model to load (docs/PITFALLS.md measured the alternatives).
"""

from __future__ import annotations

import re
from typing import TypeVar

from django.conf import settings

from chat import rows
from chat.models import MemoryFact
from chat.selectors import memory_fact_list
from digitalme.bm25 import BM25Okapi

T = TypeVar("T")
_WORD = re.compile(r"\w+", re.UNICODE)
FACTS_CONSIDERED = 200  # the newest current facts ranked for a message


def tokenize(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def relevant_facts(*, user, text: str, limit: int | None = None) -> list[MemoryFact]:
    """The user's current facts most relevant to `text`; all of them when there are few."""
    facts = list(memory_fact_list(user=user)[:FACTS_CONSIDERED])
    return _ranked(facts, [(fact.key, fact.text) for fact in facts], text, limit)


def _ranked(items: list[T], keyed: list[tuple[str, str]], text: str, limit: int | None) -> list[T]:
    """`items` (each with its fact's (key, text) in `keyed`, newest first) ranked against `text`."""
    limit = limit or settings.CHAT_MEMORY_FACTS_IN_PROMPT
    if len(items) <= limit:
        return items
    corpus = [tokenize(f"{key.replace('_', ' ')} {fact_text}") for key, fact_text in keyed]
    scores = BM25Okapi(corpus).scores(tokenize(text))
    # Ties (no overlap at all) keep the newest facts first: facts are ordered newest first.
    ranked = sorted(range(len(items)), key=lambda i: -scores[i])
    return [items[i] for i in ranked[:limit]]


def memory_for_prompt(*, user, text: str, stored: tuple[str, list[tuple[str, str]]] | None = None) -> list[str]:
    """Lines of memory for the persona prompt: the rolling summary, then relevant facts (one query,
    or none when the caller read them: `stored` is rows.memory_lines' answer, e.g. from rows.prompt_reads)."""
    summary, facts = stored if stored is not None else rows.memory_lines(user_id=user.pk, facts_limit=FACTS_CONSIDERED)
    lines: list[str] = []
    if summary:
        lines.append(f"Earlier conversations with this user, summarised: {summary}")
    lines.extend(f"The user told you: {fact_text}" for _, fact_text in _ranked(facts, facts, text, None))
    return lines
