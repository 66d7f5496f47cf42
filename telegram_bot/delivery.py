"""Sending Ivan's reply to Telegram: typing action while he thinks, split and escaped parts,
👍/👎 buttons on the last part.

Replies are sent whole, not edited progressively: one message (or a few for long replies) per
answer keeps us far from Telegram's edit flood limits (about one edit per second per chat), a
failed generation never leaves half a message behind, and the user gets a notification for the
finished answer. The typing action shows that Ivan is writing in the meantime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ChatAction

from telegram_bot.formatting import split_message, to_html

logger = logging.getLogger(__name__)

TYPING_REFRESH_S = 4.5  # Telegram shows a chat action for about 5 seconds
FEEDBACK_PATTERN = r"^fb:(\d+):(1|-1)$"


def feedback_keyboard(message_id: int, chosen: int | None = None) -> InlineKeyboardMarkup:
    def label(emoji: str, rating: int) -> str:
        return f"{emoji} ✓" if chosen == rating else emoji

    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(label("👍", 1), callback_data=f"fb:{message_id}:1"),
                InlineKeyboardButton(label("👎", -1), callback_data=f"fb:{message_id}:-1"),
            ]
        ]
    )


@contextlib.asynccontextmanager
async def typing_action(bot: Bot, chat_id: int) -> AsyncIterator[None]:
    """Keep "typing…" visible in the chat until the block ends."""

    async def keep_typing() -> None:
        while True:
            try:
                await bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
            except Exception as exc:  # noqa: BLE001 - cosmetic: never let it break the reply
                logger.info("typing action failed", extra={"chat_id": chat_id, "error": type(exc).__name__})
                return
            await asyncio.sleep(TYPING_REFRESH_S)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def reply_send(
    bot: Bot, *, chat_id: int, text: str, feedback_message_id: int | None, reply_to: int | None = None
) -> list[int]:
    """Send `text` as one or more HTML messages; returns the Telegram message ids."""
    parts = split_message(text) or ["…"]
    sent: list[int] = []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        message = await bot.send_message(
            chat_id=chat_id,
            text=to_html(part),
            reply_markup=feedback_keyboard(feedback_message_id) if last and feedback_message_id else None,
            reply_parameters=ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
            if reply_to and index == 0
            else None,
        )
        sent.append(message.message_id)
    # ops: with the update's request id, this line ends a Telegram message's life in the logs.
    logger.info("telegram reply sent", extra={"parts": len(sent), "reply_to": reply_to})
    return sent
