"""Liveness and readiness.

Apps add checks with `register_check` from their AppConfig.ready(); a failing required check
makes readiness 503, a failing optional one makes it "degraded".
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

from digitalme.throttling import HealthReadyThrottle, throttle_response

CheckResult = dict[str, Any]
CHECK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class HealthCheck:
    name: str
    run: Callable[[], Awaitable[dict[str, Any] | None]]
    required: bool = True


_checks: dict[str, HealthCheck] = {}


def register_check(name: str, run: Callable[[], Awaitable[dict | None]], *, required: bool = True) -> None:
    """Register an async check; it raises (or times out) when the dependency is down."""
    _checks[name] = HealthCheck(name=name, run=run, required=required)


async def _timed(check: HealthCheck) -> CheckResult:
    started = time.perf_counter()
    try:
        extra = await asyncio.wait_for(check.run(), timeout=CHECK_TIMEOUT_S)
        result: CheckResult = {"status": "ok"}
        if extra:
            result.update(extra)
    except TimeoutError:
        result = {"status": "down", "error": f"no answer within {CHECK_TIMEOUT_S:.0f}s"}
    except Exception as exc:  # noqa: BLE001 - any failure means the dependency is down
        result = {"status": "down", "error": type(exc).__name__}
    result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    result["required"] = check.required
    return result


async def run_checks() -> tuple[str, dict[str, CheckResult]]:
    checks = list(_checks.values())
    results = await asyncio.gather(*(_timed(check) for check in checks))
    by_name = dict(zip((c.name for c in checks), results, strict=True))
    if any(r["status"] != "ok" and r["required"] for r in by_name.values()):
        overall = "down"
    elif any(r["status"] != "ok" for r in by_name.values()):
        overall = "degraded"
    else:
        overall = "ok"
    return overall, by_name


async def liveness(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


async def readiness(request: HttpRequest) -> JsonResponse:
    # Each probe runs every check (database, cache, broker, …): per client IP it is throttled, so
    # the public endpoint cannot be turned into load on the stores behind it.
    refused = await sync_to_async(throttle_response)(request, [HealthReadyThrottle])
    if refused is not None:
        return refused
    overall, checks = await run_checks()
    return JsonResponse({"status": overall, "checks": checks}, status=503 if overall == "down" else 200)


# --- the foundation's own checks -------------------------------------------------------------


def _database_ping() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def check_database() -> dict:
    await sync_to_async(_database_ping, thread_sensitive=True)()
    return {"vendor": connection.vendor}


async def check_cache() -> dict:
    key = f"health:{uuid.uuid4().hex}"
    await cache.aset(key, "1", timeout=5)
    if await cache.aget(key) != "1":
        raise RuntimeError("cache did not return the value it stored")
    await cache.adelete(key)
    return {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


async def check_channel_layer() -> dict:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")
    # The default prefix on purpose: channels_redis runs ONE receive loop per process, reading only
    # `specific.<process>!`; an open socket's consumer holds it while idle. A channel with its own
    # prefix ("health.") was never read by that loop, so with any socket open the probe waited for
    # the loop's lock until its timeout: `channel_layer: down` while pushes still arrived.
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "health.ping"})
    message = await layer.receive(channel)
    if message.get("type") != "health.ping":
        raise RuntimeError("channel layer round trip returned the wrong message")
    return {"backend": type(layer).__name__}


def _broker_ping() -> str:
    from digitalme.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else type(conn.transport).__name__


async def check_broker() -> dict:
    transport = await sync_to_async(_broker_ping, thread_sensitive=False)()
    return {"transport": transport}


register_check("database", check_database)
register_check("cache", check_cache)
register_check("channel_layer", check_channel_layer)
register_check("broker", check_broker)
