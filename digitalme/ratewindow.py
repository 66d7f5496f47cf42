"""Fixed rate windows: one definition of "N per window" for every limiter that counts hits.

A window is `int(now // window_s)`; a key carries the window's number, so a count starts at 0 in
each window and its key expires a second after the window ends. The chat's per-user limit counts
with one pipelined round trip on a shared async Redis connection (`acount_hit`, which can carry a
caller's own commands in the same round trip); sync callers (Telegram's per-chat limit, run in the
worker) count in the cache (`count_hit`: the same INCR + EXPIRE NX in one round trip on the
process's shared pool), which fails open when Redis is down (digitalme/cache.py); `acount_hit`
fails open the same way (the hit counts as the
window's first, with the cache's warning and metric). Without Redis (`make run` on SQLite) both count in the
local cache — one process, nothing to share.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from redis.exceptions import RedisError

from digitalme.cache import FailOpenRedisCache, fail_open
from digitalme.redis_pools import async_redis


@dataclass(frozen=True)
class Hit:
    count: int  # hits in the current window, this one included
    retry_after_s: int  # seconds until the window ends
    # acount_hit's `also`: its commands' results, in order; None when they did not run on Redis
    # (no Redis configured, or it failed: the caller falls back as it would without Redis)
    also: list[Any] | None = None


def window_slot(window_s: int, now: float | None = None) -> tuple[int, int]:
    """(the current window's number, seconds until it ends, at least 1)."""
    now = time.time() if now is None else now
    return int(now // window_s), max(1, int(window_s - now % window_s))


def _cache_hit(key: str, window_s: int) -> int:
    backend = caches["default"]
    if isinstance(backend, FailOpenRedisCache):  # Redis: one round trip on the process's pool
        return backend.incr_window(key, window_s + 1)
    if cache.add(key, 1, timeout=window_s + 1):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=window_s + 1)
        return 1


def count_hit(prefix: str, window_s: int, *, now: float | None = None) -> Hit:
    """Count one hit of `prefix` (e.g. "tg:rate:<chat id>") in the current window, in the cache."""
    slot, retry_after = window_slot(window_s, now)
    return Hit(_cache_hit(f"{prefix}:{slot}", window_s), retry_after)


async def acount_hit(
    prefix: str, window_s: int, *, now: float | None = None, also: Callable[[Any], object] | None = None
) -> Hit:
    """The same count from the event loop: INCR + EXPIRE NX in one Redis round trip.

    `also(pipeline)` may queue more commands for that same round trip (the chat turn takes its
    reply's claim with the count): their results come back in `Hit.also`."""
    slot, retry_after = window_slot(window_s, now)
    key = f"{prefix}:{slot}"
    if not settings.REDIS_URL:
        return Hit(_cache_hit(key, window_s), retry_after)  # local memory: no I/O, safe on the loop
    pipe = async_redis().pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, window_s + 1, nx=True)
    if also is not None:
        also(pipe)
    try:
        count, _, *extra = await pipe.execute()
    except (RedisError, OSError) as exc:  # an outage degrades the limit, not the chat
        fail_open("rate_window", exc)
        return Hit(1, retry_after)
    return Hit(int(count), retry_after, extra if also is not None else None)
