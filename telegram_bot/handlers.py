"""Bot handlers: read the update, call a service, answer. No chat logic lives here.

Text goes through chat.services.achat_reply (the one pipeline, platform=telegram); linking and
guests through telegram_bot.services; memory through chat's memory services.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from chat.errors import TurnInProgress
from digitalme.db import db_async
from digitalme.errors import DomainError
from digitalme.metrics import record_telegram_update
from telegram_bot import services
from telegram_bot.delivery import FEEDBACK_PATTERN, feedback_keyboard, reply_send, typing_action
from telegram_bot.models import TelegramAccount
from telegram_bot.texts import text

logger = logging.getLogger(__name__)

FORGET_PATTERN = r"^forget:(yes|no)$"
LINK_PATTERN = r"^link:(yes|no):([A-Z0-9]{4,32})$"
# Domain error codes of the chat pipeline that have their own in-character answer.
ERROR_TEXTS = {"rate_limited", "too_long", "llm_unavailable", "blocked"}

Context = ContextTypes.DEFAULT_TYPE

# The errors the handlers of the update being handled hit (on_error notes them), so the worker can
# tell a delivered update from one to try again (bot.update_process sets it per update).
handler_errors: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "telegram_handler_errors", default=None
)


def register(application: Application) -> None:
    """Add every handler to `application` (updates arrive stored and de-duplicated: services.update_store)."""
    application.add_handler(TypeHandler(Update, _skip_unknown), group=-1)
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("start", on_start, filters=private))
    application.add_handler(CommandHandler("help", on_help))
    application.add_handler(CommandHandler("about", on_about))
    application.add_handler(CommandHandler("new", on_new, filters=private))
    application.add_handler(CommandHandler("memory", on_memory, filters=private))
    application.add_handler(CommandHandler("forget", on_forget, filters=private))
    application.add_handler(CommandHandler("privacy", on_privacy, filters=private))
    application.add_handler(CommandHandler("unlink", on_unlink, filters=private))
    application.add_handler(CallbackQueryHandler(on_feedback, pattern=FEEDBACK_PATTERN))
    application.add_handler(CallbackQueryHandler(on_forget_answer, pattern=FORGET_PATTERN))
    application.add_handler(CallbackQueryHandler(on_link_answer, pattern=LINK_PATTERN))
    application.add_handler(CallbackQueryHandler(on_stale_button))
    new_message = filters.UpdateType.MESSAGE
    application.add_handler(MessageHandler(new_message & filters.TEXT & ~filters.COMMAND, on_text))
    application.add_handler(
        MessageHandler(
            new_message & private & ~filters.TEXT & ~filters.COMMAND & ~filters.StatusUpdate.ALL, on_non_text
        )
    )
    application.add_error_handler(on_error)


# --- plumbing --------------------------------------------------------------------------------


async def _skip_unknown(update: Update, context: Context) -> None:
    if update.message is None and update.callback_query is None:
        logger.info("telegram update of a kind we don't handle; ignored", extra={"update_id": update.update_id})
        raise ApplicationHandlerStop


def _profile(update: Update) -> services.TelegramProfile:
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    return services.TelegramProfile(
        telegram_user_id=user.id,
        chat_id=chat.id,
        username=user.username or "",
        first_name=user.first_name or "",
        language_code=user.language_code or "",
    )


async def _sender(update: Update) -> TelegramAccount:
    chat = update.effective_chat
    assert chat is not None
    return await db_async(services.telegram_account_touch)(
        profile=_profile(update), private_chat=chat.type == ChatType.PRIVATE
    )


def _language(account: TelegramAccount) -> str:
    return services.account_language(account=account)


async def _answer(update: Update, html: str, **kwargs) -> Message | None:
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(html, do_quote=message.chat.type != ChatType.PRIVATE, **kwargs)


def _addressed_text(message: Message, bot_id: int, bot_username: str) -> str | None:
    """The text meant for the bot in a group (mention removed), or None if the bot isn't addressed."""
    raw = message.text or ""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return raw
    mention = f"@{bot_username}".lower()
    for entity, value in message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION]).items():
        if (entity.type == MessageEntity.MENTION and value.lower() == mention) or (
            entity.user is not None and entity.user.id == bot_id
        ):
            return re.sub(re.escape(value), "", raw, count=1).strip()
    return None


# --- commands --------------------------------------------------------------------------------


async def on_start(update: Update, context: Context) -> None:
    account = await _sender(update)
    if context.args:
        await _ask_to_link(update, account, context.args[0])
        return
    language = _language(account)
    if account.user is not None:
        await _answer(update, text("start_linked", language, name=account.user.name))
    elif services.guest_chat_enabled():
        await _answer(update, text("start_guest", language))
    else:
        await _answer(update, text("start_intro_only", language))


async def _ask_to_link(update: Update, account: TelegramAccount, code: str) -> None:
    """`/start CODE` only asks: a deep link may be someone else's, so nothing links before "yes"."""
    language = _language(account)
    try:
        preview = await db_async(services.telegram_link_preview)(code=code, account=account)
    except services.TelegramBotError as exc:
        await _answer(update, text(exc.code, language))
        return
    question = [text("link_confirm", language, account=preview.account)]
    if preview.currently_linked_to:
        question.append(text("link_confirm_relink", language, current=preview.currently_linked_to))
    if preview.guest_history:
        question.append(text("link_confirm_guest", language))
    question.append(text("link_confirm_warning", language))
    code = code.strip().upper()
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(text("link_yes", language), callback_data=f"link:yes:{code}"),
                InlineKeyboardButton(text("link_no", language), callback_data=f"link:no:{code}"),
            ]
        ]
    )
    await _answer(update, "\n\n".join(question), reply_markup=keyboard)


async def on_link_answer(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    match = re.match(LINK_PATTERN, query.data)
    assert match is not None
    account = await _sender(update)
    language = _language(account)
    await query.answer()
    if match.group(1) != "yes":
        await query.edit_message_text(text("link_cancelled", language))
        return
    try:
        result = await db_async(services.telegram_link_confirm)(code=match.group(2), account=account)
    except services.TelegramBotError as exc:
        await query.edit_message_text(text(exc.code, language))
        return
    language = result.user.language
    reply = text("linked", language, account=result.user.email)
    if result.guest_history_moved:
        reply += "\n" + text("linked_guest_moved", language)
    await query.edit_message_text(reply)
    if result.unlinked_chat_id is not None:
        with contextlib.suppress(Forbidden, BadRequest):  # that chat blocked the bot or is gone
            await context.bot.send_message(
                chat_id=result.unlinked_chat_id, text=text("link_moved_away", language, account=result.user.email)
            )


async def on_help(update: Update, context: Context) -> None:
    account = await _sender(update)
    await _answer(update, text("help", _language(account)))


async def on_privacy(update: Update, context: Context) -> None:
    account = await _sender(update)
    await _answer(update, text("privacy", _language(account)))


async def on_about(update: Update, context: Context) -> None:
    from personality.selectors import persona_profile_live

    account = await _sender(update)
    try:
        profile = await db_async(persona_profile_live)()
    except DomainError:  # no published persona yet
        await _answer(update, text("error", _language(account)))
        return
    bio = "\n\n".join(part for part in (profile.short_bio, profile.description) if part)
    await _answer(update, text("about", _language(account), name=profile.name, bio=bio))


async def on_unlink(update: Update, context: Context) -> None:
    account = await _sender(update)
    language = _language(account)
    unlinked = await db_async(services.telegram_unlink)(account=account)
    await _answer(update, text("unlinked" if unlinked else "not_linked", language))


async def on_new(update: Update, context: Context) -> None:
    from chat.models import Platform
    from chat.services import conversation_create

    account = await _sender(update)
    language = _language(account)
    user = await db_async(services.telegram_chat_user)(account=account)
    if user is None:
        await _answer(update, text("guest_disabled", language))
        return
    await db_async(conversation_create)(user=user, platform=Platform.TELEGRAM)
    await _answer(update, text("new", language))


async def on_memory(update: Update, context: Context) -> None:
    from chat.selectors import memory_fact_list

    account = await _sender(update)
    language = _language(account)
    user = await db_async(services.telegram_chat_user)(account=account)
    if user is None:
        await _answer(update, text("guest_disabled", language))
        return
    memories = await db_async(lambda: list(memory_fact_list(user=user)))()
    if not memories:
        await _answer(update, text("memory_empty", language))
        return
    listing = "\n".join([text("memory_title", language), *(f"• {memory.text}" for memory in memories)])
    await reply_send(context.bot, chat_id=account.chat_id, text=listing, feedback_message_id=None)


async def on_forget(update: Update, context: Context) -> None:
    account = await _sender(update)
    language = _language(account)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(text("forget_yes", language), callback_data="forget:yes"),
                InlineKeyboardButton(text("forget_no", language), callback_data="forget:no"),
            ]
        ]
    )
    await _answer(update, text("forget_ask", language), reply_markup=keyboard)


async def on_forget_answer(update: Update, context: Context) -> None:
    from chat.services import memory_delete_all

    query = update.callback_query
    assert query is not None
    account = await _sender(update)
    language = _language(account)
    await query.answer()
    if query.data != "forget:yes":
        await query.edit_message_text(text("forget_cancelled", language))
        return
    user = await db_async(services.telegram_chat_user)(account=account)
    if user is not None:
        await db_async(memory_delete_all)(user=user)
    await query.edit_message_text(text("forget_done", language))


# --- messages --------------------------------------------------------------------------------


async def on_text(update: Update, context: Context) -> None:
    from chat.models import Platform
    from chat.services import achat_reply

    message = update.message
    assert message is not None and message.text is not None
    chat_id = message.chat.id
    is_private = message.chat.type == ChatType.PRIVATE
    content: str | None = message.text
    if not is_private:
        content = _addressed_text(message, context.bot.id, context.bot.username)
        if not content:
            return
    # The sender and what the turn needs, in one database hop.
    account, start = await db_async(services.telegram_text_start)(
        profile=_profile(update),
        private_chat=is_private,
        group_title=None if is_private else (message.chat.title or ""),
    )
    language = _language(account)
    if start.user is None:
        await _answer(update, text("guest_disabled", language))
        return
    if not start.rate.allowed:
        if start.rate.notify:
            await _answer(update, text("rate_limited", language))
        return
    try:
        async with typing_action(context.bot, chat_id):
            turn = await achat_reply(
                user=start.user,
                text=content,
                platform=Platform.TELEGRAM,
                conversation=start.conversation,
                client_id=f"tg:{update.update_id}",
            )
    except TurnInProgress:
        raise  # this update's reply is being written elsewhere (a worker that died holds it): retry later
    except DomainError as exc:
        if exc.code not in ERROR_TEXTS:
            logger.warning("chat pipeline refused a telegram message", extra={"code": exc.code})
        await _answer(update, text(exc.code if exc.code in ERROR_TEXTS else "error", language))
        return
    await reply_send(
        context.bot,
        chat_id=chat_id,
        text=turn.reply.content,
        feedback_message_id=turn.reply.id,
        reply_to=None if is_private else message.message_id,
    )


async def on_non_text(update: Update, context: Context) -> None:
    account = await _sender(update)
    await _answer(update, text("non_text", _language(account)))


async def on_feedback(update: Update, context: Context) -> None:
    from chat.services import message_feedback

    query = update.callback_query
    assert query is not None and query.data is not None
    match = re.match(FEEDBACK_PATTERN, query.data)
    assert match is not None
    message_id, rating = int(match.group(1)), int(match.group(2))
    account = await _sender(update)
    language = _language(account)
    chat = update.effective_chat
    user = await db_async(services.telegram_feedback_user)(
        account=account,
        chat_id=chat.id if chat else account.chat_id,
        private_chat=chat is None or chat.type == ChatType.PRIVATE,
    )
    try:
        if user is None:
            raise services.TelegramBotError("no chat user")
        await db_async(message_feedback)(user=user, message_id=message_id, rating=rating)
    except (DomainError, Http404, ObjectDoesNotExist):
        await query.answer(text("feedback_gone", language))
        return
    await query.answer(text("feedback_thanks", language))
    with contextlib.suppress(BadRequest):  # "message is not modified" when the same button is pressed twice
        await query.edit_message_reply_markup(reply_markup=feedback_keyboard(message_id, chosen=rating))


async def on_stale_button(update: Update, context: Context) -> None:
    """A button we no longer know (an old keyboard): answer so the client stops its spinner."""
    assert update.callback_query is not None
    await update.callback_query.answer()


async def on_error(update: object, context: Context) -> None:
    """Last stop for handler errors: a blocked bot is recorded; anything else is logged, never raised."""
    error = context.error
    chat = update.effective_chat if isinstance(update, Update) else None
    if isinstance(error, Forbidden) and chat is not None:
        await db_async(services.telegram_account_mark_blocked)(chat_id=chat.id)
        return
    errors = handler_errors.get()
    if errors is not None:
        errors.append(error)  # type: ignore[arg-type]
    record_telegram_update(failed=True)
    logger.error(
        "telegram handler failed",
        exc_info=error,
        extra={"update_id": update.update_id if isinstance(update, Update) else None},
    )
