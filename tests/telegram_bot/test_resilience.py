"""Telegram failing: 429 retry_after honoured, 5xx retried with backoff, 403 marks the user blocked."""

from __future__ import annotations

import pytest

from telegram_bot.models import TelegramAccount
from tests.telegram_bot.conftest import TG_USER_ID, message_update

pytestmark = pytest.mark.django_db(transaction=True)


async def test_429_waits_retry_after_then_succeeds(webhook, fake_telegram):
    fake_telegram.fail_next("sendMessage", 429, retry_after=1)

    await webhook(message_update("/help"))

    first, second = fake_telegram.calls_of("sendMessage")
    assert second.params == first.params
    assert second.at - first.at >= 1.0


async def test_5xx_is_retried_with_backoff(webhook, fake_telegram):
    fake_telegram.fail_next("sendMessage", 502, times=2)

    await webhook(message_update("/help"))

    calls = fake_telegram.calls_of("sendMessage")
    assert len(calls) == 3
    assert calls[2].at - calls[1].at > calls[1].at - calls[0].at  # the wait grows


async def test_403_marks_the_user_blocked_and_is_not_retried(webhook, fake_telegram):
    fake_telegram.fail_next("sendMessage", 403)

    await webhook(message_update("/help"))

    assert len(fake_telegram.calls_of("sendMessage")) == 1
    account = await TelegramAccount.objects.aget(telegram_user_id=TG_USER_ID)
    assert account.is_blocked


async def test_a_new_message_from_a_blocked_user_clears_the_mark(webhook, fake_telegram):
    fake_telegram.fail_next("sendMessage", 403)
    await webhook(message_update("/help"))

    await webhook(message_update("/help"))

    account = await TelegramAccount.objects.aget(telegram_user_id=TG_USER_ID)
    assert not account.is_blocked
    assert len(fake_telegram.calls_of("sendMessage")) == 2
