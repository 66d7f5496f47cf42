"""The webhook: secret check, stored before the 200, handled by the worker exactly once (retries,
resume after a lost task), bad and unknown updates."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from celery import signals
from django.utils import timezone

from telegram_bot.bot import update_process
from telegram_bot.models import ProcessedUpdate
from telegram_bot.services import UpdateStored, update_finish, update_lease, update_store, updates_resume
from tests.telegram_bot.conftest import WEBHOOK_SECRET, callback_update, handle_stored_updates, message_update

pytestmark = pytest.mark.django_db(transaction=True)


async def test_right_secret_is_accepted_and_the_update_answered(webhook, fake_telegram):
    response = await webhook(message_update("/help"))

    assert response.status_code == 200
    [sent] = fake_telegram.calls_of("sendMessage")
    assert "/memory" in sent.params["text"]
    assert sent.params["parse_mode"] == "HTML"


async def test_wrong_secret_is_403_and_nothing_is_processed(webhook, fake_telegram):
    response = await webhook(message_update("/help"), secret="not-the-secret")

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert fake_telegram.calls == []
    assert not await ProcessedUpdate.objects.aexists()


async def test_missing_secret_is_403(webhook, fake_telegram):
    response = await webhook(message_update("/help"), secret=None)

    assert response.status_code == 403
    assert fake_telegram.calls == []


async def test_without_a_configured_secret_every_update_is_refused(webhook, fake_telegram, settings):
    settings.TELEGRAM_WEBHOOK_SECRET = ""

    response = await webhook(message_update("/help"), secret="")

    assert response.status_code == 403


async def test_get_is_not_allowed(webhook, fake_telegram, async_client):
    response = await async_client.get("/telegram/webhook/")

    assert response.status_code == 405


async def test_duplicate_update_id_is_processed_once(webhook, fake_telegram):
    update = message_update("/help")

    first = await webhook(update)
    second = await webhook(update)

    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True
    assert len(fake_telegram.calls_of("sendMessage")) == 1


async def test_malformed_json_is_logged_and_acknowledged(webhook, fake_telegram, caplog):
    response = await webhook(None, raw=b'{"update_id": 1, "message": {')

    assert response.status_code == 200
    assert fake_telegram.calls == []
    assert "body is not JSON" in caplog.text


async def test_json_without_update_id_is_acknowledged(webhook, fake_telegram):
    response = await webhook(["not", "an", "update"])

    assert response.status_code == 200
    assert fake_telegram.calls == []


async def test_unknown_update_type_is_logged_and_acknowledged(webhook, fake_telegram, caplog):
    response = await webhook({"update_id": 777, "brand_new_kind": {"x": 1}})

    assert response.status_code == 200
    assert "kind we don't handle" in caplog.text
    assert fake_telegram.calls_of("sendMessage") == []


async def test_an_update_that_does_not_parse_is_logged_and_the_next_one_still_works(webhook, fake_telegram, caplog):
    bad = await webhook({"update_id": 778, "message": "garbage"})
    good = await webhook(message_update("/help"))

    assert bad.status_code == good.status_code == 200
    assert "could not be processed" in caplog.text
    assert len(fake_telegram.calls_of("sendMessage")) == 1


async def test_the_update_is_stored_before_the_200_and_handled_by_the_worker(webhook, fake_telegram):
    update = message_update("/help")

    response = await webhook(update, wait=False)

    assert response.status_code == 200
    assert fake_telegram.calls_of("sendMessage") == []
    stored = await ProcessedUpdate.objects.aget(update_id=update["update_id"])
    assert (stored.status, stored.payload) == ("pending", update)
    assert await handle_stored_updates() == ["done"]
    assert len(fake_telegram.calls_of("sendMessage")) == 1
    stored = await ProcessedUpdate.objects.aget(update_id=update["update_id"])
    assert (stored.status, stored.payload, stored.attempts) == ("done", {}, 1)


async def test_many_updates_at_once_are_all_answered_without_exhausting_connections(webhook, fake_telegram):
    # More updates than the database pool has connections (20): each update must give its back.
    for _ in range(30):
        response = await webhook(message_update("/help"), wait=False)
        assert response.status_code == 200
    waiting = [u async for u in ProcessedUpdate.objects.filter(status="pending").values_list("update_id", flat=True)]

    outcomes = await asyncio.gather(*(update_process(update_id=update_id) for update_id in waiting))

    assert [outcome.status for outcome in outcomes] == ["done"] * 30
    assert len(fake_telegram.calls_of("sendMessage")) == 30


async def test_a_full_backlog_answers_503_so_telegram_keeps_the_update(webhook, fake_telegram, settings):
    settings.TELEGRAM_UPDATE_BACKLOG_MAX = 2
    for _ in range(2):
        await webhook(message_update("/help"), wait=False)

    response = await webhook(message_update("/help"), wait=False)

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.json()["code"] == "backlog_full"
    assert await ProcessedUpdate.objects.acount() == 2


async def test_a_task_delivered_twice_handles_the_update_once(webhook, fake_telegram):
    update = message_update("/help")
    await webhook(update)

    again = await update_process(update_id=update["update_id"])

    assert again.status == "skipped"
    assert len(fake_telegram.calls_of("sendMessage")) == 1


async def test_a_send_that_keeps_failing_is_retried_later_and_delivered_once(webhook, fake_telegram, settings):
    update = message_update("/help")
    fake_telegram.fail_next("sendMessage", 502, times=5)  # more than the in-process retries (4)
    await webhook(update, wait=False)

    first = await update_process(update_id=update["update_id"])
    second = await update_process(update_id=update["update_id"])

    assert first.status == "retry" and first.retry_in_s == 5.0
    assert second.status == "done"
    delivered = [call for call in fake_telegram.calls_of("sendMessage")]
    assert len(delivered) == 6  # five 502s, then the one that arrived
    assert (await ProcessedUpdate.objects.aget(update_id=update["update_id"])).attempts == 2


async def test_a_long_429_is_retried_after_telegrams_retry_after(webhook, fake_telegram):
    update = message_update("/help")
    fake_telegram.fail_next("sendMessage", 429, retry_after=90)  # longer than the in-process wait (60 s)
    await webhook(update, wait=False)

    outcome = await update_process(update_id=update["update_id"])

    assert (outcome.status, outcome.retry_in_s) == ("retry", 91.0)
    stored = await ProcessedUpdate.objects.aget(update_id=update["update_id"])
    assert stored.status == "pending" and "RetryAfter" in stored.error


async def test_an_update_gives_up_after_the_last_attempt(webhook, fake_telegram, settings):
    settings.TELEGRAM_UPDATE_MAX_ATTEMPTS = 1
    update = message_update("/help")
    fake_telegram.fail_next("sendMessage", 502, times=5)
    await webhook(update, wait=False)

    outcome = await update_process(update_id=update["update_id"])

    assert outcome.status == "failed"
    stored = await ProcessedUpdate.objects.aget(update_id=update["update_id"])
    assert stored.status == "failed" and "gave up after 1 attempts" in stored.error


async def test_an_update_whose_worker_died_is_queued_again_when_its_lease_runs_out(webhook, fake_telegram):
    update = message_update("/help")
    await webhook(update, wait=False)
    await sync_to_async(update_lease)(update_id=update["update_id"])  # a worker took it, then was killed
    await ProcessedUpdate.objects.filter(update_id=update["update_id"]).aupdate(
        leased_until=timezone.now() - timedelta(seconds=1)
    )

    assert await sync_to_async(updates_resume)() == 1
    assert (await update_process(update_id=update["update_id"])).status == "done"
    assert len(fake_telegram.calls_of("sendMessage")) == 1


async def test_an_update_that_could_not_be_queued_is_resumed(webhook, fake_telegram):
    update = message_update("/help")
    await webhook(update, wait=False)
    # As if the broker had been down: stored, never queued, and a minute old.
    await ProcessedUpdate.objects.filter(update_id=update["update_id"]).aupdate(
        queued_at=None, received=timezone.now() - timedelta(minutes=1)
    )

    assert await sync_to_async(updates_resume)() == 1
    assert (await ProcessedUpdate.objects.aget(update_id=update["update_id"])).queued_at is not None


async def test_a_freshly_queued_update_is_not_queued_again(webhook, fake_telegram):
    await webhook(message_update("/help"), wait=False)

    assert await sync_to_async(updates_resume)() == 0


async def test_an_unknown_button_is_answered_so_the_client_stops_waiting(webhook, fake_telegram):
    await webhook(callback_update("something-old"))

    assert len(fake_telegram.calls_of("answerCallbackQuery")) == 1
    assert fake_telegram.calls_of("sendMessage") == []


async def test_start_without_a_code_greets_an_unlinked_user_as_a_guest(webhook, fake_telegram):
    await webhook(message_update("/start", language="ru"))

    [sent] = fake_telegram.calls_of("sendMessage")
    assert "Ты сейчас гость" in sent.params["text"]


async def test_an_update_is_marked_queued_before_its_task_is_published(webhook, fake_telegram):
    """A worker may lease the update the moment its task lands. Marking the row queued after
    publishing held a row lock then, which the lease's SKIP LOCKED skipped: the update waited for
    the resume job, minutes (seen by tools/telegram_latency.py against a real worker)."""
    from celery import signals

    update = message_update("/help")
    queued_at_publish: list[object] = []

    def capture(headers=None, **kwargs):
        if (headers or {}).get("task") == "telegram_bot.update_process":
            stored = ProcessedUpdate.objects.get(update_id=update["update_id"])
            queued_at_publish.append(stored.queued_at)

    signals.before_task_publish.connect(capture, weak=False)
    try:
        await webhook(update, wait=False)
    finally:
        signals.before_task_publish.disconnect(capture)

    assert len(queued_at_publish) == 1
    assert queued_at_publish[0] is not None


def _published_update_tasks() -> tuple[list[int], object]:
    from celery import signals

    published: list[int] = []

    def capture(headers=None, body=None, **kwargs):
        if (headers or {}).get("task") == "telegram_bot.update_process":
            published.append(1)

    signals.before_task_publish.connect(capture, weak=False)
    return published, capture


@pytest.mark.parametrize("queued_at", [None, timezone.now() - timedelta(seconds=1)], ids=["stored", "marked"])
async def test_a_redelivered_update_whose_process_died_before_queueing_it_is_queued(webhook, fake_telegram, queued_at):
    """Telegram redelivers only what got no 200: daphne killed after storing the update but before
    publishing its task left it waiting for the resume job (a minute) — seen in the kill test."""
    from celery import signals

    update = message_update("/help")
    await webhook(update, wait=False)
    await ProcessedUpdate.objects.filter(update_id=update["update_id"]).aupdate(queued_at=queued_at)
    published, capture = _published_update_tasks()
    try:
        response = await webhook(update)  # the redelivery
    finally:
        signals.before_task_publish.disconnect(capture)

    assert response.status_code == 200
    assert published == [1]
    assert (await ProcessedUpdate.objects.aget(update_id=update["update_id"])).status == "done"
    assert len(fake_telegram.calls_of("sendMessage")) == 1


async def test_a_redelivered_update_that_is_done_or_waiting_for_a_retry_is_not_queued_again(webhook, fake_telegram):
    from celery import signals

    retrying, done = message_update("/help", user_id=7001), message_update("/help", user_id=7002)
    await webhook(retrying, wait=False)
    await ProcessedUpdate.objects.filter(update_id=retrying["update_id"]).aupdate(
        queued_at=timezone.now() + timedelta(minutes=1)  # a retry's backoff
    )
    await webhook(done)
    published, capture = _published_update_tasks()
    try:
        await webhook(retrying, wait=False)
        await webhook(done, wait=False)
    finally:
        signals.before_task_publish.disconnect(capture)

    assert published == []


def _post_sync(client, update):
    return client.post(
        "/telegram/webhook/",
        data=json.dumps(update),
        content_type="application/json",
        headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
    )


def test_the_webhook_stores_a_new_update_in_one_sql_statement_and_queues_it_once(
    fake_telegram, django_assert_num_queries
):
    """The ack path's database work: store (de-duplicated, backlog-bounded, marked queued) in one
    statement, publish. It was six (SELECT, COUNT, BEGIN, INSERT, COMMIT, UPDATE)."""
    update = message_update("/help")
    published, capture = _published_update_tasks()
    try:
        with django_assert_num_queries(1):
            stored = update_store(update_id=update["update_id"], payload=update, request_id="r-1")
    finally:
        signals.before_task_publish.disconnect(capture)

    assert stored is UpdateStored.STORED
    assert published == [1]
    row = ProcessedUpdate.objects.get(update_id=update["update_id"])
    assert (row.status, row.payload, row.queued_at is not None) == ("pending", update, True)


def test_a_redelivered_update_costs_two_statements_and_is_not_stored_again(fake_telegram, django_assert_num_queries):
    update = message_update("/help")
    update_store(update_id=update["update_id"], payload=update)
    ProcessedUpdate.objects.filter(update_id=update["update_id"]).update(status="done")

    with django_assert_num_queries(2):
        stored = update_store(update_id=update["update_id"], payload=update)

    assert stored is UpdateStored.DUPLICATE
    assert ProcessedUpdate.objects.count() == 1


def test_a_lease_and_a_finish_are_one_statement_each(fake_telegram, client, django_assert_num_queries):
    update = message_update("/help")
    _post_sync(client, update)

    with django_assert_num_queries(1):
        leased = update_lease(update_id=update["update_id"])
    with django_assert_num_queries(1):
        update_finish(update_id=update["update_id"])

    assert leased is not None
    assert (leased.payload, leased.attempts) == (update, 1)
    stored = ProcessedUpdate.objects.get(update_id=update["update_id"])
    assert (stored.status, stored.payload, stored.leased_until) == ("done", {}, None)


async def test_replies_reuse_the_bot_api_connection(webhook, fake_telegram):
    """One Application per worker process keeps its HTTP connections to the Bot API: five replies
    (and getMe) must not open a connection each."""
    for _ in range(5):
        await webhook(message_update("/help"))

    assert len(fake_telegram.calls) == 6  # getMe + 5 × sendMessage
    assert fake_telegram.connections <= 2


def test_a_linked_sender_is_refreshed_in_two_statements_with_their_user_loaded(django_assert_num_queries):
    """The sender's upsert is one statement (it was BEGIN, SELECT … FOR UPDATE, UPDATE, COMMIT, then a
    SELECT with the users), the user one more; handlers then read account.user without a query."""
    from telegram_bot.services import TelegramProfile, telegram_account_touch
    from tests.factories import TelegramAccountFactory, UserFactory

    user = UserFactory()
    TelegramAccountFactory(telegram_user_id=4242, chat_id=4242, user=user, blocked_at=timezone.now())
    profile = TelegramProfile(telegram_user_id=4242, chat_id=4242, username="new_name", first_name="Masha")

    with django_assert_num_queries(2):
        account = telegram_account_touch(profile=profile, private_chat=True)
        assert account.user == user

    stored = type(account).objects.get(pk=account.pk)
    assert (stored.username, stored.blocked_at, stored.user_id) == ("new_name", None, user.pk)
