"""One request id through a message's whole life, in real processes and their JSON logs:

HTTP (Telegram's webhook POST, X-Request-ID: R) → the chat turn → the memory task it queues, run
by a real Celery worker (its log line carries R) → Ivan's reply sent back to Telegram (the web
process logs it with R). `grep R` over the logs finds them all.
"""

from __future__ import annotations

import signal

import httpx
import pytest
from django.core.management import call_command

from loadtest.server import DaphneServer
from telegram_bot.services import link_code_issue
from tests.factories import UserFactory
from tests.fakes.telegram import FakeTelegram
from tests.ops.test_real_processes import LOG_DIR, ROOT, _Celery, _env, _wait, json_lines
from tests.telegram_bot.conftest import WEBHOOK_SECRET, message_update

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
REQUEST_ID = "chain-4f2a-telegram-0001"


def test_one_request_id_follows_a_telegram_message_through_celery_to_the_reply(settings):
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
        hook = f"{web.http_url}/telegram/webhook/"
        secret = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        assert httpx.post(hook, json=message_update(f"/start {code}"), headers=secret, timeout=30).status_code == 200
        _wait(lambda: bool(telegram.calls_of("sendMessage")), what="the link confirmation")

        response = httpx.post(
            hook,
            json=message_update("Hello Ivan, how are you?"),
            headers={**secret, "X-Request-ID": REQUEST_ID},
            timeout=30,
        )
        assert response.headers["X-Request-ID"] == REQUEST_ID
        _wait(
            lambda: any(line.get("request_id") == REQUEST_ID for line in json_lines(worker.log_path)),
            timeout_s=120,
            what="the worker's task log line",
        )
        _wait(
            lambda: any(line.get("message") == "telegram reply sent" for line in json_lines(web.log_path)),
            timeout_s=30,
            what="the reply log line",
        )
    finally:
        if worker is not None:
            worker.stop(signal.SIGTERM)
        web.stop()
        telegram.stop()

    task_lines = [line for line in json_lines(worker.log_path) if line.get("request_id") == REQUEST_ID]
    assert any(
        "chat.memory_extract_llm" in line["message"] and "succeeded" in line["message"] for line in task_lines
    ), task_lines
    replies = [line for line in json_lines(web.log_path) if line.get("message") == "telegram reply sent"]
    assert [line["request_id"] for line in replies][-1] == REQUEST_ID
    assert "Hello Ivan" in telegram.calls_of("sendMessage")[-1].params["text"]
