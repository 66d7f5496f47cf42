"""A Telegram update is handled under the webhook request's id (or one named after the update
when polling), so its log lines — up to the reply being sent — share one id."""

from __future__ import annotations

import json
import logging

import pytest

from digitalme.request_id import RequestIdLogFilter
from tests.telegram_bot.conftest import WEBHOOK_SECRET, asgi_client, handle_stored_updates, message_update

pytestmark = pytest.mark.django_db(transaction=True)


async def test_the_reply_is_logged_with_the_webhook_requests_id(webhook, fake_telegram, ivan, caplog):
    caplog.handler.addFilter(RequestIdLogFilter())
    headers = {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET,
        "X-Request-ID": "tg-chain-0001",
    }

    with caplog.at_level(logging.INFO):
        async with asgi_client() as client:
            response = await client.post(
                "/telegram/webhook/", content=json.dumps(message_update("Hello Ivan, how are you?")), headers=headers
            )
        await handle_stored_updates()

    assert response.headers["X-Request-ID"] == "tg-chain-0001"
    assert fake_telegram.calls_of("sendMessage")
    sent = [r for r in caplog.records if r.getMessage() == "telegram reply sent"]
    assert [r.request_id for r in sent] == ["tg-chain-0001"]
