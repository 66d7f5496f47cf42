"""Polling mode: updates from the fake getUpdates are stored like the webhook's (and only then
acknowledged), then handled as the worker would."""

from __future__ import annotations

import asyncio

import pytest

from telegram_bot.bot import plain_bot, poll_once, run_polling
from telegram_bot.models import BotState, ProcessedUpdate
from tests.telegram_bot.conftest import handle_stored_updates, message_update

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def poller(fake_telegram):
    stop = asyncio.Event()
    task = asyncio.create_task(run_polling(stop=stop, poll_timeout=1))
    yield task
    stop.set()
    await asyncio.wait_for(task, timeout=15)


async def _stored(count: int) -> None:
    for _ in range(100):
        if await ProcessedUpdate.objects.acount() >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {count} stored update(s)")


async def test_polling_stores_updates_and_the_worker_answers_them(fake_telegram, poller):
    fake_telegram.queue_update(message_update("/help"))

    await _stored(1)
    assert await handle_stored_updates() == ["done"]
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

    await _stored(2)
    await asyncio.sleep(0.3)
    assert await handle_stored_updates() == ["done", "done"]
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


async def test_an_update_is_acknowledged_to_telegram_only_once_it_is_stored(fake_telegram, settings):
    update = message_update("/help")
    fake_telegram.queue_update(update)
    settings.TELEGRAM_UPDATE_BACKLOG_MAX = 0  # nothing can be stored: the update must stay with Telegram
    async with plain_bot() as bot:
        refused = await poll_once(bot, offset=None, poll_timeout=0)
        settings.TELEGRAM_UPDATE_BACKLOG_MAX = 10
        stored = await poll_once(bot, offset=refused[0], poll_timeout=0)
        after = await poll_once(bot, offset=stored[0], poll_timeout=0)

    assert refused == (None, True)
    assert stored == (update["update_id"] + 1, False)
    assert after == (update["update_id"] + 1, False)
    assert fake_telegram.updates == []  # asked for the next offset: Telegram forgot it
    assert await ProcessedUpdate.objects.filter(update_id=update["update_id"], status="pending").aexists()
