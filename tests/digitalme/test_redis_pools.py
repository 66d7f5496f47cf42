"""A burst of sockets shares a few Redis connections per process (digitalme/redis_pools.py): 1,000
handshakes at once opened ≈ 1,000 connections and kept them. Counted by Redis itself (CLIENT LIST,
by the connections' names), not timed."""

from __future__ import annotations

import asyncio
import time
import uuid

import redis
from django.conf import settings
from django.test import override_settings

from digitalme.presence import presence_enter, presence_leave
from digitalme.ratewindow import acount_hit
from digitalme.redis_pools import RedisChannelLayer

BURST = 100


def _client_ids(name: str) -> set[str]:
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return {str(entry["id"]) for entry in client.client_list() if entry.get("name") == name}
    finally:
        client.close()


@override_settings(REDIS_ASYNC_MAX_CONNECTIONS=3)
async def test_a_burst_of_presence_and_rate_checks_waits_for_three_pooled_connections():
    before = _client_ids("digitalme-async")
    users = range(10**9, 10**9 + BURST)
    connections = [uuid.uuid4().hex for _ in users]
    prefix = f"test:burst:{uuid.uuid4().hex}"

    await asyncio.gather(
        *(presence_enter(user, connection) for user, connection in zip(users, connections, strict=True))
    )
    hits = await asyncio.gather(*(acount_hit(prefix, 60) for _ in users))
    opened = _client_ids("digitalme-async") - before
    await asyncio.gather(
        *(presence_leave(user, connection) for user, connection in zip(users, connections, strict=True))
    )

    assert sorted(hit.count for hit in hits)[-1] == BURST  # every one counted, none failed open
    assert 1 <= len(opened) <= 3


async def test_a_burst_of_group_joins_opens_at_most_the_layers_pool():
    name = f"dm-test-{uuid.uuid4().hex[:8]}"
    layer = RedisChannelLayer(
        hosts=[{"address": settings.REDIS_URL, "max_connections": 3, "client_name": name}],
        prefix=f"test:{uuid.uuid4().hex[:8]}",
    )
    channels = [await layer.new_channel() for _ in range(BURST)]
    try:
        # Before: channels-redis's own pool raised MaxConnectionsError past max_connections, so a
        # burst needed a pool as big as the burst (2,000) — and kept every connection it opened.
        await asyncio.gather(*(layer.group_add("burst", channel) for channel in channels))
        opened = _client_ids(name)
        await asyncio.gather(*(layer.group_discard("burst", channel) for channel in channels))
    finally:
        await layer.close_pools()

    assert 1 <= len(opened) <= 3


async def test_a_socket_closing_while_its_receive_pops_for_the_process_loses_no_message():
    """One receive per process pops every local channel's messages from Redis (channels-redis's
    receive lock); when the socket whose receive holds that lock closes just as Redis hands it a
    message for another socket, the message must still reach the other socket. Seen under load: a
    listening tab missed a message.created when an asking tab of another user disconnected."""
    prefix = f"test:{uuid.uuid4().hex[:8]}"
    layer = RedisChannelLayer(hosts=[{"address": settings.REDIS_URL}], prefix=prefix)
    closing, listening = await layer.new_channel(), await layer.new_channel()
    closing_receive = asyncio.ensure_future(layer.receive(closing))
    await asyncio.sleep(0.3)  # it holds the process's receive lock and waits in Redis's BZPOPMIN
    listening_receive = asyncio.ensure_future(layer.receive(listening))
    await asyncio.sleep(0.1)
    sync = redis.Redis.from_url(settings.REDIS_URL)
    try:
        # Another process sends (what channels-redis's send writes), while this process's loop is
        # busy: Redis pops the message for the lock holder at once and its reply waits in the
        # socket; the holder is cancelled (its socket closed) before it reads it.
        message = {"type": "message.created", "n": 1, "__asgi_channel__": listening}
        sync.zadd(prefix + layer.non_local_name(listening), {layer.serialize(message): time.time()})
        time.sleep(0.2)
        closing_receive.cancel()
        received = await asyncio.wait_for(listening_receive, 10)
    finally:
        for task in (closing_receive, listening_receive):
            task.cancel()
        sync.close()
        await layer.flush()
        await layer.close_pools()
    assert received == {"type": "message.created", "n": 1}
