"""Talking to Ivan in Telegram: the same pipeline as the web, one memory, feedback, groups, guests."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from chat.models import Conversation, Message, Platform
from chat.services import chat_reply
from digitalme.asgi import application
from telegram_bot.models import TelegramAccount
from telegram_bot.services import link_code_issue
from tests.factories import UserFactory
from tests.fakes.telegram import BOT_ID, BOT_USERNAME
from tests.telegram_bot.conftest import TG_USER_ID, callback_update, link_via_bot, message_update

pytestmark = pytest.mark.django_db(transaction=True)

GROUP = {"id": -100500, "type": "supergroup", "title": "Friends"}


@pytest.fixture(autouse=True)
def _ivan_published(ivan):
    """Every test here talks to Ivan."""


@pytest.fixture
async def linked_user(webhook, fake_telegram):
    user = await sync_to_async(UserFactory)(email="masha@example.com", language="en")
    issued = await sync_to_async(link_code_issue)(user=user)
    await link_via_bot(webhook, issued.code)
    fake_telegram.calls.clear()
    return user


def _messages(user):
    return list(Message.objects.filter(conversation__user=user).order_by("id").values("role", "content", "platform"))


async def test_a_message_round_trip_stores_both_messages_and_delivers_the_reply(webhook, fake_telegram, linked_user):
    await webhook(message_update("Hello Ivan, how are you?"))

    assert fake_telegram.calls_of("sendChatAction")[0].params["action"] == "typing"
    [sent] = fake_telegram.calls_of("sendMessage")
    assert sent.params["text"] == "Ivan here. You said: Hello Ivan, how are you?"
    stored = await sync_to_async(_messages)(linked_user)
    assert stored == [
        {"role": "user", "content": "Hello Ivan, how are you?", "platform": "telegram"},
        {"role": "assistant", "content": "Ivan here. You said: Hello Ivan, how are you?", "platform": "telegram"},
    ]
    reply = await Message.objects.aget(conversation__user=linked_user, role="assistant")
    buttons = sent.params["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["👍", "👎"]
    assert [b["callback_data"] for b in buttons] == [f"fb:{reply.pk}:1", f"fb:{reply.pk}:-1"]


async def test_a_long_reply_is_split_at_paragraphs_under_4096_characters(webhook, fake_telegram, linked_user, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 20_000
    paragraph = ("Ivan talks about rivers and code. " * 25).strip()  # ~850 characters
    long_text = "\n\n".join(f"{i}. {paragraph}" for i in range(7))  # ~6,000 characters

    await webhook(message_update(long_text))

    parts = [call.params["text"] for call in fake_telegram.calls_of("sendMessage")]
    assert len(parts) == 2
    assert all(len(part) <= 4096 for part in parts)
    assert parts[1].startswith("5. ") or parts[1].startswith("4. ")  # cut at a paragraph start
    assert "reply_markup" not in fake_telegram.calls_of("sendMessage")[0].params
    assert "reply_markup" in fake_telegram.calls_of("sendMessage")[1].params
    assert "\n\n".join(parts) == "Ivan here. You said: " + long_text


async def test_hostile_characters_in_a_reply_are_escaped(webhook, fake_telegram, linked_user):
    await webhook(message_update('<b>hi</b> & <a href="x">y</a> <script>alert(1)</script>'))

    [sent] = fake_telegram.calls_of("sendMessage")
    assert sent.params["parse_mode"] == "HTML"
    assert sent.params["text"] == (
        'Ivan here. You said: &lt;b&gt;hi&lt;/b&gt; &amp; &lt;a href="x"&gt;y&lt;/a&gt; '
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    )


async def test_thumbs_up_feeds_the_same_feedback_as_the_web(webhook, fake_telegram, linked_user):
    await webhook(message_update("Rate me"))
    reply = await Message.objects.aget(conversation__user=linked_user, role="assistant")

    await webhook(callback_update(f"fb:{reply.pk}:1"))

    await reply.arefresh_from_db()
    assert reply.rating == 1
    assert fake_telegram.calls_of("answerCallbackQuery")[0].params["text"] == "Thanks for the feedback!"
    [edit] = fake_telegram.calls_of("editMessageReplyMarkup")
    assert edit.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "👍 ✓"


async def test_feedback_on_someone_elses_message_is_refused(webhook, fake_telegram, linked_user):
    other = await sync_to_async(UserFactory)()
    turn = await sync_to_async(chat_reply)(user=other, text="mine", platform=Platform.WEB)

    await webhook(callback_update(f"fb:{turn.reply.pk}:-1"))

    await turn.reply.arefresh_from_db()
    assert turn.reply.rating is None
    assert fake_telegram.calls_of("answerCallbackQuery")[0].params["text"] == "That message isn't available any more."


async def test_a_telegram_message_appears_live_on_the_users_web_chat(webhook, fake_telegram, linked_user):
    socket = WebsocketCommunicator(application, "/ws/chat/", headers=[(b"origin", b"http://localhost")])
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"type": "auth", "token": str(AccessToken.for_user(linked_user))})
    assert (await socket.receive_json_from(timeout=5))["type"] == "ready"

    await webhook(message_update("Hi from Telegram"))

    created = await socket.receive_json_from(timeout=5)
    ended = await socket.receive_json_from(timeout=5)
    await socket.disconnect()
    assert created["type"] == "message.created"
    assert created["message"]["content"] == "Hi from Telegram"
    assert created["message"]["platform"] == "telegram"
    assert ended["type"] == "reply.end"
    assert ended["message"]["content"] == "Ivan here. You said: Hi from Telegram"


async def test_a_conversation_begun_on_the_web_continues_in_telegram(webhook, fake_telegram, linked_user):
    web_turn = await sync_to_async(chat_reply)(user=linked_user, text="My dog is called Sharik", platform=Platform.WEB)

    await webhook(message_update("What is my dog called?"))

    assert await Conversation.objects.filter(user=linked_user).acount() == 1
    telegram_message = await Message.objects.aget(conversation__user=linked_user, platform="telegram", role="user")
    assert telegram_message.conversation_id == web_turn.conversation.pk
    from chat.llm.providers.fake import RECORDER

    prompt_text = " ".join(str(m["content"]) for m in RECORDER.last.messages)
    assert "My dog is called Sharik" in prompt_text


async def test_new_starts_a_fresh_conversation(webhook, fake_telegram, linked_user):
    await webhook(message_update("first talk"))

    await webhook(message_update("/new"))
    await webhook(message_update("second talk"))

    conversations = [c async for c in Conversation.objects.filter(user=linked_user).order_by("id")]
    assert len(conversations) == 2
    assert await Message.objects.filter(conversation=conversations[1], content="second talk").aexists()
    assert "New conversation" in fake_telegram.calls_of("sendMessage")[1].params["text"]


async def test_llm_failure_gets_an_in_character_answer(webhook, fake_telegram, linked_user):
    await webhook(message_update("[[fail]] please"))

    [sent] = fake_telegram.calls_of("sendMessage")
    assert sent.params["text"] == "My head isn't working right now — try again in a minute."


async def test_a_sticker_gets_a_polite_answer(webhook, fake_telegram, linked_user):
    sticker = {
        "file_id": "f",
        "file_unique_id": "u",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }

    await webhook(message_update(None, extra={"sticker": sticker}, language="ru"))

    [sent] = fake_telegram.calls_of("sendMessage")
    assert "читаю только текст" in sent.params["text"] or "only read text" in sent.params["text"]
    assert await sync_to_async(_messages)(linked_user) == []


async def test_in_a_group_the_bot_stays_quiet_unless_mentioned(webhook, fake_telegram, linked_user):
    await webhook(message_update("just chatting among friends", chat=GROUP))

    assert fake_telegram.calls_of("sendMessage") == []


async def test_in_a_group_a_mention_gets_a_threaded_reply(webhook, fake_telegram, linked_user):
    text = f"@{BOT_USERNAME} what do you think?"
    update = message_update(
        text, chat=GROUP, extra={"entities": [{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}]}
    )

    await webhook(update)

    [sent] = fake_telegram.calls_of("sendMessage")
    assert sent.params["text"] == "Ivan here. You said: what do you think?"
    assert sent.params["chat_id"] == str(GROUP["id"])
    assert sent.params["reply_parameters"]["message_id"] == update["message"]["message_id"]


async def test_in_a_group_a_reply_to_the_bot_is_answered(webhook, fake_telegram, linked_user):
    bot_message = {
        "message_id": 5,
        "date": 0,
        "chat": GROUP,
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Ivan"},
        "text": "hi",
    }

    await webhook(message_update("and you?", chat=GROUP, extra={"reply_to_message": bot_message}))

    [sent] = fake_telegram.calls_of("sendMessage")
    assert sent.params["text"] == "Ivan here. You said: and you?"


async def test_an_unlinked_user_chats_as_a_guest(webhook, fake_telegram):
    await webhook(message_update("hello, who are you?"))

    account = await TelegramAccount.objects.select_related("guest_user").aget(telegram_user_id=TG_USER_ID)
    assert account.user_id is None
    assert account.guest_user.is_guest
    assert await Message.objects.filter(conversation__user=account.guest_user, platform="telegram").acount() == 2
    assert fake_telegram.calls_of("sendMessage")[0].params["text"] == "Ivan here. You said: hello, who are you?"


async def test_guests_have_a_stricter_rate_limit_and_are_told_once(webhook, fake_telegram, settings):
    settings.TELEGRAM_GUEST_RATE_LIMIT_PER_MIN = 2

    for i in range(4):
        await webhook(message_update(f"message {i}"))

    texts = [call.params["text"] for call in fake_telegram.calls_of("sendMessage")]
    assert texts == [
        "Ivan here. You said: message 0",
        "Ivan here. You said: message 1",
        "Slow down a little — give me a minute to catch up.",
    ]


async def test_linking_moves_the_guest_conversation_into_the_account(webhook, fake_telegram):
    await webhook(message_update("I was a guest here"))
    guest_id = (await TelegramAccount.objects.aget(telegram_user_id=TG_USER_ID)).guest_user_id
    user = await sync_to_async(UserFactory)()
    issued = await sync_to_async(link_code_issue)(user=user)

    await link_via_bot(webhook, issued.code)

    assert not await User.objects.filter(pk=guest_id).aexists()
    assert await Message.objects.filter(conversation__user=user, content="I was a guest here").aexists()
    assert "guest chat moved" in fake_telegram.calls_of("editMessageText")[-1].params["text"]


async def test_with_guest_chat_off_unlinked_users_only_get_the_intro(webhook, fake_telegram, settings):
    settings.TELEGRAM_GUEST_CHAT = False

    await webhook(message_update("hello?"))
    await webhook(message_update("/start"))

    texts = [call.params["text"] for call in fake_telegram.calls_of("sendMessage")]
    assert "Guest chat is turned off" in texts[0]
    assert "only talk to people who have linked" in texts[1]
    assert not await Message.objects.aexists()


async def test_memory_lists_facts_and_forget_deletes_them_after_confirmation(webhook, fake_telegram, linked_user):
    from chat.models import MemoryFact

    await MemoryFact.objects.acreate(
        user=linked_user, key="dog_name", value="Sharik", text="Their dog is called Sharik"
    )

    await webhook(message_update("/memory"))
    await webhook(message_update("/forget"))
    ask = fake_telegram.calls_of("sendMessage")[-1]
    await webhook(callback_update("forget:yes"))

    listing = fake_telegram.calls_of("sendMessage")[0].params["text"]
    assert "Their dog is called Sharik" in listing
    assert [b["callback_data"] for b in ask.params["reply_markup"]["inline_keyboard"][0]] == ["forget:yes", "forget:no"]
    assert not await MemoryFact.objects.filter(user=linked_user).aexists()
    assert "forgotten" in fake_telegram.calls_of("editMessageText")[0].params["text"]


async def test_about_tells_ivans_bio(webhook, fake_telegram, linked_user):
    await webhook(message_update("/about"))

    [sent] = fake_telegram.calls_of("sendMessage")
    assert sent.params["text"].startswith("<b>")


async def test_a_guest_keeps_only_a_few_long_term_facts(webhook, fake_telegram, settings):
    from chat.models import MemoryFact

    settings.TELEGRAM_GUEST_MEMORY_FACTS = 2
    await webhook(message_update("hi"))
    guest = (await TelegramAccount.objects.select_related("guest_user").aget(telegram_user_id=TG_USER_ID)).guest_user
    for i in range(4):
        await MemoryFact.objects.acreate(user=guest, key=f"fact_{i}", value=str(i), text=f"fact number {i}")

    await webhook(message_update("tell me something"))

    kept = [fact.text async for fact in MemoryFact.objects.filter(user=guest).order_by("key")]
    assert kept == ["fact number 2", "fact number 3"]


async def test_after_unlinking_the_conversations_stay_with_the_account(webhook, fake_telegram, linked_user):
    await webhook(message_update("said while linked"))

    await webhook(message_update("/unlink"))
    await webhook(message_update("said as a guest again"))

    assert await Message.objects.filter(conversation__user=linked_user, content="said while linked").aexists()
    assert not await Message.objects.filter(conversation__user=linked_user, content="said as a guest again").aexists()
    account = await TelegramAccount.objects.select_related("guest_user").aget(telegram_user_id=TG_USER_ID)
    assert await Message.objects.filter(
        conversation__user=account.guest_user, content="said as a guest again"
    ).aexists()


async def test_a_group_reply_never_carries_the_mentioning_users_private_context(
    webhook, fake_telegram, linked_user, monkeypatch
):
    from chat.context import ContextItem, _providers
    from chat.llm.providers.fake import RECORDER
    from chat.models import MemoryFact

    await sync_to_async(chat_reply)(user=linked_user, text="My salary is 9000 euros", platform=Platform.WEB)
    await MemoryFact.objects.acreate(user=linked_user, key="diagnosis", value="asthma", text="The user has asthma")
    monkeypatch.setitem(
        _providers,
        "private-calendar",
        # Like the integrations provider: the synced data of the user asked about, nobody else's.
        lambda user, text: (
            [ContextItem(text="Meeting with the divorce lawyer", source="calendar")]
            if user.pk == linked_user.pk
            else []
        ),
    )
    update = message_update(
        f"@{BOT_USERNAME} what do you know about me?",
        chat=GROUP,
        extra={"entities": [{"type": "mention", "offset": 0, "length": len(BOT_USERNAME) + 1}]},
    )

    await webhook(update)

    prompt_text = " ".join(str(m["content"]) for m in RECORDER.last.messages)
    assert "what do you know about me?" in prompt_text
    assert "9000 euros" not in prompt_text
    assert "asthma" not in prompt_text
    assert "divorce lawyer" not in prompt_text
    assert not await Message.objects.filter(conversation__user=linked_user, content__contains="know about me").aexists()
    [sent] = fake_telegram.calls_of("sendMessage")
    assert sent.params["chat_id"] == str(GROUP["id"])
