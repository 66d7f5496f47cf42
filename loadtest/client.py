"""The load client shared by `make bench`, `manage.py loadtest`, `POST /api/chat/load-test` and the
real-process tests: virtual users speaking the `/ws/chat/` protocol (docs/API.md) over a real socket
or, in-process, through Channels' communicator. Counts what arrives, frame by frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from digitalme.stats import percentiles_ms

# The fixed 40-token reply of `fake/fixed40` (chat/llm/providers/fake.py); the echo floor streams
# the same tokens so both paths send identical frames.
ECHO_TOKENS = ["w0", *(f" w{i}" for i in range(1, 40))]
FRAMES_PER_TURN_BESIDES_TOKENS = 3  # message.created, reply.start, reply.end
IDLE_RECEIVE_TIMEOUT_S = 3600.0


class HandshakeError(Exception):
    pass


class Connection(Protocol):
    async def send_json(self, frame: dict[str, Any]) -> None: ...

    async def receive_json(self, timeout: float) -> dict[str, Any]: ...

    async def close(self) -> None: ...


OpenConnection = Callable[[str], Awaitable[Connection]]  # path (e.g. "/ws/chat/") → open connection


class SocketConnection:
    """A real WebSocket (the `websockets` client) to a running server."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket

    @classmethod
    def opener(cls, base_url: str, *, timeout_s: float = 30.0) -> OpenConnection:
        """`base_url` like `ws://127.0.0.1:8000`; the Origin header is the matching http(s) origin."""
        from websockets.asyncio.client import connect

        origin = base_url.replace("ws://", "http://", 1).replace("wss://", "https://", 1).rstrip("/")

        async def open_connection(path: str) -> Connection:
            try:
                socket = await connect(
                    base_url.rstrip("/") + path,
                    origin=origin,  # type: ignore[arg-type]
                    compression=None,
                    proxy=None,
                    open_timeout=timeout_s,
                    ping_interval=None,
                    max_queue=None,
                    close_timeout=2,
                )
            except Exception as exc:
                raise HandshakeError(f"{type(exc).__name__}: {exc}") from exc
            return cls(socket)

        return open_connection

    async def send_json(self, frame: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(frame))

    async def receive_json(self, timeout: float) -> dict[str, Any]:
        return json.loads(await asyncio.wait_for(self.socket.recv(), timeout))

    async def close(self) -> None:
        await self.socket.close()


class CommunicatorConnection:
    """The same protocol in-process, through Channels' communicator on an ASGI application."""

    def __init__(self, communicator: Any) -> None:
        self.communicator = communicator

    @classmethod
    def opener(cls, application: Any, *, origin: str = "http://localhost", timeout_s: float = 30.0) -> OpenConnection:
        from channels.testing import WebsocketCommunicator

        async def open_connection(path: str) -> Connection:
            communicator = WebsocketCommunicator(application, path, headers=[(b"origin", origin.encode())])
            connected, code = await communicator.connect(timeout=timeout_s)
            if not connected:
                raise HandshakeError(f"refused with close code {code}")
            return cls(communicator)

        return open_connection

    async def send_json(self, frame: dict[str, Any]) -> None:
        await self.communicator.send_json_to(frame)

    async def receive_json(self, timeout: float) -> dict[str, Any]:
        return await self.communicator.receive_json_from(timeout=timeout)

    async def close(self) -> None:
        await self.communicator.disconnect(timeout=5)


@dataclass
class TurnResult:
    ok: bool
    error: str = ""
    ttft_s: float | None = None
    total_s: float | None = None
    frames: int = 0
    tokens: int = 0
    intact: bool = False  # the streamed deltas join to exactly the stored reply


@dataclass
class UserRun:
    handshake_ok: bool = False
    ready: bool = False
    sent: int = 0
    turns: list[TurnResult] = field(default_factory=list)
    error: str = ""
    pushed: Counter = field(default_factory=Counter)  # frames an idle socket received, by type
    pushed_frames: list[dict[str, Any]] = field(default_factory=list)


async def authenticate(connection: Connection, token: str, timeout_s: float) -> None:
    """Send the `auth` frame and wait for `ready`."""
    await connection.send_json({"type": "auth", "token": token})
    deadline = time.monotonic() + timeout_s
    while True:
        frame = await connection.receive_json(max(deadline - time.monotonic(), 0.001))
        if frame.get("type") == "ready":
            return
        if frame.get("type") == "error":
            raise RuntimeError(f"auth refused: {frame.get('code')}")


async def chat_turn(
    connection: Connection, *, content: str, conversation: int | None, timeout_s: float, client_id: str = ""
) -> tuple[TurnResult, int | None]:
    """Send one message and read until its `reply.end` (or an error). Returns the conversation id."""
    client_id = client_id or uuid.uuid4().hex
    started = time.perf_counter()
    await connection.send_json(
        {"type": "message", "conversation": conversation, "content": content, "client_id": client_id}
    )
    result = TurnResult(ok=False)
    deltas: list[str] = []
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            frame = await connection.receive_json(max(deadline - time.monotonic(), 0.001))
        except TimeoutError:
            result.error = "timeout"
            return result, conversation
        kind = frame.get("type")
        if kind == "reply.token":
            if result.ttft_s is None:
                result.ttft_s = time.perf_counter() - started
            deltas.append(str(frame.get("delta", "")))
            result.tokens += 1
            result.frames += 1
        elif kind == "message.created":
            if (frame.get("message") or {}).get("client_id") in (None, client_id):
                result.frames += 1
        elif kind == "reply.start":
            result.frames += 1
            conversation = frame.get("conversation", conversation)
        elif kind == "reply.end":
            result.frames += 1
            result.total_s = time.perf_counter() - started
            result.ok = True
            result.intact = "".join(deltas) == (frame.get("message") or {}).get("content")
            return result, conversation
        elif kind == "error":
            result.error = str(frame.get("code") or "error")
            return result, conversation
        # other pushes (persona.updated, other platforms' messages) are not part of this turn


async def chat_user(
    open_connection: OpenConnection,
    *,
    token: str,
    messages: int,
    timeout_s: float,
    path: str = "/ws/chat/",
    content: Callable[[int], str] = lambda i: f"Load test message {i}: how was your day?",
) -> UserRun:
    """One virtual user: connect, authenticate, send `messages` messages one after another."""
    run = UserRun()
    try:
        connection = await open_connection(path)
    except Exception as exc:  # noqa: BLE001 - a load client records every failure
        run.error = f"handshake: {exc}"
        return run
    run.handshake_ok = True
    try:
        await authenticate(connection, token, timeout_s)
        run.ready = True
        conversation: int | None = None
        for index in range(messages):
            run.sent += 1
            turn, conversation = await chat_turn(
                connection, content=content(index), conversation=conversation, timeout_s=timeout_s
            )
            run.turns.append(turn)
            if turn.error == "timeout":
                break
    except Exception as exc:  # noqa: BLE001 - a load client records every failure
        run.error = f"{type(exc).__name__}: {exc}"
    finally:
        with contextlib.suppress(Exception):  # closing a broken socket must not hide the result
            await connection.close()
    return run


class Settled:
    """Counts idle sockets that finished connecting (ready or failed); set when all have."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0
        self.all_settled = asyncio.Event()
        self.last_push = time.monotonic()  # when an idle socket last received a frame
        if total == 0:
            self.all_settled.set()

    async def quiet(self, *, for_s: float = 1.0, at_most_s: float = 10.0) -> None:
        """Wait until no idle socket has received anything for `for_s`, counted from now at the
        earliest (group pushes land just after the asking socket's own reply.end)."""
        called = time.monotonic()
        deadline = called + at_most_s
        while time.monotonic() < deadline and time.monotonic() - max(self.last_push, called) < for_s:
            await asyncio.sleep(0.05)

    def settle(self) -> None:
        self.count += 1
        if self.count >= self.total:
            self.all_settled.set()


async def hold_idle(
    open_connection: OpenConnection,
    *,
    token: str,
    release: asyncio.Event,
    settled: Settled,
    timeout_s: float,
    path: str = "/ws/chat/",
) -> UserRun:
    """An open, authenticated socket that sends nothing until `release` is set; it records the
    frames pushed to it meanwhile (another tab of the same user sees every message)."""
    run = UserRun()
    connection: Connection | None = None
    try:
        connection = await open_connection(path)
        run.handshake_ok = True
        await authenticate(connection, token, timeout_s)
        run.ready = True
        settled.settle()
        released = asyncio.ensure_future(release.wait())
        try:
            while True:  # read what the user's other sockets cause (group pushes) until released
                receiving = asyncio.ensure_future(connection.receive_json(IDLE_RECEIVE_TIMEOUT_S))
                done, _ = await asyncio.wait({receiving, released}, return_when=asyncio.FIRST_COMPLETED)
                if receiving not in done:
                    receiving.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await receiving
                    break
                frame = receiving.result()
                settled.last_push = time.monotonic()
                run.pushed[str(frame.get("type"))] += 1
                run.pushed_frames.append(frame)
        finally:
            released.cancel()
    except Exception as exc:  # noqa: BLE001 - a load client records every failure
        run.error = f"{'handshake' if not run.handshake_ok else type(exc).__name__}: {exc}"
        if not run.ready:
            settled.settle()
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken socket must not hide the result
                await connection.close()
    return run


async def run_chat_load(
    open_connection: OpenConnection,
    *,
    tokens: Sequence[str],
    messages_per_user: int,
    timeout_s: float = 30.0,
    path: str = "/ws/chat/",
    idle_tokens: Sequence[str] = (),
    before_active: Callable[[], None] | None = None,
) -> tuple[list[UserRun], list[UserRun], float]:
    """Idle sockets are opened and held first, then all active users start at once
    (`before_active` is called in between: the bench reads the servers' CPU there, so opening
    the idle sockets is not counted as the turns' cost).
    Returns (active runs, idle runs, wall seconds of the active phase)."""
    release = asyncio.Event()
    settled = Settled(len(idle_tokens))
    idle_tasks = [
        asyncio.ensure_future(
            hold_idle(open_connection, token=token, release=release, settled=settled, timeout_s=timeout_s, path=path)
        )
        for token in idle_tokens
    ]
    with contextlib.suppress(TimeoutError):  # stragglers are reported as failed by their runs
        await asyncio.wait_for(settled.all_settled.wait(), timeout_s * 3)
    if before_active is not None:
        before_active()
    started = time.perf_counter()
    active = await asyncio.gather(
        *(
            chat_user(open_connection, token=token, messages=messages_per_user, timeout_s=timeout_s, path=path)
            for token in tokens
        )
    )
    wall_s = time.perf_counter() - started
    if idle_tasks:
        await settled.quiet()
    release.set()
    idle = list(await asyncio.gather(*idle_tasks))
    return list(active), idle, wall_s


def percentiles(values_s: Iterable[float | None]) -> dict[str, float | None]:
    """p50/p95/p99/mean/max in milliseconds of values in seconds."""
    return percentiles_ms((v * 1000 for v in values_s if v is not None), decimals=1)


def summarize(runs: Sequence[UserRun], *, wall_s: float, expected_tokens: int | None) -> dict[str, Any]:
    turns = [turn for run in runs for turn in run.turns]
    ok = [turn for turn in turns if turn.ok]
    sent = sum(run.sent for run in runs)
    error_codes = Counter(turn.error for turn in turns if not turn.ok)
    error_codes.update(run.error.split(":", 1)[0] for run in runs if run.error)
    return {
        "users": len(runs),
        "failed_handshakes": sum(1 for run in runs if not run.handshake_ok),
        "failed_auth": sum(1 for run in runs if run.handshake_ok and not run.ready),
        "turns_sent": sent,
        "turns_ok": len(ok),
        "errors": sum(error_codes.values()),
        "error_codes": dict(error_codes),
        "wall_s": round(wall_s, 3),
        "turns_per_s": round(len(ok) / wall_s, 1) if wall_s > 0 else None,
        "ttft_ms": percentiles(turn.ttft_s for turn in ok),
        "full_reply_ms": percentiles(turn.total_s for turn in ok),
        "frames_received": sum(turn.frames for turn in turns),
        "frames_expected": sent * (FRAMES_PER_TURN_BESIDES_TOKENS + expected_tokens) if expected_tokens else None,
        "tokens_received": sum(turn.tokens for turn in turns),
        "replies_intact": sum(1 for turn in ok if turn.intact),
    }


# --- Mixed scenarios over time (`manage.py loadtest`) --------------------------------------

SCENARIOS = ("chat", "integrations", "personality")


@dataclass
class StepResult:
    scenario: str
    ok: bool
    latency_s: float
    error: str = ""


async def _http_step(http: Any, scenario: str, path: str, token: str) -> StepResult:
    started = time.perf_counter()
    try:
        response = await http.get(path, headers={"Authorization": f"Bearer {token}"})
        ok = response.status_code == 200
        return StepResult(scenario, ok, time.perf_counter() - started, "" if ok else f"http_{response.status_code}")
    except Exception as exc:  # noqa: BLE001 - a load client records every failure
        return StepResult(scenario, False, time.perf_counter() - started, type(exc).__name__)


async def _persona_socket_step(open_connection: OpenConnection, timeout_s: float) -> StepResult:
    started = time.perf_counter()
    try:
        connection = await open_connection("/ws/persona/ivan/")
        try:
            frame = await connection.receive_json(timeout_s)
        finally:
            with contextlib.suppress(Exception):
                await connection.close()
        # /ws/persona/ greets with the live persona as a `ready` frame (updates follow as persona.updated).
        ok = frame.get("type") == "ready" and bool(frame.get("persona"))
        return StepResult("personality", ok, time.perf_counter() - started, "" if ok else str(frame.get("type")))
    except Exception as exc:  # noqa: BLE001
        return StepResult("personality", False, time.perf_counter() - started, type(exc).__name__)


async def scenario_user(
    *,
    open_connection: OpenConnection,
    http: Any,
    token: str,
    scenarios: Sequence[str],
    deadline: float,
    timeout_s: float,
) -> tuple[list[StepResult], int]:
    """One virtual user cycling through the scenarios until `deadline` (monotonic).
    Returns its steps and how many chat messages it sent."""
    steps: list[StepResult] = []
    sent = 0
    chat: Connection | None = None
    conversation: int | None = None
    try:
        if "chat" in scenarios:
            started = time.perf_counter()
            try:
                chat = await open_connection("/ws/chat/")
                await authenticate(chat, token, timeout_s)
            except Exception as exc:  # noqa: BLE001
                steps.append(StepResult("chat", False, time.perf_counter() - started, f"connect: {type(exc).__name__}"))
                chat = None
        index = 0
        while time.monotonic() < deadline:
            for scenario in scenarios:
                if time.monotonic() >= deadline:
                    break
                if scenario == "chat" and chat is not None:
                    sent += 1
                    started = time.perf_counter()
                    try:
                        turn, conversation = await chat_turn(
                            chat, content=f"Load test message {index}", conversation=conversation, timeout_s=timeout_s
                        )
                        steps.append(StepResult("chat", turn.ok, turn.total_s or timeout_s, turn.error))
                    except Exception as exc:  # noqa: BLE001 - the socket broke: record it, stop chatting
                        steps.append(StepResult("chat", False, time.perf_counter() - started, type(exc).__name__))
                        chat = None
                elif scenario == "integrations":
                    steps.append(await _http_step(http, scenario, "/api/integrations/", token))
                    steps.append(await _http_step(http, scenario, "/api/integrations/health", token))
                elif scenario == "personality":
                    steps.append(await _http_step(http, scenario, "/api/personas/ivan/", token))
                    steps.append(await _persona_socket_step(open_connection, timeout_s))
            index += 1
            if chat is None and scenarios == ("chat",):
                break
    finally:
        if chat is not None:
            with contextlib.suppress(Exception):
                await chat.close()
    return steps, sent


async def run_scenarios(
    *, base_url: str, tokens: Sequence[str], scenarios: Sequence[str], duration_s: float, timeout_s: float = 30.0
) -> dict[str, Any]:
    """Every user runs the scenarios in a loop for `duration_s`; per-scenario figures."""
    import httpx

    http_url = base_url.replace("ws://", "http://", 1).replace("wss://", "https://", 1).rstrip("/")
    ws_url = http_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    open_connection = SocketConnection.opener(ws_url, timeout_s=timeout_s)
    deadline = time.monotonic() + duration_s
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=max(len(tokens), 10))
    async with httpx.AsyncClient(base_url=http_url, timeout=timeout_s, trust_env=False, limits=limits) as http:
        results = await asyncio.gather(
            *(
                scenario_user(
                    open_connection=open_connection,
                    http=http,
                    token=token,
                    scenarios=tuple(scenarios),
                    deadline=deadline,
                    timeout_s=timeout_s,
                )
                for token in tokens
            )
        )
    wall_s = time.perf_counter() - started
    steps = [step for user_steps, _ in results for step in user_steps]
    report: dict[str, Any] = {"users": len(tokens), "duration_s": round(wall_s, 2), "scenarios": {}}
    for scenario in scenarios:
        mine = [step for step in steps if step.scenario == scenario]
        ok = [step for step in mine if step.ok]
        report["scenarios"][scenario] = {
            "requests": len(mine),
            "ok": len(ok),
            "errors": len(mine) - len(ok),
            "error_codes": dict(Counter(step.error for step in mine if not step.ok)),
            "per_s": round(len(ok) / wall_s, 1) if wall_s > 0 else None,
            "latency_ms": percentiles(step.latency_s for step in ok),
        }
    report["chat_messages_sent"] = sum(sent for _, sent in results)
    return report
