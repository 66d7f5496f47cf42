"""One request id R through real processes and their JSON logs, as a proxy or client that sets
X-Request-ID would see it:

HTTP (the WebSocket handshake, X-Request-ID: R) → a WebSocket turn → the memory task it queues, run
by a real Celery worker (its log line carries R); and HTTP (Telegram's webhook POST with R) → the
stored update, handled by the worker → the Telegram turn → its memory task → Ivan's reply sent back
to Telegram (logged with R).
`grep R` over the web and worker logs finds every step.
"""

from __future__ import annotations

import json
import signal

import httpx
import pytest
from django.core.management import call_command
from rest_framework_simplejwt.tokens import AccessToken

from loadtest.server import DaphneServer
from telegram_bot.services import link_code_issue
from tests.factories import UserFactory
from tests.fakes.telegram import FakeTelegram
from tests.ops.test_real_processes import LOG_DIR, ROOT, _Celery, _env, _wait, json_lines
from tests.telegram_bot.conftest import WEBHOOK_SECRET, callback_update, message_update

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
REQUEST_ID = "chain-4f2a-telegram-0001"


def _task_lines(worker: _Celery) -> int:
    return sum(
        1
        for line in worker.json_lines()
        if line.get("request_id") == REQUEST_ID
        and "chat.memory_extract_llm" in line["message"]
        and "succeeded" in line["message"]
    )


def test_one_request_id_through_web_socket_turn_celery_task_and_telegram_reply(settings):
    from websockets.sync.client import connect

    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)
    telegram = FakeTelegram().start()
    settings.TELEGRAM_BOT_TOKEN = telegram.token
    user = UserFactory(email="chain@example.com", language="en")
    code = link_code_issue(user=user).code
    env = _env(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        LLM_MODEL="fake/ivan",
        CHAT_MEMORY_LLM_EXTRACTION="true",  # each message queues chat.memory_extract_llm
    )
    web = DaphneServer(env=env, log_path=LOG_DIR / "chain-daphne.log")
    worker = None
    try:
        web.start()
        worker = _Celery(
            "chain-worker", ["worker", "--pool=solo", "--loglevel=INFO", "--without-mingle", "--without-gossip"], env
        )
        _wait(  # a loaded 2-core host takes a while to import everything
            lambda: any(line.get("message", "").endswith(" ready.") for line in worker.json_lines()),
            timeout_s=240,
            what="the worker to start",
        )
        hook = f"{web.http_url}/telegram/webhook/"
        secret = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        assert httpx.post(hook, json=message_update(f"/start {code}"), headers=secret, timeout=30).status_code == 200
        _wait(lambda: bool(telegram.calls_of("sendMessage")), what="the link question")
        answer = callback_update(f"link:yes:{code}")
        assert httpx.post(hook, json=answer, headers=secret, timeout=30).status_code == 200
        _wait(lambda: bool(telegram.calls_of("editMessageText")), what="the link confirmation")

        # HTTP → WebSocket turn → Celery task
        socket = connect(
            f"{web.ws_url}/ws/chat/",
            origin=web.http_url,
            open_timeout=60,
            additional_headers={"X-Request-ID": REQUEST_ID},
        )
        try:
            socket.send(json.dumps({"type": "auth", "token": str(AccessToken.for_user(user))}))
            socket.send(json.dumps({"type": "message", "content": "I live in Lisbon."}))
            frames: list[dict] = []
            while not any(frame.get("type") == "reply.end" for frame in frames):
                frames.append(json.loads(socket.recv(timeout=120)))
        finally:
            socket.close()
        _wait(lambda: _task_lines(worker) >= 1, timeout_s=120, what="the web turn's task in the worker")

        # HTTP → Telegram turn → Celery task → Telegram reply
        response = httpx.post(
            hook,
            json=message_update("Hello Ivan, how are you?"),
            headers={**secret, "X-Request-ID": REQUEST_ID},
            timeout=30,
        )
        assert response.headers["X-Request-ID"] == REQUEST_ID
        _wait(lambda: _task_lines(worker) >= 2, timeout_s=120, what="the Telegram turn's task in the worker")
        _wait(
            lambda: any(line.get("message") == "telegram reply sent" for line in worker.json_lines()),
            timeout_s=60,
            what="the reply log line",
        )
    finally:
        if worker is not None:
            worker.stop(signal.SIGTERM)
        web.stop()
        telegram.stop()

    web_lines = [line for line in json_lines(web.log_path) if line.get("request_id") == REQUEST_ID]
    assert {"websocket connecting", "websocket closed"} <= {line["message"] for line in web_lines}
    # The webhook stored the update under R; the worker handled it and sent the reply under R.
    worker_lines = [line for line in worker.json_lines() if line.get("request_id") == REQUEST_ID]
    assert "telegram reply sent" in {line["message"] for line in worker_lines}
    assert frames[-1]["message"]["platform"] == "web"
    assert _task_lines(worker) == 2  # one memory task per turn, both under R
    assert "Hello Ivan" in telegram.calls_of("sendMessage")[-1].params["text"]
