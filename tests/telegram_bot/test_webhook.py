"""The webhook: secret check, fast acknowledgement, idempotency, bad and unknown updates."""

from __future__ import annotations

import pytest

from telegram_bot.models import ProcessedUpdate
from tests.telegram_bot.conftest import callback_update, message_update

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


async def test_webhook_answers_before_the_update_is_handled(webhook, fake_telegram):
    fake_telegram.fail_next("sendMessage", 429, retry_after=1)  # handling now takes over a second

    response = await webhook(message_update("/help"), wait=False)

    assert response.status_code == 200
    assert fake_telegram.calls_of("sendMessage") == []
    await fake_telegram.await_call("sendMessage", count=2)


async def test_many_updates_at_once_are_all_answered_without_exhausting_connections(webhook, fake_telegram):
    # More updates than the database pool has connections (20): each update must give its back.
    for _ in range(30):
        response = await webhook(message_update("/help"), wait=False)
        assert response.status_code == 200

    await fake_telegram.await_call("sendMessage", count=30, timeout=30)


async def test_an_unknown_button_is_answered_so_the_client_stops_waiting(webhook, fake_telegram):
    await webhook(callback_update("something-old"))

    assert len(fake_telegram.calls_of("answerCallbackQuery")) == 1
    assert fake_telegram.calls_of("sendMessage") == []


async def test_start_without_a_code_greets_an_unlinked_user_as_a_guest(webhook, fake_telegram):
    await webhook(message_update("/start", language="ru"))

    [sent] = fake_telegram.calls_of("sendMessage")
    assert "Ты сейчас гость" in sent.params["text"]
