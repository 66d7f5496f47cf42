"""Faults of the stores and the queue, with real processes: a daphne server (and what it talks to)
while Redis, PostgreSQL or the Celery broker of its own is stopped and started again. Nothing that
was acknowledged is lost, nothing answers 500, and the server recovers without a restart."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from django.core.management import call_command
from rest_framework_simplejwt.tokens import AccessToken

from chat.models import Message, Role
from loadtest import client
from loadtest.server import DaphneServer
from tests.conftest import PASSWORD
from tests.factories import UserFactory
from tests.faults.conftest import PrivateRedis
from tests.ops.test_real_processes import LOG_DIR, ROOT, _env, _wait

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
TURN_TIMEOUT_S = 60.0
RECOVERY_TIMEOUT_S = 90.0


def _persona() -> None:
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)


async def _turn(web: DaphneServer, token: str, content: str) -> client.UserRun:
    """One message on a fresh socket (what a reconnecting page does)."""
    opener = client.SocketConnection.opener(web.ws_url, timeout_s=30)
    return await client.chat_user(opener, token=token, messages=1, timeout_s=TURN_TIMEOUT_S, content=lambda _: content)


def _ok(run: client.UserRun) -> bool:
    return bool(run.turns) and run.turns[0].ok


async def _until_a_turn_works(web: DaphneServer, token: str, content: str) -> tuple[client.UserRun, int]:
    """Reconnect and send again (same text, a new socket each time) until a turn is answered."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT_S
    attempts = 0
    while True:
        attempts += 1
        run = await _turn(web, token, content)
        if _ok(run) or time.monotonic() > deadline:
            return run, attempts
        await asyncio.sleep(1)


async def _read_until_settled(connection: client.Connection, timeout_s: float) -> list[dict[str, Any]]:
    """Frames of a held socket until its reply ends or it closes (then `closed` with the code)."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            frame = await connection.receive_json(max(deadline - time.monotonic(), 0.01))
        except TimeoutError:
            break
        except Exception as exc:  # the server closed it: record how
            frames.append({"type": "closed", "code": getattr(getattr(exc, "rcvd", None), "code", None)})
            break
        frames.append(frame)
        if frame.get("type") == "reply.end":
            break
    return frames


def test_redis_stopped_and_restarted_mid_chat_loses_nothing_and_recovers_without_a_restart(private_redis):
    _persona()
    user = UserFactory(password=PASSWORD)
    token = str(AccessToken.for_user(user))
    env = _env(REDIS_URL=private_redis.url(), LLM_MODEL="fake/ivan", LLM_FALLBACK_MODELS="", LOG_LEVEL="INFO")
    web = DaphneServer(env=env, log_path=LOG_DIR / "faults-redis-daphne.log").start()
    try:
        report = asyncio.run(_redis_outage(web, private_redis, token))
        daphne_alive = web.process is not None and web.process.poll() is None
        # The reply that was streaming when Redis went away goes on (its socket closed) and is stored.
        _wait(
            lambda: Message.objects.filter(client_id="in-flight", role=Role.ASSISTANT).exclude(content="").exists(),
            timeout_s=TURN_TIMEOUT_S,
            what="the in-flight reply to be stored",
        )
    finally:
        web.stop()

    assert all(_ok(run) for run in report["before"])
    # Sockets degrade with documented frames: the open one streams its reply to the end (Redis is
    # not on that path); new ones are told `unavailable` and closed with 1013 (clients reconnect
    # with backoff); no 1011, no 500.
    assert report["held"][-1]["type"] == "reply.end"
    assert report["held"][-1]["message"]["content"].endswith(" more119")
    assert [run.error for run in report["down"]] == ["RuntimeError: auth refused: unavailable"] * 3
    assert daphne_alive  # recovered without a restart
    assert report["ready_down"] == 503
    assert report["ready_after"] == 200
    assert 500 not in report["rest_down"]
    assert _ok(report["after"]), report["after"]
    answered = [run.turns[0] for run in (*report["before"], *report["down"], report["after"]) if _ok(run)]
    contents = ["before 0", "before 1", *(f"while down {i}" for i in range(3) if _ok(report["down"][i])), "after"]
    # Rows in == rows expected: every answered message once, with its one reply; no empty reply left.
    user_rows = list(Message.objects.filter(conversation__user=user, role=Role.USER).values_list("content", flat=True))
    for content in contents:
        assert user_rows.count(content) == 1, (content, user_rows)
    replies = Message.objects.filter(conversation__user=user, role=Role.ASSISTANT)
    assert replies.filter(content="").count() == 0, (
        list(Message.objects.filter(conversation__user=user).values_list("client_id", "role", "content")),
        report,
    )
    assert replies.count() >= len(answered)
    in_flight = Message.objects.get(conversation__user=user, client_id="in-flight", role=Role.USER)
    assert Message.objects.filter(client_id="in-flight", role=Role.ASSISTANT).exclude(content="").count() == 1, (
        report["held"],
        in_flight,
    )


async def _redis_outage(web: DaphneServer, redis: PrivateRedis, token: str) -> dict[str, Any]:
    report: dict[str, Any] = {"before": [await _turn(web, token, f"before {i}") for i in range(2)]}
    opener = client.SocketConnection.opener(web.ws_url, timeout_s=30)
    held = await opener("/ws/chat/")
    await client.authenticate(held, token, 30)
    # A reply is streaming (about 6 s of tokens) when Redis goes away.
    await held.send_json(
        {"type": "message", "conversation": None, "content": "[[slow]] in flight", "client_id": "in-flight"}
    )
    while (await held.receive_json(30)).get("type") != "reply.token":
        pass
    await asyncio.to_thread(redis.stop)
    report["held"] = await _read_until_settled(held, TURN_TIMEOUT_S)
    async with httpx.AsyncClient(base_url=web.http_url, timeout=60) as http:
        report["down"] = [await _turn(web, token, f"while down {i}") for i in range(3)]
        conversations = (await http.get("/api/conversations/", headers={"Authorization": f"Bearer {token}"})).json()
        conversation_id = conversations["results"][0]["id"]
        report["rest_down"] = [
            (
                await http.post(
                    f"/api/conversations/{conversation_id}/messages/",
                    json={"content": "rest while down"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            ).status_code
        ]
        report["ready_down"] = (await http.get("/health/ready/")).status_code
        await asyncio.to_thread(redis.start)
        report["after"], report["attempts_after"] = await _until_a_turn_works(web, token, "after")
        report["ready_after"] = (await http.get("/health/ready/")).status_code
    return report
