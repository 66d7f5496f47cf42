"""What the bot says, in Russian and English. Values are HTML (Telegram's HTML parse mode).

Placeholders are filled by `text(key, language, **values)`, which escapes the values.
"""

from __future__ import annotations

import html

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "start_linked": "Hi, {name}! It's Ivan. Your Telegram is linked to your DigitalMe account, so I remember "
        "what we talked about on the web too. Just write to me.",
        "start_guest": "Hi! I'm Ivan — well, my digital clone. Write to me about anything.\n\n"
        "You're chatting as a guest: I keep only a little of our talk and answer a bit slower. "
        "To have one memory with the web, open <b>Settings → Telegram</b> on the site and tap the link there.",
        "start_intro_only": "Hi! I'm Ivan's digital clone. Here I only talk to people who have linked their "
        "DigitalMe account: open <b>Settings → Telegram</b> on the site and tap the link there.",
        "linked": "Done — this Telegram is now linked to <b>{account}</b>. We continue your latest conversation; "
        "/new starts a fresh one.",
        "linked_guest_moved": "Our guest chat moved into your account as well.",
        "link_confirm": "Link this Telegram to the DigitalMe account <b>{account}</b>? From then on this chat "
        "shares its conversations and memory with that account.",
        "link_confirm_relink": "This Telegram is currently linked to <b>{current}</b>; it would move.",
        "link_confirm_guest": "Our guest chat would move into that account too.",
        "link_confirm_warning": "Only say yes if you got this link from your own <b>Settings → Telegram</b> page.",
        "link_yes": "Yes, link it",
        "link_no": "No",
        "link_cancelled": "Not linked. Nothing changed.",
        "link_moved_away": "This Telegram is no longer linked to <b>{account}</b>: the account was linked to "
        "another Telegram. If that wasn't you, change your password on the site.",
        "link_invalid": "That link code doesn't work. Get a fresh one in <b>Settings → Telegram</b> on the site.",
        "link_expired": "That link code has expired (they last 10 minutes). Get a fresh one in "
        "<b>Settings → Telegram</b> on the site.",
        "link_used": "That link code was already used. Get a fresh one in <b>Settings → Telegram</b> on the site.",
        "unlinked": "Unlinked. Your conversations stay in your DigitalMe account; here you're a guest again.",
        "not_linked": "This Telegram isn't linked to a DigitalMe account.",
        "help": "I'm Ivan's digital clone. Just write to me — I answer as Ivan.\n\n"
        "/new — start a new conversation\n"
        "/about — who I am\n"
        "/memory — what I remember about you\n"
        "/forget — make me forget it\n"
        "/privacy — what is stored and where\n"
        "/unlink — unlink this Telegram from your account",
        "new": "New conversation started. What's on your mind?",
        "about": "<b>{name}</b>\n\n{bio}",
        "memory_empty": "I don't remember anything in particular about you yet.",
        "memory_title": "What I remember about you:",
        "forget_ask": "Should I forget everything I remember about you? Our conversations stay; "
        "only the long-term memory goes.",
        "forget_yes": "Yes, forget",
        "forget_no": "No, keep it",
        "forget_done": "Done — I've forgotten what I knew about you.",
        "forget_cancelled": "Okay, I keep remembering.",
        "privacy": "<b>Privacy</b>\n\nYour messages and my answers are stored in your DigitalMe account "
        "(as a guest: in a guest account tied to this Telegram) so I can keep the conversation going. "
        "I remember a few facts you tell me; /memory shows them and /forget deletes them. "
        "Deleting your account on the site deletes everything, including this link. "
        "Nothing is shared with other users.",
        "non_text": "Ah, I can't look at that here — I only read text. Tell me in words and I'll answer.",
        "rate_limited": "Slow down a little — give me a minute to catch up.",
        "too_long": "That's too long for one message. Could you split it up?",
        "llm_unavailable": "My head isn't working right now — try again in a minute.",
        "blocked": "Let's not go there. Ask me something else.",
        "error": "Something went wrong on my side. Try again in a minute.",
        "feedback_thanks": "Thanks for the feedback!",
        "feedback_gone": "That message isn't available any more.",
        "guest_disabled": "Guest chat is turned off. Link your DigitalMe account: open <b>Settings → Telegram</b> "
        "on the site and tap the link there.",
        "cmd_start": "Start or link your account",
        "cmd_help": "What I can do",
        "cmd_new": "Start a new conversation",
        "cmd_about": "Who Ivan is",
        "cmd_memory": "What I remember about you",
        "cmd_forget": "Forget what I remember about you",
        "cmd_privacy": "What is stored",
        "cmd_unlink": "Unlink your account",
    },
    "ru": {
        "start_linked": "Привет, {name}! Это Иван. Твой Telegram привязан к аккаунту DigitalMe, так что я помню "
        "и наши разговоры на сайте. Просто пиши.",
        "start_guest": "Привет! Я Иван — точнее, мой цифровой двойник. Пиши о чём угодно.\n\n"
        "Ты сейчас гость: я запоминаю немного и отвечаю чуть реже. Чтобы память была общей с сайтом, "
        "открой на сайте <b>Настройки → Telegram</b> и нажми на ссылку.",
        "start_intro_only": "Привет! Я цифровой двойник Ивана. Здесь я разговариваю только с теми, кто привязал "
        "аккаунт DigitalMe: открой на сайте <b>Настройки → Telegram</b> и нажми на ссылку.",
        "linked": "Готово — этот Telegram привязан к <b>{account}</b>. Продолжаем твой последний разговор; "
        "/new начнёт новый.",
        "linked_guest_moved": "Наш гостевой разговор тоже перенесён в аккаунт.",
        "link_confirm": "Привязать этот Telegram к аккаунту DigitalMe <b>{account}</b>? После этого этот чат "
        "будет делить разговоры и память с этим аккаунтом.",
        "link_confirm_relink": "Сейчас этот Telegram привязан к <b>{current}</b>; привязка перейдёт.",
        "link_confirm_guest": "Наш гостевой разговор тоже перейдёт в тот аккаунт.",
        "link_confirm_warning": "Соглашайся, только если взял эту ссылку на своей странице "
        "<b>Настройки → Telegram</b>.",
        "link_yes": "Да, привязать",
        "link_no": "Нет",
        "link_cancelled": "Не привязал. Ничего не изменилось.",
        "link_moved_away": "Этот Telegram больше не привязан к <b>{account}</b>: аккаунт привязали к другому "
        "Telegram. Если это был не ты, смени пароль на сайте.",
        "link_invalid": "Этот код не подходит. Возьми новый на сайте в <b>Настройки → Telegram</b>.",
        "link_expired": "Срок кода истёк (он живёт 10 минут). Возьми новый на сайте в <b>Настройки → Telegram</b>.",
        "link_used": "Этот код уже использован. Возьми новый на сайте в <b>Настройки → Telegram</b>.",
        "unlinked": "Отвязал. Разговоры остались в твоём аккаунте DigitalMe; здесь ты снова гость.",
        "not_linked": "Этот Telegram не привязан к аккаунту DigitalMe.",
        "help": "Я цифровой двойник Ивана. Просто пиши — отвечаю как Иван.\n\n"
        "/new — начать новый разговор\n"
        "/about — кто я\n"
        "/memory — что я о тебе помню\n"
        "/forget — забыть это\n"
        "/privacy — что и где хранится\n"
        "/unlink — отвязать Telegram от аккаунта",
        "new": "Начали новый разговор. О чём поговорим?",
        "about": "<b>{name}</b>\n\n{bio}",
        "memory_empty": "Пока я ничего особенного о тебе не запомнил.",
        "memory_title": "Что я о тебе помню:",
        "forget_ask": "Забыть всё, что я о тебе помню? Разговоры останутся, удалится только долгая память.",
        "forget_yes": "Да, забудь",
        "forget_no": "Нет, оставь",
        "forget_done": "Готово — я забыл всё, что о тебе знал.",
        "forget_cancelled": "Хорошо, продолжаю помнить.",
        "privacy": "<b>Приватность</b>\n\nТвои сообщения и мои ответы хранятся в твоём аккаунте DigitalMe "
        "(у гостя — в гостевом аккаунте этого Telegram), чтобы я мог продолжать разговор. "
        "Я запоминаю несколько фактов, которые ты рассказываешь; /memory их показывает, /forget удаляет. "
        "Удаление аккаунта на сайте удаляет всё, включая эту привязку. Другим пользователям ничего не видно.",
        "non_text": "Ох, это я тут посмотреть не могу — читаю только текст. Напиши словами, и я отвечу.",
        "rate_limited": "Погоди немного — дай минуту, я не успеваю.",
        "too_long": "Это слишком длинно для одного сообщения. Разбей, пожалуйста, на части.",
        "llm_unavailable": "Голова сейчас не варит — попробуй через минуту.",
        "blocked": "Давай не будем об этом. Спроси что-нибудь другое.",
        "error": "У меня что-то сломалось. Попробуй через минуту.",
        "feedback_thanks": "Спасибо за отзыв!",
        "feedback_gone": "Это сообщение больше недоступно.",
        "guest_disabled": "Гостевой чат выключен. Привяжи аккаунт DigitalMe: открой на сайте "
        "<b>Настройки → Telegram</b> и нажми на ссылку.",
        "cmd_start": "Начать или привязать аккаунт",
        "cmd_help": "Что я умею",
        "cmd_new": "Начать новый разговор",
        "cmd_about": "Кто такой Иван",
        "cmd_memory": "Что я о тебе помню",
        "cmd_forget": "Забыть, что я о тебе помню",
        "cmd_privacy": "Что хранится",
        "cmd_unlink": "Отвязать аккаунт",
    },
}

COMMANDS = ("start", "help", "new", "about", "memory", "forget", "privacy", "unlink")


def language_for(code: str | None) -> str:
    """Our language for a user's language or Telegram's `language_code` ("ru-RU" → "ru")."""
    return "ru" if (code or "").lower().startswith("ru") else "en"


def text(key: str, language: str, **values: object) -> str:
    template = TEXTS.get(language, TEXTS["en"]).get(key) or TEXTS["en"][key]
    return template.format(**{name: html.escape(str(value), quote=False) for name, value in values.items()})
