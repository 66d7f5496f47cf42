"""The python-telegram-bot Application: one per process, built the same way for webhook and polling.

Webhook mode (daphne): the webhook view hands each update to `process_update_in_background`,
which runs it on the server's event loop after the request has been answered.
Polling mode (`manage.py run_telegram_bot`): PTB's Updater fetches updates; the same handlers run.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from telegram import Bot, BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, Defaults, SimpleUpdateProcessor

from digitalme.metrics import record_telegram_update
from digitalme.request_id import current_request_id
from telegram_bot import handlers
from telegram_bot.resilience import RetryingRateLimiter
from telegram_bot.services import bot_state_update, webhook_info_fields
from telegram_bot.texts import COMMANDS, text

logger = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query"]
# Updates handled at once per process. Each holds a database connection while Ivan thinks, so
# this stays well below the connection pool size (DB_POOL_MAX_SIZE, 20); the rest wait their turn.
CONCURRENT_UPDATES = 8


def _api_base() -> str:
    return f"{settings.TELEGRAM_API_BASE_URL}/bot"


def _file_base() -> str:
    return f"{settings.TELEGRAM_API_BASE_URL}/file/bot"


class UpdateInItsOwnThread(SimpleUpdateProcessor):
    """Handles each update like Django handles a request: its sync (ORM) calls share one thread of
    their own, whose database connection goes back to the pool when the update is done."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # ops: the update's log lines, Celery tasks and Sentry events carry one id — the webhook
        # request's when it came through the webhook, else one named after the update.
        token = None
        if current_request_id.get() == "-":
            token = current_request_id.set(f"tg-update-{getattr(update, 'update_id', 0)}")
        async with ThreadSensitiveContext():
            try:
                await coroutine
            finally:
                record_telegram_update()
                await sync_to_async(close_old_connections)()
                if token is not None:
                    current_request_id.reset(token)


def build_application(*, polling: bool) -> Application:
    """A configured Application (not yet initialized). Polling mode also de-duplicates updates itself."""
    if not settings.TELEGRAM_BOT_TOKEN:
        raise RuntimeError("TELEGRAM_BOT_TOKEN is not set.")
    builder = (
        ApplicationBuilder()
        .token(settings.TELEGRAM_BOT_TOKEN)
        .base_url(_api_base())
        .base_file_url(_file_base())
        .rate_limiter(RetryingRateLimiter())
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .concurrent_updates(UpdateInItsOwnThread(CONCURRENT_UPDATES))
        .connection_pool_size(CONCURRENT_UPDATES * 2 + 4)
        .post_init(_remember_bot_identity)
    )
    if not polling:
        builder = builder.updater(None)
    application = builder.build()
    handlers.register(application, deduplicate=polling)
    return application


async def _remember_bot_identity(application: Application) -> None:
    me = application.bot.bot
    await sync_to_async(bot_state_update)(bot_id=me.id, bot_username=me.username or "")


def plain_bot() -> Bot:
    """A bare Bot for one-off calls (commands, health refresh) outside the Application."""
    return Bot(settings.TELEGRAM_BOT_TOKEN, base_url=_api_base(), base_file_url=_file_base())


def bot_identity_fetch() -> str:
    """Ask Telegram who the bot is (getMe), remember it in BotState and return its username."""
    from asgiref.sync import async_to_sync

    async def fetch() -> tuple[int, str]:
        async with plain_bot() as bot:
            return bot.bot.id, bot.bot.username or ""

    bot_id, username = async_to_sync(fetch)()
    bot_state_update(bot_id=bot_id, bot_username=username)
    return username


# --- webhook mode: one initialized Application per event loop of this process ----------------

_webhook_app: tuple[asyncio.AbstractEventLoop, Application] | None = None
_webhook_app_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
_background: set[asyncio.Task] = set()


async def webhook_application() -> Application:
    """The process's Application for webhook updates, initialized (getMe) on first use."""
    global _webhook_app, _webhook_app_lock
    loop = asyncio.get_running_loop()
    if _webhook_app is not None and _webhook_app[0] is loop:
        return _webhook_app[1]
    if _webhook_app_lock is None or _webhook_app_lock[0] is not loop:
        _webhook_app_lock = (loop, asyncio.Lock())
    async with _webhook_app_lock[1]:
        if _webhook_app is not None and _webhook_app[0] is loop:
            return _webhook_app[1]
        application = build_application(polling=False)
        await application.initialize()
        _webhook_app = (loop, application)
        return application


async def background_wait() -> None:
    """Wait until every webhook update started so far has been handled."""
    while _background:
        await asyncio.gather(*list(_background), return_exceptions=True)


async def webhook_application_shutdown() -> None:
    """Wait for updates in flight, then close the Application's connections (tests, server shutdown)."""
    global _webhook_app
    await background_wait()
    if _webhook_app is not None and _webhook_app[0] is asyncio.get_running_loop():
        await _webhook_app[1].shutdown()
    _webhook_app = None


def process_update_in_background(data: dict[str, Any], *, request_id: str = "-") -> asyncio.Task:
    """Start processing a webhook update on this event loop and return at once."""
    # A fresh context: the request's one carries asgiref's per-request sync thread, which is
    # torn down once the response is sent. Only the request id is carried over (ops).
    context = contextvars.Context()
    context.run(current_request_id.set, request_id)
    task = asyncio.get_running_loop().create_task(_process_update(data), context=context)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def _process_update(data: dict[str, Any]) -> None:
    update_id = data.get("update_id")
    try:
        application = await webhook_application()
        update = Update.de_json(data, application.bot)
        # Through the update processor, as in polling: the concurrency limit and a thread per update.
        await application.update_processor.process_update(update, application.process_update(update))
    except Exception:
        # process_update routes handler errors to the error handler; this catches what happens
        # before (an update PTB can't parse, Telegram unreachable at getMe).
        logger.exception("telegram update could not be processed", extra={"update_id": update_id})
        record_telegram_update(failed=True)


# --- registration: webhook, commands, webhook info -------------------------------------------


async def commands_register(bot: Bot) -> None:
    """setMyCommands for English (the default) and Russian."""
    for language_code, language in ((None, "en"), ("en", "en"), ("ru", "ru")):
        commands = [BotCommand(name, text(f"cmd_{name}", language)) for name in COMMANDS]
        await bot.set_my_commands(commands, language_code=language_code)
    await sync_to_async(bot_state_update)(commands_registered_at=timezone.now())


async def webhook_set(*, url: str) -> dict[str, Any]:
    bot = plain_bot()
    async with bot:
        await bot.set_webhook(
            url=url,
            secret_token=settings.TELEGRAM_WEBHOOK_SECRET or None,
            allowed_updates=ALLOWED_UPDATES,
            max_connections=40,
        )
        await commands_register(bot)
        info = await bot.get_webhook_info()
    fields = {"mode": "webhook", **webhook_info_fields(info)}
    await sync_to_async(bot_state_update)(bot_id=bot.bot.id, bot_username=bot.bot.username or "", **fields)
    return fields


async def webhook_delete() -> None:
    bot = plain_bot()
    async with bot:
        await bot.delete_webhook()
    await sync_to_async(bot_state_update)(
        mode="none", webhook_url="", pending_update_count=0, checked_at=timezone.now()
    )


async def webhook_info_refresh() -> None:
    """Fetch getWebhookInfo into BotState (called at most every few minutes by the health check)."""
    bot = plain_bot()
    async with bot:
        info = await bot.get_webhook_info(read_timeout=2, connect_timeout=2)
    await sync_to_async(bot_state_update)(**webhook_info_fields(info))


# --- polling mode ----------------------------------------------------------------------------

POLLING_HEARTBEAT_S = 30.0


async def run_polling(*, stop: asyncio.Event, poll_timeout: int = 30) -> None:
    """Fetch and handle updates until `stop` is set (manage.py run_telegram_bot; tests)."""
    application = build_application(polling=True)
    async with application:  # initialize (getMe) … shutdown
        await commands_register(application.bot)
        assert application.updater is not None
        # start_polling removes a registered webhook first: Telegram serves one or the other.
        await application.updater.start_polling(allowed_updates=ALLOWED_UPDATES, timeout=poll_timeout)
        await application.start()
        logger.info("telegram poller started", extra={"bot_username": application.bot.username})
        try:
            while not stop.is_set():
                await sync_to_async(bot_state_update)(mode="polling", webhook_url="", polling_heartbeat=timezone.now())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=POLLING_HEARTBEAT_S)
        finally:
            await application.updater.stop()
            await application.stop()
            await sync_to_async(bot_state_update)(mode="none", polling_heartbeat=None)
            logger.info("telegram poller stopped")
