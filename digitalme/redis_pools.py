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
import logging
import time
import weakref
from typing import Any

from channels_redis.core import ChannelLock
from channels_redis.core import RedisChannelLayer as _RedisChannelLayer
from django.conf import settings
from redis import asyncio as aioredis

logger = logging.getLogger(__name__)

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
    channels-redis's own pool did at once when full); and a cheaper group_send that can leave out
    the sending socket."""

    sends_to_group_except = True  # group_send(..., exclude=channel): digitalme.realtime asks for it

    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        address = host.pop("address")
        wait_s = host.pop("pool_timeout", 20)
        return aioredis.BlockingConnectionPool.from_url(address, timeout=wait_s, **host)

    async def receive_single(self, channel: str) -> tuple[Any, dict[str, Any]]:
        """channels-redis's receive_single, except that a cancelled receive loses no message.

        One receive per process (the one holding channels-redis's receive lock) pops messages for
        every socket of the process. When its socket closes, that receive is cancelled; if Redis had
        just handed it a message (for any socket of the process), redis-py dropped the reply with
        the connection, and the message was gone (seen under load: another tab missed a
        message.created; django/channels#1683). Here the pop in flight runs to its end, shielded,
        so what it got lands in the channel's in-flight backup (the library's own safety net),
        and the channel's clean lock is held until then: the next receive's first step moves the
        backup back into the queue and pops it as usual."""
        if "!" not in channel:  # not process-local: the library's receive, unchanged
            return await super().receive_single(channel)
        index = self.consistent_hash(channel)
        channel_key = self.prefix + channel
        loop = asyncio.get_running_loop()
        if getattr(self, "_clean_locks_loop", loop) is not loop:
            # A pop in flight when its loop stopped (a test's loop) never released its lock.
            self.receive_clean_locks = ChannelLock()
        self._clean_locks_loop = loop
        await self.receive_clean_locks.acquire(channel_key)
        content = None
        try:
            while content is None:
                pop = asyncio.ensure_future(self._brpop_with_clean(index, channel_key, timeout=self.brpop_timeout))
                try:
                    content = await asyncio.shield(pop)
                except asyncio.CancelledError:
                    pop.add_done_callback(lambda done: self._release_after_pop(done, channel_key))
                    raise
        except asyncio.CancelledError:
            raise  # the pop in flight releases the clean lock when it ends
        except BaseException:
            self.receive_clean_locks.release(channel_key)
            raise
        # As the library: drop the message from the backup, then free the clean lock.
        cleaner = asyncio.ensure_future(self._clean_receive_backup(index, channel_key))
        self.receive_cleaners.append(cleaner)

        def cleaned(done: asyncio.Future[Any]) -> None:
            self.receive_cleaners.remove(done)
            self.receive_clean_locks.release(channel_key)

        cleaner.add_done_callback(cleaned)
        message = self.deserialize(content)
        return message.pop("__asgi_channel__", channel), message

    def _release_after_pop(self, pop: asyncio.Future[Any], channel_key: str) -> None:
        if not pop.cancelled() and pop.exception() is not None:
            logger.info("channel layer: a cancelled receive's pop failed: %s", type(pop.exception()).__name__)
        self.receive_clean_locks.release(channel_key)

    async def group_send(self, group: str, message: dict[str, Any], *, exclude: str | None = None) -> None:
        """channels-redis's group_send in two Redis round trips instead of four, and without the
        channel `exclude` (the socket that sent the event itself; none left: one round trip).

        Same semantics as the library's: members older than group_expiry are dropped, each
        channel's expired messages too, a channel over capacity loses this message (logged). The
        per-channel expiry runs inside the script that adds the message, not in a pipeline before it."""
        assert self.require_valid_group_name(group), "Group name not valid"
        key = self._group_key(group)
        pipe = self.connection(self.consistent_hash(group)).pipeline(transaction=False)
        pipe.zremrangebyscore(key, min=0, max=int(time.time()) - self.group_expiry)
        pipe.zrange(key, 0, -1)
        _, members = await pipe.execute()
        channel_names = [name for name in (member.decode("utf8") for member in members) if name != exclude]
        if not channel_names:
            return
        by_connection, messages, capacities = self._map_channel_keys_to_connection(channel_names, message)
        for index, channel_keys in by_connection.items():
            now = time.time()
            over_capacity = await self.connection(index).eval(
                _GROUP_SEND_LUA,
                len(channel_keys),
                *channel_keys,
                *(messages[channel_key] for channel_key in channel_keys),
                *(capacities[channel_key] for channel_key in channel_keys),
                now,
                self.expiry,
                int(now) - int(self.expiry),
            )
            if over_capacity > 0:
                logger.info("%s of %s channels over capacity in group %s", over_capacity, len(channel_names), group)


# KEYS: the channels' keys; ARGV: their messages, their capacities, then now, expiry, expired-before.
_GROUP_SEND_LUA = """
local over_capacity = 0
local current_time = ARGV[#ARGV - 2]
local expiry = ARGV[#ARGV - 1]
local expired_before = ARGV[#ARGV]
for i=1,#KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, expired_before)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
        redis.call('ZADD', KEYS[i], current_time, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""
