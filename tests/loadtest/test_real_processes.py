"""Real daphne processes on the test PostgreSQL and channels-redis: a burst of 1,000 connects,
no frame dropped under load, and two processes sharing only Redis delivering a user's messages.

Bounded: every wait has a timeout; sizes are what the issue asks, not more.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from loadtest import client
from loadtest.server import DaphneServer
from loadtest.services import loadtest_users_create
from tests.loadtest.conftest import server_env as _server_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_S = 60.0
LOG_DIR = Path(settings.BASE_DIR) / "test-output"


@pytest.fixture(scope="module")
def server_a(django_db_setup, django_db_blocker) -> Iterator[DaphneServer]:
    if not settings.REDIS_URL:
        pytest.skip("needs Redis: two processes share only the channel layer")
    with django_db_blocker.unblock():
        env = _server_env()
    server = DaphneServer(env=env, log_path=LOG_DIR / "daphne-a.log").start()
    try:
        yield server
    finally:
        server.stop()


def _log_problems(server: DaphneServer) -> list[str]:
    text = server.log_path.read_text() if server.log_path and server.log_path.exists() else ""
    return re.findall(r".*(?:MaxConnectionsError|over capacity|Traceback).*", text)


async def _open_metric(server: DaphneServer) -> float:
    async with httpx.AsyncClient(trust_env=False) as http:
        body = (await http.get(f"{server.http_url}/metrics", timeout=10)).text
    match = re.search(r'^dm_websocket_connections_open\{route="/ws/chat/"\} (\S+)$', body, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_a_burst_of_1000_connects_has_no_failed_handshake(server_a, ivan):
    _, users = loadtest_users_create(count=100)
    tokens = [user.token for user in users for _ in range(10)]  # 100 users × 10 tabs

    async def burst() -> tuple[list[client.UserRun], float]:
        opener = client.SocketConnection.opener(server_a.ws_url, timeout_s=TIMEOUT_S)
        release = asyncio.Event()
        settled = client.Settled(len(tokens))
        tasks = [
            asyncio.ensure_future(
                client.hold_idle(opener, token=token, release=release, settled=settled, timeout_s=TIMEOUT_S)
            )
            for token in tokens
        ]
        await asyncio.wait_for(settled.all_settled.wait(), TIMEOUT_S * 2)
        open_now = await _open_metric(server_a)
        release.set()
        return list(await asyncio.gather(*tasks)), open_now

    runs, open_while_held = asyncio.run(burst())
    failed = [run.error for run in runs if not run.handshake_ok]
    assert failed == []
    assert sum(1 for run in runs if run.ready) == 1000, [run.error for run in runs if not run.ready][:5]
    assert open_while_held >= 1000  # the server's own gauge saw them all open at once
    assert _log_problems(server_a) == []


def test_no_frame_is_dropped_under_load(server_a, ivan):
    """40 users chat at once while 2 more tabs of each listen: every streamed token reaches the
    asking socket, every other tab gets each message.created and reply.end, all are stored."""
    from loadtest.services import user_messages_stored

    _, users = loadtest_users_create(count=40)
    tokens = [user.token for user in users]
    messages = 3

    async def load():
        opener = client.SocketConnection.opener(server_a.ws_url, timeout_s=TIMEOUT_S)
        return await client.run_chat_load(
            opener,
            tokens=tokens,
            messages_per_user=messages,
            timeout_s=TIMEOUT_S,
            idle_tokens=[token for token in tokens for _ in range(2)],
        )

    active, listeners, wall_s = asyncio.run(load())
    summary = client.summarize(active, wall_s=wall_s, expected_tokens=len(client.ECHO_TOKENS))
    assert summary["errors"] == 0, summary["error_codes"]
    assert summary["failed_handshakes"] == 0
    assert summary["frames_received"] == summary["frames_expected"] == 40 * messages * 43
    assert summary["replies_intact"] == 40 * messages
    assert user_messages_stored(user_ids=[user.id for user in users]) == 40 * messages
    for listener in listeners:
        assert listener.pushed["message.created"] == messages, listener.pushed
        assert listener.pushed["reply.end"] == messages, listener.pushed
        assert listener.pushed["reply.token"] == 0  # tokens never go through the group
    assert _log_problems(server_a) == []


def test_two_processes_sharing_only_redis_deliver_a_users_messages(server_a, ivan):
    _, (user,) = loadtest_users_create(count=1)
    with DaphneServer(env=_server_env(), log_path=LOG_DIR / "daphne-b.log") as server_b:

        async def across() -> tuple[list[client.UserRun], client.UserRun, client.UserRun]:
            on_a = client.SocketConnection.opener(server_a.ws_url, timeout_s=TIMEOUT_S)
            on_b = client.SocketConnection.opener(server_b.ws_url, timeout_s=TIMEOUT_S)
            release = asyncio.Event()
            settled = client.Settled(2)
            listen_b = asyncio.ensure_future(
                client.hold_idle(on_b, token=user.token, release=release, settled=settled, timeout_s=TIMEOUT_S)
            )
            listen_a = asyncio.ensure_future(
                client.hold_idle(on_a, token=user.token, release=release, settled=settled, timeout_s=TIMEOUT_S)
            )
            await asyncio.wait_for(settled.all_settled.wait(), TIMEOUT_S)
            sent_on_a = await client.chat_user(
                on_a, token=user.token, messages=1, timeout_s=TIMEOUT_S, content=lambda i: "hello from process A"
            )
            sent_on_b = await client.chat_user(
                on_b, token=user.token, messages=1, timeout_s=TIMEOUT_S, content=lambda i: "hello from process B"
            )
            await settled.quiet()  # let the last group pushes land
            release.set()
            return [sent_on_a, sent_on_b], await listen_b, await listen_a

        sent, listener_b, listener_a = asyncio.run(across())

    assert all(run.turns[0].ok for run in sent)
    created_on_b = [f["message"]["content"] for f in listener_b.pushed_frames if f["type"] == "message.created"]
    created_on_a = [f["message"]["content"] for f in listener_a.pushed_frames if f["type"] == "message.created"]
    assert "hello from process A" in created_on_b  # sent on A, seen live on B
    assert "hello from process B" in created_on_a  # and the other way round
    assert listener_b.pushed["reply.end"] == 2
    assert listener_a.pushed["reply.end"] == 2


def test_loadtest_command_drives_every_scenario_against_a_running_server(server_a, ivan):
    import json
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "loadtest",
        "--url",
        server_a.http_url,
        "--users",
        "3",
        "--duration",
        "3",
        "--scenarios",
        "chat,integrations,personality",
        "--json",
        stdout=out,
    )
    report = json.loads(out.getvalue())
    for name in ("chat", "integrations", "personality"):
        figures = report["scenarios"][name]
        assert figures["ok"] > 0, (name, figures)
        assert figures["errors"] == 0, (name, figures)
        assert figures["latency_ms"]["p95"] is not None
    assert report["chat_messages_stored"] == report["chat_messages_sent"] > 0
