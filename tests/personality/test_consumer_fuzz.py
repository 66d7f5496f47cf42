"""`/ws/persona/<slug>/` fuzzed: the public, read-only socket answers any frame (tests/ws_fuzz.py) with
a documented `error` frame or a pong, never crashes, and still answers a ping afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from hypothesis import given, settings

from digitalme.asgi import application
from tests.personality.test_consumers import ORIGIN
from tests.ws_fuzz import FUZZ_SETTINGS, assert_documented, frames, send_frame

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("ivan")]

TIMEOUT_S = 20.0  # a bound on waiting, not a timing assertion
EXAMPLES = 60
FRAME_CAP = 1_000_000  # the socket has no cap of its own: daphne's websocket_max_message_size


async def _fuzz_socket(sent: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Sends the frames, then a ping; returns the answers (one per frame sent)."""
    comm = WebsocketCommunicator(application, "/ws/persona/ivan/", headers=[ORIGIN])
    try:
        connected, _ = await comm.connect(timeout=TIMEOUT_S)
        assert connected
        assert (await comm.receive_json_from(timeout=TIMEOUT_S))["type"] == "ready"
        for frame in sent:
            await send_frame(comm, frame)
        await comm.send_json_to({"type": "ping"})
        answers = []
        for _ in range(len(sent) + 1):
            output = await comm.receive_output(timeout=TIMEOUT_S)
            assert output["type"] == "websocket.send", output  # never closed, never crashed
            answers.append(json.loads(output["text"]))
        return answers
    finally:
        await comm.disconnect()


def test_random_frames_get_documented_answers_and_the_socket_still_answers_a_ping():
    sockets = []

    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES)
    @given(sent=frames(FRAME_CAP))
    def exchange(sent):
        answers = async_to_sync(_fuzz_socket)(sent)
        for answer in answers:
            assert_documented(answer)
        assert answers[-1] == {"type": "pong"}  # the ping after the fuzz: the socket still works
        sockets.append(len(sent))

    exchange()

    assert len(sockets) == EXAMPLES
