"""Run the Telegram bot in polling mode (local development, or a host without a public HTTPS URL)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from telegram.error import InvalidToken, NetworkError

from telegram_bot.bot import run_polling

logger = logging.getLogger(__name__)
RESTART_DELAY_S = 15


class Command(BaseCommand):
    help = "Poll Telegram for updates and answer them (stops on Ctrl-C / SIGTERM)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--idle-without-token",
            action="store_true",
            help="Without TELEGRAM_BOT_TOKEN (or with a rejected one) wait quietly instead of exiting; "
            "for `make run`, where one exiting process stops them all.",
        )

    def handle(self, *args, idle_without_token: bool, **options) -> None:
        if not settings.TELEGRAM_BOT_TOKEN:
            if not idle_without_token:
                raise CommandError("TELEGRAM_BOT_TOKEN is not set.")
            self._idle("TELEGRAM_BOT_TOKEN is not set: the Telegram bot is off (set it in .env to start it).")
            return
        try:
            asyncio.run(self._poll_until_signalled())
        except InvalidToken:
            # The exception text contains the token: never print it.
            message = "Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather."
            if not idle_without_token:
                raise CommandError(message) from None
            self._idle(message + " The bot stays off.")

    async def _poll_until_signalled(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        self.stdout.write("Telegram bot polling; Ctrl-C stops it.")
        while not stop.is_set():
            try:
                await run_polling(stop=stop)
            except NetworkError as exc:  # Telegram unreachable at start: try again later
                logger.warning("telegram unreachable; retrying", extra={"error": type(exc).__name__})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=RESTART_DELAY_S)

    def _idle(self, reason: str) -> None:
        stopped = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopped.set())
        self.stdout.write(reason)  # after the handlers: from here on SIGTERM ends the wait cleanly
        self.stdout.flush()
        stopped.wait()
