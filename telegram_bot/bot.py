"""The python-telegram-bot Application: one per process, built the same way for webhook and polling.

Webhook mode: the webhook view (daphne) stores each update and queues it; a Celery worker runs it
through `update_process_blocking` (retries, exactly once per update id; see telegram_bot/tasks.py).
Polling mode (`manage.py run_telegram_bot`): getUpdates, and each update stored the same way before
it is acknowledged (the next offset), then handled by the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from telegram import Bot, BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import Application, ApplicationBuilder, Defaults, SimpleUpdateProcessor

from chat.errors import TurnInProgress
from chat.turn import claim_ttl_s
from digitalme.db import db_async
from digitalme.metrics import record_telegram_update
from digitalme.request_id import current_request_id
from telegram_bot import handlers, services
from telegram_bot.resilience import RetryingRateLimiter, retry_after_seconds
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


class UpdateWithItsRequestId(SimpleUpdateProcessor):
    """Handles each update under one request id. Its database work goes through `db_async` (the
    bounded pool; each call gives its connection back when it ends), so an update needs no thread
    of its own nor a hop at its end to close that thread's connection."""

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        # ops: the update's log lines, Celery tasks and Sentry events carry one id — the webhook
        # request's when it came through the webhook, else one named after the update.
        token = None
        if current_request_id.get() == "-":
            token = current_request_id.set(f"tg-update-{getattr(update, 'update_id', 0)}")
        try:
            await coroutine
        finally:
            record_telegram_update()
            if token is not None:
                current_request_id.reset(token)


def build_application() -> Application:
    """A configured Application (not yet initialized) for stored updates: no Updater of its own."""
    if not settings.TELEGRAM_BOT_TOKEN:
        raise RuntimeError("TELEGRAM_BOT_TOKEN is not set.")
    builder = (
        ApplicationBuilder()
        .token(settings.TELEGRAM_BOT_TOKEN)
        .base_url(_api_base())
        .base_file_url(_file_base())
        .rate_limiter(RetryingRateLimiter())
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .concurrent_updates(UpdateWithItsRequestId(CONCURRENT_UPDATES))
        .connection_pool_size(CONCURRENT_UPDATES * 2 + 4)
        .post_init(_remember_bot_identity)
        .updater(None)
    )
    application = builder.build()
    handlers.register(application)
    return application


async def _remember_bot_identity(application: Application) -> None:
    me = application.bot.bot
    await db_async(bot_state_update)(bot_id=me.id, bot_username=me.username or "")


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


# --- webhook mode: stored updates, handled by the worker; one Application per event loop --------

_webhook_app: tuple[asyncio.AbstractEventLoop, Application] | None = None
_webhook_app_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None


async def webhook_application() -> Application:
    """The process's Application for stored webhook updates, initialized (getMe) on first use."""
    global _webhook_app, _webhook_app_lock
    loop = asyncio.get_running_loop()
    if _webhook_app is not None and _webhook_app[0] is loop:
        return _webhook_app[1]
    if _webhook_app_lock is None or _webhook_app_lock[0] is not loop:
        _webhook_app_lock = (loop, asyncio.Lock())
    async with _webhook_app_lock[1]:
        if _webhook_app is not None and _webhook_app[0] is loop:
            return _webhook_app[1]
        application = build_application()
        await application.initialize()
        _webhook_app = (loop, application)
        return application


async def webhook_application_shutdown() -> None:
    """Close the Application's connections (tests, worker shutdown)."""
    global _webhook_app
    if _webhook_app is not None and _webhook_app[0] is asyncio.get_running_loop():
        await _webhook_app[1].shutdown()
    _webhook_app = None


@dataclass(frozen=True)
class UpdateOutcome:
    status: str  # done | failed | retry | skipped (another worker has it, or it is finished)
    retry_in_s: float | None = None


def _retry_delay(error: BaseException, attempt: int) -> float | None:
    """Seconds to wait before trying an update again, or None when trying again can't help."""
    if isinstance(error, RetryAfter):
        return retry_after_seconds(error) + 1
    if isinstance(error, TurnInProgress):  # a dead worker's claim on the reply: wait until it runs out
        return float(claim_ttl_s())
    if isinstance(error, BadRequest | Forbidden | InvalidToken):
        return None
    if isinstance(error, NetworkError | OperationalError | InterfaceError):  # timeouts, 5xx, database restarts
        return min(300.0, 5.0 * 2 ** (attempt - 1))
    return None


@contextlib.contextmanager
def _update_request_id(leased: services.LeasedUpdate) -> Iterator[None]:
    """The update's log lines carry the webhook request's id (or one named after the update)."""
    token = current_request_id.set(leased.request_id or f"tg-update-{leased.update_id}")
    try:
        yield
    finally:
        current_request_id.reset(token)


async def update_handle(leased: services.LeasedUpdate) -> list[BaseException]:
    """Run a leased update through the Application; the errors its handlers hit (none: delivered)."""
    errors: list[BaseException] = []
    errors_token = handlers.handler_errors.set(errors)
    try:
        application = await webhook_application()
        update = Update.de_json(leased.payload, application.bot)
        # Through the update processor, as in polling: the concurrency limit and the request id.
        await application.update_processor.process_update(update, application.process_update(update))
    except Exception as exc:
        # process_update routes handler errors to the error handler; this catches what happens
        # before (an update PTB can't parse, Telegram unreachable at getMe).
        logger.exception("telegram update could not be processed", extra={"update_id": leased.update_id})
        record_telegram_update(failed=True)
        errors.append(exc)
    finally:
        handlers.handler_errors.reset(errors_token)
    return errors


def update_settle(leased: services.LeasedUpdate, errors: list[BaseException]) -> UpdateOutcome:
    """Mark a handled update done, failed, or due for a retry (429 → after `retry_after`,
    5xx/network → backoff). Database work: call it from sync code or through `db_async`."""
    update_id = leased.update_id
    if not errors:
        services.update_finish(update_id=update_id)
        return UpdateOutcome("done")
    error = errors[-1]
    described = f"{type(error).__name__}: {error}"
    delay = _retry_delay(error, leased.attempts)
    if delay is not None and services.update_retry_later(update_id=update_id, error=described):
        logger.warning(
            "telegram update will be retried",
            extra={"update_id": update_id, "attempt": leased.attempts, "delay_s": round(delay, 1)},
        )
        return UpdateOutcome("retry", retry_in_s=delay)
    if delay is None:
        services.update_finish(update_id=update_id, error=described)
    logger.error("telegram update failed for good", extra={"update_id": update_id, "error": described})
    return UpdateOutcome("failed")


async def update_process(*, update_id: int) -> UpdateOutcome:
    """Handle one stored update from async code: lease it, run it through the Application, settle it."""
    leased = await db_async(services.update_lease)(update_id=update_id)
    if leased is None:
        return UpdateOutcome("skipped")
    with _update_request_id(leased):
        errors = await update_handle(leased)
        return await db_async(update_settle)(leased, errors)


def update_process_blocking(
    *, update_id: int, run: Callable[[Coroutine[Any, Any, list[BaseException]]], list[BaseException]]
) -> UpdateOutcome:
    """The worker task's body: lease and settle in the task's own thread, only the update's
    handling on the event loop (`run`) — two thread hops fewer per update than `update_process`."""
    leased = services.update_lease(update_id=update_id)
    if leased is None:
        return UpdateOutcome("skipped")
    with _update_request_id(leased):
        errors = run(update_handle(leased))
        return update_settle(leased, errors)


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


# --- polling mode: updates stored like the webhook's, handled by the worker ----------------------

POLLING_HEARTBEAT_S = 30.0
BACKLOG_FULL_WAIT_S = 5.0
NETWORK_ERROR_WAIT_S = 5.0


async def _until_stopped(stop: asyncio.Event, coroutine: Awaitable[Any]) -> Any:
    """`coroutine`'s result, or None as soon as `stop` is set (the coroutine is cancelled)."""
    work = asyncio.ensure_future(coroutine)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if not work.done():
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        return None
    return work.result()


async def poll_once(bot: Bot, *, offset: int | None, poll_timeout: int) -> tuple[int | None, bool]:
    """One getUpdates round: store each update (as the webhook does; a worker handles it) and move
    the offset past it only once it is stored. Telegram forgets an update only when asked for the
    next offset, so a poller killed at any point loses nothing: what wasn't stored comes again.
    Returns (the next offset, whether the backlog was full)."""
    updates = await bot.get_updates(
        offset=offset, timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES, read_timeout=poll_timeout + 10
    )
    for update in updates:
        stored = await sync_to_async(services.update_store)(
            update_id=update.update_id, payload=update.to_dict(), request_id=f"tg-update-{update.update_id}"
        )
        if stored is services.UpdateStored.BACKLOG_FULL:
            return offset, True  # not acknowledged: Telegram keeps it and sends it again
        offset = update.update_id + 1
    return offset, False


async def run_polling(*, stop: asyncio.Event, poll_timeout: int = 30) -> None:
    """Fetch updates until `stop` is set (manage.py run_telegram_bot; tests). Durable like the
    webhook: each update is stored before Telegram is told it arrived, then handled by a Celery
    worker (`make run` starts one) with the same lease, retries and resume."""
    bot = plain_bot()
    async with bot:  # initialize (getMe) … shutdown
        await sync_to_async(bot_state_update)(bot_id=bot.bot.id, bot_username=bot.bot.username or "")
        await commands_register(bot)
        await bot.delete_webhook()  # Telegram serves a webhook or getUpdates, not both
        logger.info("telegram poller started", extra={"bot_username": bot.bot.username})
        offset: int | None = None
        beat_at = 0.0
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                if loop.time() - beat_at >= POLLING_HEARTBEAT_S:
                    beat_at = loop.time()
                    await sync_to_async(bot_state_update)(
                        mode="polling", webhook_url="", polling_heartbeat=timezone.now()
                    )
                try:
                    polled = await _until_stopped(stop, poll_once(bot, offset=offset, poll_timeout=poll_timeout))
                except RetryAfter as exc:
                    polled, wait_s = (offset, False), retry_after_seconds(exc)
                except NetworkError as exc:  # Telegram unreachable or slow: try again shortly
                    logger.warning("telegram getUpdates failed; retrying", extra={"error": type(exc).__name__})
                    polled, wait_s = (offset, False), NETWORK_ERROR_WAIT_S
                else:
                    wait_s = BACKLOG_FULL_WAIT_S if polled is not None and polled[1] else 0.0
                if polled is None:
                    break
                offset = polled[0]
                if wait_s:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=wait_s)
        finally:
            await sync_to_async(bot_state_update)(mode="none", polling_heartbeat=None)
            logger.info("telegram poller stopped")
