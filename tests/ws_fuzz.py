"""Hypothesis strategies for WebSocket frame fuzzing (tests/chat/test_consumer_fuzz.py,
tests/personality/test_consumer_fuzz.py), and the rule every answer must follow.

Frames are what a hostile or broken client can send: random JSON of any shape (huge integers,
floats, NaN, lone surrogates, NUL characters), objects that look like our frames with wrong types
in every field, text that is not JSON, nesting deep enough to break a recursive decoder, sizes
around the frame cap, and binary frames (random bytes, invalid UTF-8, valid JSON sent as binary).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

# The `error` codes docs/API.md documents for sockets; anything else (server_error above all) is a bug.
DOCUMENTED_ERROR_CODES = {
    "bad_request",
    "too_long",
    "not_found",
    "rate_limited",
    "llm_unavailable",
    "blocked",
    "in_progress",
    "session_ended",
    "unavailable",
}
# Close codes a socket may end with (docs/API.md): 4401 not authenticated / session ended,
# 4404 unknown persona, 1013 realtime layer down. Never 1011 (the server crashed).
DOCUMENTED_CLOSE_CODES = {4401, 4404, 1013}

FUZZ_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)

_POISON = ["\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "\\", '"']
_any_text = st.text(
    alphabet=st.one_of(
        st.characters(),  # any code point but surrogates, NUL included
        st.characters(categories=["Cs"]),  # lone surrogates: valid in JSON escapes, not in UTF-8
    ),
    max_size=64,
)
# Half of all strings carry something a database, an encoder or a terminal may choke on.
_strange_text = _any_text | st.builds(
    lambda a, poison, b: a + poison + b, _any_text, st.sampled_from(_POISON), _any_text
)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    _strange_text,
)
json_values = st.recursive(
    _leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_strange_text, children, max_size=4),
    max_leaves=16,
)
_frame_types = st.sampled_from(["message", "stop", "ping", "auth", "persona", ""]) | json_values
# Objects shaped like the protocol's frames, every field any JSON value.
frame_objects = st.fixed_dictionaries(
    {"type": _frame_types},
    optional={
        "content": _strange_text | json_values,
        "conversation": json_values,
        "client_id": _strange_text | json_values,
        "token": _strange_text | json_values,
    },
)

# Messages a turn would store: text and client ids full of what a database may refuse.
message_frames = st.fixed_dictionaries(
    {"type": st.just("message"), "content": _strange_text},
    optional={"conversation": st.none() | json_values, "client_id": _strange_text},
)


def _dumps(value: Any) -> str:
    return json.dumps(value)  # NaN and Infinity as Python writes them: JSON-ish, accepted by json.loads


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _message_of_size(size: int) -> str:
    """A message frame whose JSON text is exactly `size` characters."""
    frame = _dumps({"type": "message", "conversation": None, "content": ""})
    return frame[:-2] + "x" * max(0, size - len(frame)) + '"}'


def text_frames(frame_cap: int) -> st.SearchStrategy[str]:
    return st.one_of(
        frame_objects.map(_dumps),
        message_frames.map(_dumps),
        json_values.map(_dumps),
        _strange_text,  # mostly not JSON at all
        st.integers(min_value=1, max_value=100_000).map(_nested),
        st.integers(min_value=frame_cap - 2, max_value=frame_cap + 2).map(_message_of_size),
        st.sampled_from([frame_cap * 4, 1_000_000]).map(_message_of_size),  # up to daphne's 1 MB cap
    )


binary_frames = st.one_of(
    st.binary(max_size=512),
    st.sampled_from([b"\xff\xfe\xfd", b"\xc3\x28", b"\xed\xa0\x80", b'{"type": "ping"}']),
)


def frames(frame_cap: int) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """1–4 frames: ("text", str) or ("bytes", bytes), as ASGI names them."""
    one = text_frames(frame_cap).map(lambda text: ("text", text)) | binary_frames.map(lambda data: ("bytes", data))
    return st.lists(one, min_size=1, max_size=4)


async def send_frame(comm, frame: tuple[str, Any]) -> None:
    """Straight to the ASGI queue: WebsocketCommunicator.send_to refuses empty frames, which a client may send."""
    kind, data = frame
    await comm.send_input({"type": "websocket.receive", kind: data})


def assert_documented(frame: dict[str, Any]) -> None:
    """An answer a client can act on: never a server error, never an undocumented error code."""
    if frame.get("type") == "error":
        assert frame.get("code") in DOCUMENTED_ERROR_CODES, frame
        assert isinstance(frame.get("detail"), str) and frame["detail"], frame
