"""Redis connections of a web process, bounded: a burst waits for a pooled connection instead of
opening one per socket.

redis-py's asyncio pools open a new connection whenever every pooled one is busy (up to
`max_connections`, unbounded by default, and then they *raise*). A thousand WebSocket handshakes at
once — each joining three channel-layer groups and marking presence — opened ≈ 1,000 connections per
process, kept open afterwards: ≈ 10 KB of Python objects and buffers each in the process, a file
descriptor each, and N × 1,000 clients on Redis (docs/QUALITY.md, memory of a web process). Here
both the channel layer and the process's own async client (presence, the chat's rate window) use
`BlockingConnectionPool`: at most `max_connections` at a time, others wait up to a timeout for one.
Every command is one short round trip (the layer's blocking read holds one connection, only one per
process), so a few dozen connections serve a burst of thousands of handshakes.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer
from django.conf import settings
from redis import asyncio as aioredis

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


def async_redis() -> aioredis.Redis:
    """The process's async Redis client on the running loop (one per loop: tests run each case on
    its own), over a bounded pool of `REDIS_ASYNC_MAX_CONNECTIONS`."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=settings.REDIS_ASYNC_MAX_CONNECTIONS,
            timeout=settings.REDIS_ASYNC_POOL_TIMEOUT_S,  # waiting for a free pooled connection
            socket_connect_timeout=2,
            socket_timeout=5,
            client_name="digitalme-async",  # CLIENT LIST tells these from the layer's and the cache's
        )
        client = _clients[loop] = aioredis.Redis(connection_pool=pool)
    return client


class RedisChannelLayer(_RedisChannelLayer):
    """channels-redis with a blocking pool per host: `max_connections` (CHANNEL_LAYER_MAX_CONNECTIONS)
    is the most it opens, and a command waits up to `pool_timeout` s for one (then raises, as
    channels-redis's own pool did at once when full)."""

    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        address = host.pop("address")
        wait_s = host.pop("pool_timeout", 20)
        return aioredis.BlockingConnectionPool.from_url(address, timeout=wait_s, **host)
