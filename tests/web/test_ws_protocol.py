"""What only a real daphne can show about hostile WebSocket frames (docs/API.md, "Close codes"): a
text frame that isn't UTF-8 and a message over daphne's 1 MB cap are refused by the protocol layer
(autobahn fails the connection by dropping it: no close frame, the client sees 1006) before the app
sees either — and the server goes on serving. The app-level fuzzing is
tests/chat/test_consumer_fuzz.py."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

DAPHNE_MAX_MESSAGE = 1024 * 1024
TIMEOUT_S = 20.0  # a bound on waiting, not a timing assertion


def _socket(base_url: str):
    return connect(
        base_url.replace("http://", "ws://") + "/ws/chat/",
        origin=base_url,
        compression=None,  # sizes on the wire are the sizes sent
        proxy=None,
        open_timeout=TIMEOUT_S,
        max_size=None,
    )


def _ending_after(base_url: str, data: bytes | str, *, text: bool) -> int | str:
    """The close code the server sent, or "dropped" when it closed TCP without a close frame."""
    with _socket(base_url) as ws:
        ws.send(data, text=text)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=TIMEOUT_S)
    return closed.value.rcvd.code if closed.value.rcvd else "dropped"


def _answers_a_ping(base_url: str) -> bool:
    with _socket(base_url) as ws:
        ws.send(json.dumps({"type": "ping"}))
        return json.loads(ws.recv(timeout=TIMEOUT_S)) == {"type": "pong"}


def test_a_text_frame_that_is_not_utf8_drops_the_connection_and_the_server_goes_on(daphne_server):
    assert _ending_after(daphne_server, b'{"type": "ping", "x": "\xff\xfe"}', text=True) == "dropped"
    assert _answers_a_ping(daphne_server)


def test_a_message_over_the_1_mb_cap_drops_the_connection_and_the_server_goes_on(daphne_server):
    assert _ending_after(daphne_server, "x" * (DAPHNE_MAX_MESSAGE + 1), text=True) == "dropped"
    assert _answers_a_ping(daphne_server)
