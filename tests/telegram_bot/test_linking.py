"""Account linking: one-time codes from the API, `/start <code>` in the bot, `/unlink`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from telegram_bot.models import LinkCode, TelegramAccount
from telegram_bot.services import link_code_issue
from tests.factories import UserFactory
from tests.fakes.telegram import BOT_USERNAME
from tests.telegram_bot.conftest import TG_USER_ID, callback_update, link_via_bot, message_update


@pytest.mark.django_db
def test_link_code_api_returns_code_deep_link_and_expiry(auth_client, user, fake_telegram):
    response = auth_client.post("/api/telegram/link-code/")

    assert response.status_code == 201
    body = response.json()
    assert len(body["code"]) == 10
    assert body["deep_link"] == f"https://t.me/{BOT_USERNAME}?start={body['code']}"
    expires_in = timezone.datetime.fromisoformat(body["expires_at"]) - timezone.now()
    assert timedelta(minutes=9) < expires_in <= timedelta(minutes=10)


@pytest.mark.django_db
def test_link_code_is_404_when_telegram_is_not_set_up(auth_client, settings):
    settings.TELEGRAM_BOT_TOKEN = ""

    response = auth_client.post("/api/telegram/link-code/")

    assert response.status_code == 404
    assert response.json()["code"] == "telegram_unavailable"


@pytest.mark.django_db(transaction=True)
def test_without_a_configured_username_the_deep_link_asks_telegram_once(auth_client, fake_telegram, settings):
    settings.TELEGRAM_BOT_USERNAME = ""

    first = auth_client.post("/api/telegram/link-code/").json()
    second = auth_client.post("/api/telegram/link-code/").json()

    assert first["deep_link"].startswith(f"https://t.me/{BOT_USERNAME}?start=")
    assert second["deep_link"].startswith(f"https://t.me/{BOT_USERNAME}?start=")
    assert len(fake_telegram.calls_of("getMe")) == 1


@pytest.mark.django_db
def test_link_code_api_needs_login(api_client):
    response = api_client.post("/api/telegram/link-code/")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
def test_link_code_is_stored_only_as_a_hash(auth_client, user, fake_telegram):
    code = auth_client.post("/api/telegram/link-code/").json()["code"]

    assert not LinkCode.objects.filter(code_hash=code).exists()
    assert LinkCode.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_guest_users_cannot_get_a_link_code(api_client, fake_telegram):
    guest = UserFactory(is_guest=True)
    api_client.force_authenticate(user=guest)

    response = api_client.post("/api/telegram/link-code/")

    assert response.status_code == 403
    assert response.json()["code"] == "guest_not_allowed"


@pytest.mark.django_db(transaction=True)
async def test_start_with_a_code_asks_before_linking(webhook, fake_telegram):
    user = await sync_to_async(UserFactory)(email="masha@example.com")
    issued = await sync_to_async(link_code_issue)(user=user)

    await webhook(message_update(f"/start {issued.code}"))

    account = await TelegramAccount.objects.aget(telegram_user_id=TG_USER_ID)
    assert account.user_id is None
    [sent] = fake_telegram.calls_of("sendMessage")
    assert "ma•••@example.com" in sent.params["text"]
    assert "masha@example.com" not in sent.params["text"]
    buttons = sent.params["reply_markup"]["inline_keyboard"][0]
    assert [button["callback_data"] for button in buttons] == [f"link:yes:{issued.code}", f"link:no:{issued.code}"]


@pytest.mark.django_db(transaction=True)
async def test_confirming_links_the_account(webhook, fake_telegram):
    user = await sync_to_async(UserFactory)(email="masha@example.com")
    issued = await sync_to_async(link_code_issue)(user=user)

    await link_via_bot(webhook, issued.code)

    account = await TelegramAccount.objects.aget(telegram_user_id=TG_USER_ID)
    assert account.user_id == user.pk
    [edited] = fake_telegram.calls_of("editMessageText")
    assert "masha@example.com" in edited.params["text"]


@pytest.mark.django_db(transaction=True)
async def test_an_attackers_link_cancelled_links_nothing_and_keeps_the_guest_history(ivan, webhook, fake_telegram):
    from chat.models import Conversation

    await webhook(message_update("hello, I am a guest"))
    victim = await TelegramAccount.objects.select_related("guest_user").aget(telegram_user_id=TG_USER_ID)
    attacker = await sync_to_async(UserFactory)(email="mallory@example.com")
    issued = await sync_to_async(link_code_issue)(user=attacker)

    await webhook(message_update(f"/start {issued.code}"))
    await webhook(callback_update(f"link:no:{issued.code}"))

    account = await TelegramAccount.objects.aget(telegram_user_id=TG_USER_ID)
    assert account.user_id is None
    assert account.guest_user_id == victim.guest_user_id
    assert not await Conversation.objects.filter(user=attacker).aexists()
    assert await Conversation.objects.filter(user_id=victim.guest_user_id).aexists()
    assert "Not linked" in fake_telegram.calls_of("editMessageText")[-1].params["text"]


@pytest.mark.django_db(transaction=True)
async def test_the_confirmation_says_the_guest_history_moves_and_the_current_link_changes(webhook, fake_telegram):
    owner = await sync_to_async(UserFactory)(email="owner@example.com")
    await link_via_bot(webhook, (await sync_to_async(link_code_issue)(user=owner)).code)
    other = await sync_to_async(UserFactory)(email="mallory@example.com")

    await webhook(message_update(f"/start {(await sync_to_async(link_code_issue)(user=other)).code}"))

    prompt = fake_telegram.calls_of("sendMessage")[-1].params["text"]
    assert "ma•••@example.com" in prompt
    assert "currently linked to <b>ow•••@example.com</b>" in prompt
    assert (await TelegramAccount.objects.aget(telegram_user_id=TG_USER_ID)).user_id == owner.pk


@pytest.mark.django_db(transaction=True)
async def test_relinking_tells_the_telegram_that_loses_thelink_via_bot(webhook, fake_telegram):
    user = await sync_to_async(UserFactory)(email="masha@example.com")
    await link_via_bot(webhook, (await sync_to_async(link_code_issue)(user=user)).code)

    await link_via_bot(webhook, (await sync_to_async(link_code_issue)(user=user)).code, user_id=TG_USER_ID + 5)

    notices = [call for call in fake_telegram.calls_of("sendMessage") if call.params["chat_id"] == str(TG_USER_ID)]
    assert "no longer linked" in notices[-1].params["text"]
    assert (await TelegramAccount.objects.aget(user=user)).telegram_user_id == TG_USER_ID + 5


@pytest.mark.django_db(transaction=True)
async def test_start_with_an_expired_code_does_notlink_via_bot(webhook, fake_telegram):
    user = await sync_to_async(UserFactory)()
    issued = await sync_to_async(link_code_issue)(user=user)
    await LinkCode.objects.filter(user=user).aupdate(expires_at=timezone.now() - timedelta(seconds=1))

    await webhook(message_update(f"/start {issued.code}"))

    account = await TelegramAccount.objects.aget(telegram_user_id=TG_USER_ID)
    assert account.user_id is None
    [sent] = fake_telegram.calls_of("sendMessage")
    assert "expired" in sent.params["text"]


@pytest.mark.django_db(transaction=True)
async def test_a_code_works_only_once(webhook, fake_telegram):
    user = await sync_to_async(UserFactory)()
    issued = await sync_to_async(link_code_issue)(user=user)
    await link_via_bot(webhook, issued.code)

    await link_via_bot(webhook, issued.code, user_id=TG_USER_ID + 1)

    other = await TelegramAccount.objects.aget(telegram_user_id=TG_USER_ID + 1)
    assert other.user_id is None
    assert "already used" in fake_telegram.calls_of("sendMessage")[-1].params["text"]


@pytest.mark.django_db(transaction=True)
async def test_an_unknown_code_is_refused_in_the_users_language(webhook, fake_telegram):
    await webhook(message_update("/start NOPE123456", language="ru"))

    [sent] = fake_telegram.calls_of("sendMessage")
    assert "не подходит" in sent.params["text"]


@pytest.mark.django_db(transaction=True)
async def test_a_new_code_replaces_the_previous_one(webhook, fake_telegram):
    user = await sync_to_async(UserFactory)()
    first = await sync_to_async(link_code_issue)(user=user)
    await sync_to_async(link_code_issue)(user=user)

    await link_via_bot(webhook, first.code)

    account = await TelegramAccount.objects.aget(telegram_user_id=TG_USER_ID)
    assert account.user_id is None


@pytest.mark.django_db(transaction=True)
async def test_unlink_undoes_thelink_via_bot(webhook, fake_telegram):
    user = await sync_to_async(UserFactory)()
    issued = await sync_to_async(link_code_issue)(user=user)
    await link_via_bot(webhook, issued.code)

    await webhook(message_update("/unlink"))

    account = await TelegramAccount.objects.aget(telegram_user_id=TG_USER_ID)
    assert account.user_id is None
    assert "Unlinked" in fake_telegram.calls_of("sendMessage")[-1].params["text"]


@pytest.mark.django_db(transaction=True)
async def test_linking_a_second_telegram_moves_thelink_via_bot(webhook, fake_telegram):
    user = await sync_to_async(UserFactory)()
    await link_via_bot(webhook, (await sync_to_async(link_code_issue)(user=user)).code)

    code = (await sync_to_async(link_code_issue)(user=user)).code
    await link_via_bot(webhook, code, user_id=TG_USER_ID + 5)

    assert await TelegramAccount.objects.filter(user=user).acount() == 1
    assert (await TelegramAccount.objects.aget(user=user)).telegram_user_id == TG_USER_ID + 5


@pytest.mark.django_db(transaction=True)
async def test_start_codes_in_group_chats_are_ignored(webhook, fake_telegram):
    user = await sync_to_async(UserFactory)()
    issued = await sync_to_async(link_code_issue)(user=user)

    await webhook(message_update(f"/start {issued.code}", chat={"id": -100, "type": "group", "title": "g"}))

    assert not await TelegramAccount.objects.filter(user=user).aexists()
