"""Polling mode: the same handlers fed from the fake getUpdates."""

from __future__ import annotations

import asyncio

import pytest

from telegram_bot.bot import run_polling
from telegram_bot.models import BotState
from tests.telegram_bot.conftest import message_update

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def poller(fake_telegram):
    stop = asyncio.Event()
    task = asyncio.create_task(run_polling(stop=stop, poll_timeout=1))
    yield task
    stop.set()
    await asyncio.wait_for(task, timeout=15)


async def test_polling_answers_updates_from_get_updates(fake_telegram, poller):
    fake_telegram.queue_update(message_update("/help"))

    [sent] = await fake_telegram.await_call("sendMessage")

    assert "/forget" in sent.params["text"]
    assert fake_telegram.calls_of("deleteWebhook")  # polling and a webhook exclude each other
    assert (await BotState.objects.aget(pk=1)).mode == "polling"


async def test_polling_registers_commands_in_english_and_russian(fake_telegram, poller):
    calls = await fake_telegram.await_call("setMyCommands", count=3)

    by_language = {call.params.get("language_code"): call.params["commands"] for call in calls}
    assert {command["command"] for command in by_language["ru"]} == {
        "start",
        "help",
        "new",
        "about",
        "memory",
        "forget",
        "privacy",
        "unlink",
    }
    assert by_language["ru"][1]["description"] == "Что я умею"
    assert by_language["en"][1]["description"] == "What I can do"


async def test_polling_handles_a_repeated_update_once(fake_telegram, poller):
    update = message_update("/help")
    fake_telegram.queue_update(update)
    fake_telegram.queue_update(update)
    fake_telegram.queue_update(message_update("/privacy"))

    await fake_telegram.await_call("sendMessage", count=2)
    await asyncio.sleep(0.3)

    texts = [call.params["text"] for call in fake_telegram.calls_of("sendMessage")]
    assert len(texts) == 2  # updates run concurrently: the order of the two answers may vary
    assert sum("Privacy" in text for text in texts) == 1


async def test_stopping_the_poller_records_it(fake_telegram):
    stop = asyncio.Event()
    task = asyncio.create_task(run_polling(stop=stop, poll_timeout=1))
    await fake_telegram.await_call("getUpdates")

    stop.set()
    await asyncio.wait_for(task, timeout=15)

    assert (await BotState.objects.aget(pk=1)).mode == "none"
