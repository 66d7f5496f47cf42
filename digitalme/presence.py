"""Which users have a chat page open right now, across every web process.

Web Push is for a user with no open tab: the open page already shows the reply (and notifies
itself when it is hidden). `PresenceMiddleware` wraps the WebSocket router: every accepted
`/ws/chat/` socket of a signed-in (session) user is a member of a Redis sorted set
`presence:<user id>` scored by its expiry; any frame the page sends (it pings every 25 s) moves
the expiry on, the close removes it. A process that dies leaves members that simply expire.
Without Redis (the single-process `make run`) the set lives in this process's memory.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import redis
from django.conf import settings

from digitalme.redis_pools import async_redis

logger = logging.getLogger(__name__)

# A page pings every 25 s; a member not refreshed for this long belongs to a vanished socket.
PRESENCE_TTL_S = 70
REFRESH_EVERY_S = 20
TRACKED_PATHS = ("/ws/chat/",)

_memory: dict[int, dict[str, float]] = {}


def _key(user_id: int) -> str:
    return f"dm:presence:{user_id}"


async def presence_enter(user_id: int, connection_id: str) -> None:
    expires = time.time() + PRESENCE_TTL_S
    if not settings.REDIS_URL:
        _memory.setdefault(user_id, {})[connection_id] = expires
        return
    async with async_redis().pipeline(transaction=True) as pipe:
        pipe.zadd(_key(user_id), {connection_id: expires})
        pipe.expire(_key(user_id), PRESENCE_TTL_S * 2)
        await pipe.execute()


async def presence_leave(user_id: int, connection_id: str) -> None:
    if not settings.REDIS_URL:
        _memory.get(user_id, {}).pop(connection_id, None)
        return
    await async_redis().zrem(_key(user_id), connection_id)


def user_has_open_page(user_id: int) -> bool:
    """True when some process holds a live chat socket of this user (sync: Celery tasks)."""
    now = time.time()
    if not settings.REDIS_URL:
        return any(expires > now for expires in _memory.get(user_id, {}).values())
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        with client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(_key(user_id), "-inf", now)
            pipe.zcard(_key(user_id))
            _, count = pipe.execute()
    finally:
        client.close()
    return bool(count)


class PresenceMiddleware:
    """ASGI middleware inside the auth middleware (it reads `scope["user"]`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        user = scope.get("user")
        user_id = getattr(user, "pk", None) if getattr(user, "is_authenticated", False) else None
        if scope["type"] != "websocket" or user_id is None or not scope.get("path", "").startswith(TRACKED_PATHS):
            return await self.inner(scope, receive, send)

        connection_id = uuid.uuid4().hex
        state = {"present": False, "refreshed": 0.0}

        async def mark(present: bool) -> None:
            try:
                if present:
                    await presence_enter(user_id, connection_id)
                    state["refreshed"] = time.monotonic()
                else:
                    await presence_leave(user_id, connection_id)
                state["present"] = present
            except Exception:  # presence only decides whether to push; the socket must work without it
                logger.warning("presence update failed", exc_info=True, extra={"user_id": user_id})

        async def tracking_send(message: dict) -> None:
            await send(message)
            if message["type"] == "websocket.accept":
                await mark(True)
            elif message["type"] == "websocket.close" and state["present"]:
                await mark(False)

        async def tracking_receive() -> dict:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                if state["present"]:
                    await mark(False)
            elif state["present"] and time.monotonic() - float(state["refreshed"]) > REFRESH_EVERY_S:
                await mark(True)
            return message

        try:
            return await self.inner(scope, tracking_receive, tracking_send)
        finally:
            if state["present"]:
                await mark(False)
