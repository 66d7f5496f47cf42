"""The benchmark's echo floor: off unless BENCH_ECHO_ENABLED; when on, the chat frames, no DB."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from digitalme.asgi import application
from loadtest.client import ECHO_TOKENS

ORIGIN = [(b"origin", b"http://localhost")]


@pytest.mark.django_db(transaction=True)  # Channels closes old DB connections around every event
async def test_echo_socket_is_refused_unless_enabled(settings):
    settings.BENCH_ECHO_ENABLED = False
    communicator = WebsocketCommunicator(application, "/ws/bench/echo/", headers=ORIGIN)
    connected, code = await communicator.connect()
    assert not connected
    assert code == 4404
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_enabled_echo_streams_a_40_token_turn(settings):
    settings.BENCH_ECHO_ENABLED = True
    communicator = WebsocketCommunicator(application, "/ws/bench/echo/", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "auth", "token": "anything"})
    assert (await communicator.receive_json_from())["type"] == "ready"
    await communicator.send_json_to({"type": "message", "conversation": None, "content": "hi", "client_id": "c1"})
    frames = [await communicator.receive_json_from() for _ in range(len(ECHO_TOKENS) + 3)]
    assert [frame["type"] for frame in frames[:2]] == ["message.created", "reply.start"]
    assert "".join(frame["delta"] for frame in frames[2:-1]) == frames[-1]["message"]["content"]
    assert frames[-1]["type"] == "reply.end"
    await communicator.send_json_to({"type": "nonsense"})
    assert (await communicator.receive_json_from())["code"] == "bad_request"
    await communicator.disconnect()
