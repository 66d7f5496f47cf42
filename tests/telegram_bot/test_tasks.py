"""The worker side of stored updates: time limits that a lease outlives, and the resume beat job."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from telegram_bot import services
from telegram_bot.tasks import update_process


def test_the_update_task_has_time_limits_shorter_than_its_lease(settings):
    task = update_process

    assert (task.soft_time_limit, task.time_limit) == (240, 270)
    assert task.time_limit < settings.TELEGRAM_UPDATE_LEASE_S
    assert task.acks_late and task.reject_on_worker_lost


@pytest.mark.django_db
def test_beat_resumes_stored_updates_every_minute():
    job = PeriodicTask.objects.select_related("interval").get(task="telegram_bot.updates_resume")

    assert job.enabled
    assert (job.interval.every, job.interval.period) == (60, "seconds")


@pytest.mark.django_db(transaction=True)
def test_the_worker_answers_a_text_message_in_three_database_hops(fake_telegram, ivan, monkeypatch):
    """The task leases and settles the update in its own thread; on the loop, the sender and the
    turn's start share one hop and the chat turn has its two (chat/turn.py). It was seven: lease,
    sender, turn start, the turn's two, closing the update's own thread's connection, finish — and
    a thread created per update."""
    import asyncio

    from digitalme.db import executor
    from telegram_bot import tasks
    from telegram_bot.bot import webhook_application, webhook_application_shutdown
    from telegram_bot.models import ProcessedUpdate
    from telegram_bot.services import telegram_account_touch, update_store
    from tests.factories import UserFactory
    from tests.telegram_bot.conftest import TG_USER_ID, message_update

    account = telegram_account_touch(
        profile=services.TelegramProfile(telegram_user_id=TG_USER_ID, chat_id=TG_USER_ID), private_chat=True
    )
    account.user = UserFactory()
    account.save(update_fields=["user"])
    tasks._run(webhook_application())  # the worker's loop and Application (getMe) exist before the count
    update = message_update("Hello Ivan, how are you?")
    update_store(update_id=update["update_id"], payload=update)
    hops: list[object] = []
    run_in_executor = asyncio.BaseEventLoop.run_in_executor

    def counting(loop, pool, func, *args):
        hops.append(pool)
        return run_in_executor(loop, pool, func, *args)

    monkeypatch.setattr(asyncio.BaseEventLoop, "run_in_executor", counting)
    try:
        status = tasks.update_process.run(update["update_id"])
    finally:
        monkeypatch.undo()
        tasks._run(webhook_application_shutdown())

    assert status == "done"
    [sent] = fake_telegram.calls_of("sendMessage")
    assert sent.params["text"]
    assert ProcessedUpdate.objects.get(update_id=update["update_id"]).status == "done"
    assert hops == [executor()] * 3


@pytest.mark.django_db(transaction=True)
def test_an_update_is_published_to_the_telegram_queue_and_a_background_job_is_not(settings):
    """Only the Telegram worker reads the queue `telegram` (Procfile), so an update never waits for
    a pool child behind a background job."""
    from celery import signals

    from chat.tasks import memory_summarize
    from telegram_bot.models import ProcessedUpdate

    if not settings.REDIS_URL:
        pytest.skip("needs the Redis broker")
    published: dict[str, str] = {}

    def seen(sender: str = "", routing_key: str = "", **kwargs) -> None:
        published[sender] = routing_key

    ProcessedUpdate.objects.create(update_id=77_001, payload={"update_id": 77_001})
    signals.before_task_publish.connect(seen)
    try:
        services.update_enqueue(update_id=77_001, countdown=3600)
        memory_summarize.apply_async(args=[0], countdown=3600)
    finally:
        signals.before_task_publish.disconnect(seen)
        from digitalme.celery import app

        with app.connection_for_write() as conn:  # leave nothing queued for other tests' workers
            for queue in (settings.TELEGRAM_QUEUE, "celery"):
                conn.default_channel.queue_purge(queue)

    assert published == {"telegram_bot.update_process": "telegram", "chat.memory_summarize": "celery"}
