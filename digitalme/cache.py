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


class FailOpenRedisCacheClient(RedisCacheClient):
    def _errors(self) -> tuple[type[BaseException], ...]:
        return (self._lib.RedisError, OSError)  # type: ignore[attr-defined]  # set by RedisCacheClient

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
