"""`/ws/chat/` fuzzed: random frames (tests/ws_fuzz.py) on a signed-in socket and on one that has not
signed in yet. Every answer is a documented frame, the consumer never crashes (a crash is a 1011
close through daphne, an exception here), and afterwards the same socket still answers a ping and
a real message — or it was closed with a documented code.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from hypothesis import given, settings

from chat.consumers import MAX_FRAME_CHARS
from tests.chat.conftest import access_token, communicator
from tests.factories import UserFactory
from tests.ws_fuzz import DOCUMENTED_CLOSE_CODES, FUZZ_SETTINGS, assert_documented, frames, send_frame

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("ivan")]

TIMEOUT_S = 20.0  # a bound on waiting, not a timing assertion: a loaded 2-core host is slow
EXAMPLES = 60  # connections per test, 1–4 fuzzed frames each
ATTEMPTS = 10
QUIET_S = 0.5  # how long a socket must stay silent before the valid message is sent again


@pytest.fixture(autouse=True)
def _generous_rate_limit(settings):
    settings.CHAT_RATE_LIMIT = 100_000  # the limiter has its own tests; here every frame reaches the consumer


async def _receive(comm) -> dict[str, Any] | None:
    """The next frame (checked), or None when the socket was closed with a documented code."""
    output = await comm.receive_output(timeout=TIMEOUT_S)
    if output["type"] == "websocket.close":
        assert output.get("code") in DOCUMENTED_CLOSE_CODES, output
        return None
    frame = json.loads(output["text"])
    assert_documented(frame)
    return frame


async def _still_usable(comm) -> bool:
    """ping → pong, then a real message is answered. A turn the fuzz started may still be running
    ("still answering"): then the socket is read until it has been quiet for a moment and the
    message is sent again. False when the socket was closed (with a documented code) on the way."""
    await comm.send_json_to({"type": "ping"})
    while (frame := await _receive(comm)) is not None:
        if frame["type"] == "pong":
            break
    else:
        return False
    for _ in range(ATTEMPTS):
        client_id = uuid.uuid4().hex
        await comm.send_json_to(
            {"type": "message", "conversation": None, "content": "still there?", "client_id": client_id}
        )
        while (frame := await _receive(comm)) is not None:
            if frame["type"] == "reply.end" and frame["message"].get("client_id") == client_id:
                return True
            if frame["type"] == "error" and "still answering" in frame["detail"]:
                break
        else:
            return False
        while not await comm.receive_nothing(timeout=QUIET_S):  # drain the fuzz turn's frames
            if await _receive(comm) is None:
                return False
    raise AssertionError(f"the socket did not answer a valid message in {ATTEMPTS} attempts")


async def _fuzz_socket(sent: list[tuple[str, Any]], token: str | None) -> None:
    comm = communicator()
    try:
        connected, _ = await comm.connect(timeout=TIMEOUT_S)
        assert connected
        if token:
            await comm.send_json_to({"type": "auth", "token": token})
            assert (await _receive(comm))["type"] == "ready"
        for frame in sent:
            await send_frame(comm, frame)
        if token:
            assert await _still_usable(comm), "a signed-in socket was closed by a frame"
        else:
            await comm.send_json_to({"type": "ping"})
            while (frame := await _receive(comm)) is not None and frame["type"] != "pong":
                pass
    finally:
        await comm.disconnect()


def _fuzzed_sockets(token: str | None) -> int:
    """EXAMPLES connections, each with 1–4 generated frames; returns how many ran."""
    sockets = []

    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES)
    @given(sent=frames(MAX_FRAME_CHARS))
    def exchange(sent):
        async_to_sync(_fuzz_socket)(sent, token)
        sockets.append(len(sent))

    exchange()
    return len(sockets)


def test_random_frames_on_a_signed_in_socket_get_documented_answers_and_the_socket_keeps_working():
    assert _fuzzed_sockets(access_token(UserFactory())) == EXAMPLES


def test_random_frames_before_signing_in_get_documented_answers_or_a_4401_close():
    assert _fuzzed_sockets(None) == EXAMPLES


@pytest.mark.parametrize(
    "fields",
    [
        {"content": "nul \x00 inside"},
        {"content": "lone surrogate \ud800 inside"},
        {"content": "hello", "client_id": "nul-\x00"},
    ],
    ids=["content-nul", "content-surrogate", "client-id-nul"],
)
def test_text_postgresql_cannot_store_is_a_bad_request_and_the_socket_keeps_working(fields):
    """Found by the fuzz above: these were `server_error` frames (PostgreSQL refused the INSERT)."""
    token = access_token(UserFactory())

    async def exchange() -> dict[str, Any] | None:
        comm = communicator()
        try:
            await comm.connect(timeout=TIMEOUT_S)
            await comm.send_json_to({"type": "auth", "token": token})
            await _receive(comm)
            await comm.send_to(text_data=json.dumps({"type": "message", "conversation": None, **fields}))
            answer = await _receive(comm)
            assert await _still_usable(comm)
            return answer
        finally:
            await comm.disconnect()

    answer = async_to_sync(exchange)()

    assert answer is not None and answer["type"] == "error" and answer["code"] == "bad_request"
