"""The Redis cache, failing open: a Redis outage degrades rate limits and caches, not log-in.

Rate limits (DRF throttles, allauth's log-in limits, the chat and Telegram limiters), readiness
caching and locks all live in the cache. With Django's RedisCache an unreachable Redis raises
from every one of them, so log-in and chat became 500s. Here each operation that fails with a
Redis or socket error answers as if the key were absent — `get` → default, `add` → True (a
counter starts, a lock is granted: limiters, allauth's included, let the request through; two
holders of a lock may overlap during the outage), `incr` → `delta` (a counter starts again) —
with a warning (at most one per operation every 10 s per process) and
`dm_cache_failures_total{operation}`. /health/ready/'s cache check still reports the outage (it
reads back what it wrote).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from digitalme.metrics import record_cache_failure

logger = logging.getLogger(__name__)

_WARN_EVERY_S = 10.0
_last_warning: dict[str, float] = {}


def fail_open(operation: str, exc: BaseException) -> None:
    """Record a Redis operation that failed and was let through (shared by the chat's rate window)."""
    record_cache_failure(operation=operation)
    now = time.monotonic()
    if now - _last_warning.get(operation, 0.0) >= _WARN_EVERY_S:
        _last_warning[operation] = now
        logger.warning("cache unavailable; failing open", extra={"operation": operation, "error": type(exc).__name__})


# Connection pools by server and options, for the whole process. Django builds a cache object (and
# with it a client and its pools) per thread; a Celery worker handles each Telegram update in a
# thread of its own, so each update opened a new Redis connection (HELLO, CLIENT SETINFO ×2,
# SELECT: four round trips before its first command). redis-py's pools are thread-safe and reset
# themselves in a forked child.
_pools: dict[tuple[str, str], Any] = {}
_pools_lock = threading.Lock()


class FailOpenRedisCacheClient(RedisCacheClient):
    def _errors(self) -> tuple[type[BaseException], ...]:
        return (self._lib.RedisError, OSError)  # type: ignore[attr-defined]  # set by RedisCacheClient

    def _get_connection_pool(self, write: bool) -> Any:
        server = self._servers[self._get_connection_pool_index(write)]  # type: ignore[attr-defined]
        key = (server, repr(sorted(self._pool_options.items())))  # type: ignore[attr-defined]
        pool = _pools.get(key)
        if pool is None:
            with _pools_lock:
                pool = _pools.get(key)
                if pool is None:
                    pool = _pools[key] = self._pool_class.from_url(server, **self._pool_options)  # type: ignore[attr-defined]
        return pool

    def incr_window(self, key: Any, timeout: int) -> int:
        """Count a hit of a rate window: INCR and EXPIRE NX in one round trip (the window's
        first hit starts the key's life); a Redis outage counts the hit as the first."""
        pipe = self.get_client(key, write=True).pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, timeout, nx=True)
        try:
            count, _ = pipe.execute()
        except self._errors() as exc:
            fail_open("incr_window", exc)
            return 1
        return int(count)

    def add(self, key: Any, value: Any, timeout: Any) -> bool:
        try:
            return super().add(key, value, timeout)
        except self._errors() as exc:
            fail_open("add", exc)
            return True

    def get(self, key: Any, default: Any) -> Any:
        try:
            return super().get(key, default)
        except self._errors() as exc:
            fail_open("get", exc)
            return default

    def set(self, key: Any, value: Any, timeout: Any) -> None:
        try:
            super().set(key, value, timeout)
        except self._errors() as exc:
            fail_open("set", exc)

    def touch(self, key: Any, timeout: Any) -> bool:
        try:
            return super().touch(key, timeout)
        except self._errors() as exc:
            fail_open("touch", exc)
            return False

    def delete(self, key: Any) -> bool:
        try:
            return super().delete(key)
        except self._errors() as exc:
            fail_open("delete", exc)
            return False

    def get_many(self, keys: Any) -> dict:
        try:
            return super().get_many(keys)
        except self._errors() as exc:
            fail_open("get_many", exc)
            return {}

    def has_key(self, key: Any) -> bool:
        try:
            return super().has_key(key)
        except self._errors() as exc:
            fail_open("has_key", exc)
            return False

    def incr(self, key: Any, delta: int) -> int:
        try:
            return super().incr(key, delta)
        except self._errors() as exc:
            fail_open("incr", exc)
            return delta

    def set_many(self, data: Any, timeout: Any) -> None:
        try:
            super().set_many(data, timeout)
        except self._errors() as exc:
            fail_open("set_many", exc)

    def delete_many(self, keys: Any) -> None:
        try:
            super().delete_many(keys)
        except self._errors() as exc:
            fail_open("delete_many", exc)

    def clear(self) -> bool:
        try:
            return super().clear()
        except self._errors() as exc:
            fail_open("clear", exc)
            return False


class FailOpenRedisCache(RedisCache):
    def __init__(self, server: Any, params: dict) -> None:
        super().__init__(server, params)
        self._class = FailOpenRedisCacheClient

    def incr_window(self, key: str, timeout: int) -> int:
        return self._cache.incr_window(self.make_and_validate_key(key), timeout)  # type: ignore[attr-defined]
