"""The chat's per-user rate window: one async Redis round trip per message, on a shared connection.

A fixed window per user in Redis (INCR, and EXPIRE NX on the first hit, pipelined into one round
trip), so every process and platform counts together; the connection pool is one per event loop
(daphne runs one) instead of a new connection per check. Without Redis (`make run` on SQLite)
the local cache counts instead — one process, nothing to share. An unreachable Redis lets the
message through, like every limiter in the cache (digitalme/cache.py): an outage degrades the
limit, not the chat.
"""

from __future__ import annotations

import asyncio
import time
import weakref

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from chat.errors import RateLimited
from digitalme.cache import fail_open

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, object] = weakref.WeakKeyDictionary()


def _redis():  # -> redis.asyncio.Redis, bound to the running loop
    from redis import asyncio as aioredis

    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = aioredis.Redis.from_url(settings.REDIS_URL)
    return client


def window_slot(window_s: int, now: float | None = None) -> tuple[int, int]:
    """(the current window's number, seconds until it ends): one definition of a rate window."""
    now = time.time() if now is None else now
    return int(now // window_s), max(1, int(window_s - now % window_s))


async def _hits(key: str, window_s: int) -> int:
    if settings.REDIS_URL:
        pipe = _redis().pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, window_s + 1, nx=True)
        try:
            count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            fail_open("chat_rate", exc)
            return 1
        return int(count)
    if cache.add(key, 1, timeout=window_s + 1):  # local memory: no I/O, safe on the loop
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=window_s + 1)
        return 1


async def check_chat_rate(user_id: int) -> None:
    """Count one message of the user; RateLimited beyond CHAT_RATE_LIMIT per CHAT_RATE_WINDOW_S."""
    window = settings.CHAT_RATE_WINDOW_S
    slot, retry_after = window_slot(window)
    count = await _hits(f"chat:rate:{user_id}:{slot}", window)
    if count > settings.CHAT_RATE_LIMIT:
        raise RateLimited(
            f"Too many messages: at most {settings.CHAT_RATE_LIMIT} per {window} s. Try again in {retry_after} s.",
            retry_after_s=retry_after,
        )
