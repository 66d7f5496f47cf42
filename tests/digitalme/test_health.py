"""Liveness and readiness against the real PostgreSQL, Redis, channel layer and broker."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_liveness_is_ok_without_io(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_readiness_is_ok_with_everything_up(client):
    response = client.get("/health/ready/")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] in ("ok", "degraded")
    for name in ("database", "cache", "channel_layer", "broker"):
        assert body["checks"][name]["status"] == "ok", body
        assert body["checks"][name]["latency_ms"] >= 0


async def test_channel_layer_check_answers_while_a_socket_holds_the_process_receive_loop():
    """An open socket's consumer sits in `receive()` on its process-local channel, holding the
    layer's one receive loop (it reads only `specific.<process>!`). The probe's reply must come
    through that loop: a probe on its own local channel prefix (as before) waited for a lock the
    socket never gives back, so readiness said `channel_layer: down` while pushes still arrived.
    """
    from channels.layers import get_channel_layer

    from digitalme.health import check_channel_layer

    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"
    socket_channel = await layer.new_channel()
    idle_socket = asyncio.ensure_future(layer.receive(socket_channel))
    try:
        for _ in range(200):  # let it take the receive loop and block in Redis (BZPOPMIN)
            if layer.receive_lock is not None and layer.receive_lock.locked():
                break
            await asyncio.sleep(0.01)
        assert layer.receive_lock.locked()
        for _ in range(3):  # and again: a probe leaves nothing behind that breaks the next one
            # The wait bounds a hang (the bug), it measures nothing.
            assert await asyncio.wait_for(check_channel_layer(), timeout=30) == {"backend": "RedisChannelLayer"}
        await layer.send(socket_channel, {"type": "chat.push"})
        assert (await asyncio.wait_for(idle_socket, timeout=30))["type"] == "chat.push"
    finally:
        idle_socket.cancel()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db(transaction=True)
def test_readiness_is_503_when_redis_is_down():
    """A separate process whose REDIS_URL points at a closed port: cache, layer and broker fail."""
    from django.db import connection

    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0", "DATABASE_URL": database_url}
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/health/ready/');"
        "print(json.dumps({'status_code': r.status_code, 'body': r.json()}))"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status_code"] == 503
    assert result["body"]["status"] == "down"
    assert result["body"]["checks"]["cache"]["status"] == "down"
    assert result["body"]["checks"]["channel_layer"]["status"] == "down"
    assert result["body"]["checks"]["database"]["status"] == "ok"
