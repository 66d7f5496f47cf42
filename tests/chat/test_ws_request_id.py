"""A WebSocket connection carries one request id — the handshake's X-Request-ID, else a new one —
into its turns and the Celery tasks they queue (ops: correlation ids)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from celery import signals

from tests.chat.conftest import access_token, communicator, receive_until
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def published():
    """Headers of every task message really published to the broker during the test."""
    seen: list[dict] = []

    def capture(headers=None, **kwargs):
        seen.append(dict(headers or {}))

    signals.before_task_publish.connect(capture, weak=False)
    yield seen
    signals.before_task_publish.disconnect(capture)


async def test_a_turn_queues_its_memory_task_under_the_handshakes_request_id(ivan, settings, published):
    settings.CHAT_MEMORY_LLM_EXTRACTION = "true"  # every user message queues chat.memory_extract_llm
    user = await sync_to_async(UserFactory)()
    socket = communicator((b"x-request-id", b"ws-turn-trace-0001"))
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"type": "auth", "token": await sync_to_async(access_token)(user)})
    await receive_until(socket, "ready")

    await socket.send_json_to({"type": "message", "content": "I live in Lisbon."})
    await receive_until(socket, "reply.end")
    await socket.disconnect()

    tasks = [h for h in published if h.get("task") == "chat.memory_extract_llm"]
    assert tasks and {h["request_id"] for h in tasks} == {"ws-turn-trace-0001"}
