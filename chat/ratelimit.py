"""The chat's per-user rate limit: one async Redis round trip per message, on a shared connection.

Counted in a fixed window (digitalme/ratewindow.py) in Redis, so every process and platform
counts together.
"""

from __future__ import annotations

from django.conf import settings

from chat.errors import RateLimited
from digitalme.ratewindow import acount_hit


async def check_chat_rate(user_id: int) -> None:
    """Count one message of the user; RateLimited beyond CHAT_RATE_LIMIT per CHAT_RATE_WINDOW_S."""
    window = settings.CHAT_RATE_WINDOW_S
    hit = await acount_hit(f"chat:rate:{user_id}", window)
    if hit.count > settings.CHAT_RATE_LIMIT:
        raise RateLimited(
            f"Too many messages: at most {settings.CHAT_RATE_LIMIT} per {window} s. "
            f"Try again in {hit.retry_after_s} s.",
            retry_after_s=hit.retry_after_s,
        )
