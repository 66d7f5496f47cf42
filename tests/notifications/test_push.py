"""Web Push sending, against the loopback push service (real HTTP, real encryption, real VAPID)."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chat.models import Platform
from chat.services import chat_reply
from notifications.models import PushSubscription
from notifications.services import push_notify_user
from tests.chat.conftest import communicator, receive_until, session_cookie_header

pytestmark = pytest.mark.django_db(transaction=True)


def _subscribe(user, push_service, **fields):
    subscriber = push_service.subscribe()
    subscription = PushSubscription.objects.create(
        user=user,
        endpoint=subscriber.endpoint,
        p256dh=subscriber.p256dh,
        auth=subscriber.auth,
        label="Chrome",
        **fields,
    )
    return subscriber, subscription


def test_a_telegram_reply_reaches_a_closed_app_encrypted_and_signed(user, ivan, push_service, celery_eager):
    subscriber, _ = _subscribe(user, push_service)

    turn = chat_reply(user=user, text="what are you up to?", platform=Platform.TELEGRAM)

    [push] = push_service.wait_for(1)
    assert push.status == 201 and push.vapid_ok
    assert push.audience == push_service.url
    assert push.headers["content-encoding"] == "aes128gcm"
    assert push.headers["urgency"] == "high"
    assert int(push.headers["ttl"]) > 0
    assert push.payload["title"] == "Ivan (in Telegram)"
    assert push.payload["body"] == turn.reply.content
    assert push.payload["url"] == f"/chat/{turn.conversation.pk}/"
    assert push.token == subscriber.token
    assert PushSubscription.objects.get(endpoint=subscriber.endpoint).last_success_at is not None


def test_every_device_of_the_user_gets_it_and_nobody_else(user, ivan, push_service, celery_eager):
    from tests.factories import UserFactory

    mine = [_subscribe(user, push_service)[0] for _ in range(2)]
    theirs, _ = _subscribe(UserFactory(), push_service)

    chat_reply(user=user, text="hello", platform=Platform.API)

    push_service.wait_for(2)
    assert sorted(p.token for p in push_service.delivered()) == sorted(s.token for s in mine)
    assert push_service.delivered(theirs.token) == []


def test_the_notification_speaks_the_users_language(user, ivan, push_service, celery_eager):
    user.language = "ru"
    user.save(update_fields=["language"])
    _subscribe(user, push_service)

    chat_reply(user=user, text="привет", platform=Platform.TELEGRAM)

    assert push_service.wait_for(1)[0].payload["title"] == "Иван (в Telegram)"


@pytest.mark.parametrize("status", [404, 410])
def test_an_expired_subscription_is_removed(user, ivan, push_service, celery_eager, status):
    subscriber, subscription = _subscribe(user, push_service)
    push_service.answer(subscriber.token, status)

    chat_reply(user=user, text="hello", platform=Platform.TELEGRAM)

    push_service.wait_for(1)
    assert not PushSubscription.objects.filter(pk=subscription.pk).exists()


def test_a_server_error_keeps_the_device_and_retries_it(user, ivan, push_service, celery_eager):
    subscriber, subscription = _subscribe(user, push_service)
    push_service.answer(subscriber.token, 503)

    chat_reply(user=user, text="hello", platform=Platform.TELEGRAM)

    pushes = push_service.wait_for(2)  # the 503, then the retry task's delivery
    assert [p.status for p in pushes] == [503, 201]
    subscription.refresh_from_db()
    assert subscription.failures == 0 and subscription.last_failure_at is not None


def test_repeated_refusals_drop_the_device(user, ivan, push_service, settings):
    settings.WEBPUSH_MAX_FAILURES = 2
    subscriber, subscription = _subscribe(user, push_service)
    push_service.answer(subscriber.token, 403, times=2)
    turn = chat_reply(user=user, text="hello", platform=Platform.TELEGRAM)

    assert push_notify_user(user_id=user.pk, message_id=turn.reply.pk) == {str(subscription.pk): "rejected"}
    assert PushSubscription.objects.filter(pk=subscription.pk).exists()
    assert push_notify_user(user_id=user.pk, message_id=turn.reply.pk) == {str(subscription.pk): "rejected"}
    assert not PushSubscription.objects.filter(pk=subscription.pk).exists()


def test_nothing_is_sent_when_push_is_off(user, ivan, push_service, celery_eager, settings):
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    _subscribe(user, push_service)

    chat_reply(user=user, text="hello", platform=Platform.TELEGRAM)

    assert push_service.pushes == []


def test_the_turn_only_queues_the_push(user, ivan, push_service, monkeypatch):
    """The sending never happens where the turn runs: the turn queues a Celery task by ids."""
    from notifications import tasks

    queued = []
    monkeypatch.setattr(tasks.push_notify_user, "delay", lambda *args: queued.append(args))
    _subscribe(user, push_service)

    turn = chat_reply(user=user, text="hello", platform=Platform.TELEGRAM)

    assert queued == [(user.pk, turn.reply.pk)]
    assert push_service.pushes == []


async def test_an_open_chat_page_gets_the_reply_live_and_no_push(user, ivan, push_service, celery_eager):
    await sync_to_async(_subscribe)(user, push_service)
    comm = communicator(await sync_to_async(session_cookie_header)(user))
    connected, _ = await comm.connect()
    assert connected
    try:
        assert (await comm.receive_json_from(timeout=5))["type"] == "ready"
        await sync_to_async(chat_reply)(user=user, text="from telegram", platform=Platform.TELEGRAM)
        frames = await receive_until(comm, "reply.end")
    finally:
        await comm.disconnect()

    assert frames[-1]["message"]["role"] == "assistant"
    assert push_service.pushes == []


async def test_after_the_page_closes_replies_are_pushed_again(user, ivan, push_service, celery_eager):
    await sync_to_async(_subscribe)(user, push_service)
    comm = communicator(await sync_to_async(session_cookie_header)(user))
    await comm.connect()
    assert (await comm.receive_json_from(timeout=5))["type"] == "ready"
    await comm.disconnect()

    await sync_to_async(chat_reply)(user=user, text="from telegram", platform=Platform.TELEGRAM)

    assert (await sync_to_async(push_service.wait_for)(1))[0].status == 201
