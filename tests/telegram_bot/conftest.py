"""Fixtures for the bot: a fake Bot API on loopback with settings pointing at it, update builders."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from telegram_bot.bot import update_process, webhook_application_shutdown
from telegram_bot.models import ProcessedUpdate, UpdateStatus
from tests.fakes.telegram import BOT_ID, BOT_USERNAME, FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "webhook-secret-for-tests-0123456789"
TG_USER_ID = 424242
_update_ids = itertools.count(10_000)


@pytest.fixture
def fake_telegram(settings):
    fake = FakeTelegram().start()
    settings.TELEGRAM_API_BASE_URL = fake.base_url
    settings.TELEGRAM_BOT_TOKEN = fake.token
    settings.TELEGRAM_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.TELEGRAM_BOT_USERNAME = BOT_USERNAME
    yield fake
    fake.stop()


async def handle_stored_updates() -> list[str]:
    """What the Celery worker does: handle every stored update that waits, oldest first."""
    waiting = ProcessedUpdate.objects.filter(status=UpdateStatus.PENDING).order_by("update_id")
    ids = [update_id async for update_id in waiting.values_list("update_id", flat=True)]
    return [(await update_process(update_id=update_id)).status for update_id in ids]


def asgi_client() -> httpx.AsyncClient:
    """A client of the ASGI application daphne serves (its direct webhook route included)."""
    from digitalme.asgi import application

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver")


@pytest.fixture
async def webhook(fake_telegram):
    """Posts updates to /telegram/webhook/ through the ASGI application (as daphne serves it) and,
    unless wait=False, handles them as the worker would."""
    async with asgi_client() as client:

        async def post(
            update: Any, *, secret: str | None = WEBHOOK_SECRET, raw: bytes | None = None, wait: bool = True
        ) -> httpx.Response:
            headers = {"Content-Type": "application/json"}
            if secret is not None:
                headers["X-Telegram-Bot-Api-Secret-Token"] = secret
            body = raw if raw is not None else json.dumps(update).encode()
            response = await client.post("/telegram/webhook/", content=body, headers=headers)
            if wait:
                await handle_stored_updates()
            return response

        yield post
    await webhook_application_shutdown()


def _user(user_id: int, language: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": "Masha",
        "username": f"masha{user_id}",
        "language_code": language,
    }


def message_update(
    text: str | None = None,
    *,
    user_id: int = TG_USER_ID,
    language: str = "en",
    chat: dict[str, Any] | None = None,
    update_id: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An update with a new message; a leading /command gets its bot_command entity like Telegram's."""
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": int(time.time()),
        "chat": chat or {"id": user_id, "type": "private", "first_name": "Masha"},
        "from": _user(user_id, language),
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    message.update(extra or {})
    return {"update_id": update_id if update_id is not None else next(_update_ids), "message": message}


def callback_update(
    data: str, *, user_id: int = TG_USER_ID, message_id: int = 1, language: str = "en"
) -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": _user(user_id, language),
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Ivan", "username": BOT_USERNAME},
                "text": "…",
            },
        },
    }


async def link_via_bot(webhook, code: str, *, user_id: int = TG_USER_ID) -> None:
    """Link as a Telegram user does: `/start CODE`, then the confirm button under the bot's question."""
    await webhook(message_update(f"/start {code}", user_id=user_id))
    await webhook(callback_update(f"link:yes:{code}", user_id=user_id))


@pytest.fixture
def ivan(transactional_db, settings):
    """Ivan published from the repository's data file, answering through the deterministic fake LLM."""
    from django.core.management import call_command

    settings.LLM_MODEL = "fake/ivan"
    settings.LLM_FALLBACK_MODELS = []
    settings.LLM_MAX_RETRIES = 0
    call_command("load_persona", str(ROOT / "personality" / "data" / "ivan.yaml"), verbosity=0)
