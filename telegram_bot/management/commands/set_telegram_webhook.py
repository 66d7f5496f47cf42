"""Register (or delete) the bot's webhook with Telegram, with our secret, allowed updates and commands."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from telegram.error import InvalidToken, TelegramError

from telegram_bot.bot import ALLOWED_UPDATES, webhook_delete, webhook_set


class Command(BaseCommand):
    help = (
        "Point Telegram at URL (https://your.host or the full …/telegram/webhook/ URL), sending "
        "TELEGRAM_WEBHOOK_SECRET with each update, and register the bot's commands (en, ru). "
        "--delete removes the webhook."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("url", nargs="?", help="public HTTPS base URL of the site or the full webhook URL")
        parser.add_argument("--delete", action="store_true", help="remove the webhook (e.g. to switch to polling)")

    def handle(self, *args, url: str | None, delete: bool, **options) -> None:
        if not settings.TELEGRAM_BOT_TOKEN:
            raise CommandError("TELEGRAM_BOT_TOKEN is not set.")
        try:
            if delete:
                asyncio.run(webhook_delete())
                self.stdout.write(self.style.SUCCESS("Webhook deleted."))
                return
            if not url:
                raise CommandError("Give the URL, or --delete.")
            if not settings.TELEGRAM_WEBHOOK_SECRET:
                raise CommandError("Set TELEGRAM_WEBHOOK_SECRET first: the webhook refuses updates without it.")
            full_url = self._webhook_url(url)
            info = asyncio.run(webhook_set(url=full_url))
        except InvalidToken:
            raise CommandError("Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather.") from None
        except TelegramError as exc:
            raise CommandError(f"Telegram refused: {exc.message}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Webhook set to {info['webhook_url']} (updates: {', '.join(ALLOWED_UPDATES)}; "
                f"pending: {info['pending_update_count']}); commands registered in en and ru."
            )
        )

    def _webhook_url(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in {"https", "http"} or not parts.netloc:
            raise CommandError(f"{url!r} is not an absolute URL.")
        if parts.scheme != "https":
            self.stderr.write("Warning: Telegram only delivers webhooks to https:// URLs.")
        if parts.path in {"", "/"}:
            return url.rstrip("/") + reverse("telegram-webhook")
        return url
