"""`/health/ready/` checks for the bot: mode and webhook info, from the stored BotState; and whether
a live worker consumes the Telegram queue (from the workers' heartbeats, no broker round trip).

Telegram is asked (getWebhookInfo) at most once per WEBHOOK_INFO_MAX_AGE across all probes; the
check itself reads the database row through a short cache. Optional: the site works without the bot.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from ops.selectors import queue_consumers
from telegram_bot.selectors import bot_state_snapshot

logger = logging.getLogger(__name__)

WEBHOOK_INFO_MAX_AGE = timedelta(minutes=5)
RECENT_ERROR = timedelta(minutes=10)
POLLING_HEARTBEAT_MAX_AGE = timedelta(minutes=2)
PENDING_UPDATES_WARN = 100


def _older_than(value: str | None, age: timedelta) -> bool:
    return value is None or datetime.fromisoformat(value) < timezone.now() - age


async def check_telegram() -> dict[str, Any]:
    if not settings.TELEGRAM_BOT_TOKEN:
        return {"mode": "disabled", "detail": "TELEGRAM_BOT_TOKEN is not set"}
    snapshot = await sync_to_async(bot_state_snapshot)()
    webhook = snapshot["webhook"]
    if (
        snapshot["mode"] == "webhook"
        and _older_than(webhook["checked_at"], WEBHOOK_INFO_MAX_AGE)
        and await cache.aadd("tg:webhook-info-refresh", 1, timeout=int(WEBHOOK_INFO_MAX_AGE.total_seconds()))
    ):
        from telegram_bot.bot import webhook_info_refresh

        try:
            await webhook_info_refresh()
        except Exception as exc:  # noqa: BLE001 - Telegram unreachable: report the stored state, degraded
            logger.warning("telegram webhook info refresh failed", extra={"error": type(exc).__name__})
            return {**snapshot, "status": "degraded", "error": f"getWebhookInfo failed: {type(exc).__name__}"}
        snapshot = await sync_to_async(bot_state_snapshot)()
        webhook = snapshot["webhook"]
    problems = []
    if snapshot["mode"] == "webhook":
        if not _older_than(webhook["last_error_date"], RECENT_ERROR):
            problems.append(f"Telegram reported a delivery error: {webhook['last_error_message']}")
        if webhook["pending_update_count"] > PENDING_UPDATES_WARN:
            problems.append(f"{webhook['pending_update_count']} updates waiting at Telegram")
    elif snapshot["mode"] == "none":
        problems.append(
            "no webhook registered and no poller running (manage.py set_telegram_webhook or run_telegram_bot)"
        )
    elif snapshot["mode"] == "polling" and _older_than(snapshot["polling_heartbeat"], POLLING_HEARTBEAT_MAX_AGE):
        problems.append("the poller has not reported for over 2 minutes")
    if problems:
        return {**snapshot, "status": "degraded", "error": "; ".join(problems)}
    return snapshot


async def check_telegram_worker() -> dict[str, Any]:
    """Updates are stored and queued on TELEGRAM_QUEUE: without a live worker consuming it (one
    started with `-Q celery` only, or none) the webhook keeps answering 200 and nobody replies."""
    if not settings.TELEGRAM_BOT_TOKEN:
        return {"detail": "the bot is disabled"}
    consumers = await sync_to_async(queue_consumers)(settings.TELEGRAM_QUEUE)
    result: dict[str, Any] = {"queue": settings.TELEGRAM_QUEUE, "consumers": consumers}
    if not consumers:
        result.update(
            status="down",
            error=f"no live worker consumes the {settings.TELEGRAM_QUEUE!r} queue"
            f" (the Procfile's `telegram` entry: celery -A digitalme worker -Q {settings.TELEGRAM_QUEUE})",
        )
    return result
