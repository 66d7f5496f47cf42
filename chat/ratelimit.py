"""The chat's per-user rate limit: one async Redis round trip per message, on a shared connection.

Counted in a fixed window (digitalme/ratewindow.py) in Redis, so every process and platform
counts together. The turn sends its reply's claim in the same round trip (`also`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from chat.errors import RateLimited
from digitalme.ratewindow import Hit, acount_hit


async def count_chat_message(user_id: int, *, also: Callable[[Any], object] | None = None) -> Hit:
    """Count one message of the user in the current window (`also`: ratewindow.acount_hit's)."""
    return await acount_hit(f"chat:rate:{user_id}", settings.CHAT_RATE_WINDOW_S, also=also)


def raise_if_limited(hit: Hit) -> None:
    """RateLimited beyond CHAT_RATE_LIMIT messages per CHAT_RATE_WINDOW_S."""
    if hit.count > settings.CHAT_RATE_LIMIT:
        raise RateLimited(
            f"Too many messages: at most {settings.CHAT_RATE_LIMIT} per {settings.CHAT_RATE_WINDOW_S} s. "
            f"Try again in {hit.retry_after_s} s.",
            retry_after_s=hit.retry_after_s,
        )
