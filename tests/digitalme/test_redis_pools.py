"""A burst of sockets shares a few Redis connections per process (digitalme/redis_pools.py): 1,000
handshakes at once opened ≈ 1,000 connections and kept them. Counted by Redis itself (CLIENT LIST,
by the connections' names), not timed."""

from __future__ import annotations

import asyncio
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
