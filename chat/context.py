"""Extra context for Ivan's prompt, filled by other apps (integrations) without chat importing them.

A provider is `provider(user, message_text) -> list[ContextItem]`, registered from the owning
app's AppConfig.ready(). Providers must only return data the user has enabled. An item's text
says what was seen, never when: its age is `observed_at`, rendered once by `digitalme.freshness`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContextItem:
    text: str  # one line Ivan can use, e.g. "PR #42 'auth' in acme/api merged at 09:12"
    source: str  # where it came from, e.g. "github", "calendar", "gmail"
    observed_at: datetime | None = None  # when the underlying data was synced (freshness)
    relevance: float = 0.0  # provider's own 0..1 estimate for this message


ContextProvider = Callable[[Any, str], list[ContextItem]]
_providers: dict[str, ContextProvider] = {}


def register_context_provider(name: str, provider: ContextProvider) -> None:
    _providers[name] = provider


def context_for(user: Any, message_text: str) -> list[ContextItem]:
    """All providers' items for this user and message; a failing provider is logged and skipped."""
    items: list[ContextItem] = []
    for name, provider in _providers.items():
        try:
            items.extend(provider(user, message_text))
        except Exception:
            logger.exception("context provider failed", extra={"provider": name})
    return sorted(items, key=lambda item: item.relevance, reverse=True)
