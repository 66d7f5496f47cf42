"""Celery tasks: handle a stored Telegram update (retries, exactly once per update id) and re-queue
updates whose task was lost.

Each worker process keeps one event loop for the bot, so the Application (its HTTP connections and
getMe) is built once per process, not once per update. A worker's warm shutdown (SIGTERM) finishes
the update in hand; one killed outright leaves a lease that runs out, and `updates_resume` (beat,
every minute) queues the update again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from celery import shared_task

from telegram_bot import services

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Below TELEGRAM_UPDATE_LEASE_S (300): a lease outlives the task that holds it.
UPDATE_SOFT_TIME_LIMIT_S = 240
UPDATE_TIME_LIMIT_S = 270

_loop: asyncio.AbstractEventLoop | None = None


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    return _loop.run_until_complete(coroutine)


@shared_task(
    name="telegram_bot.update_process",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=UPDATE_TIME_LIMIT_S,
    soft_time_limit=UPDATE_SOFT_TIME_LIMIT_S,
)
def update_process(self, update_id: int) -> str:
    """Handle stored update `update_id`; a retryable failure queues it again after the delay it needs."""
    from telegram_bot.bot import update_process_blocking

    outcome = update_process_blocking(update_id=update_id, run=_run)
    if outcome.retry_in_s is not None:
        services.update_enqueue(update_id=update_id, countdown=outcome.retry_in_s)
    return outcome.status


@shared_task(name="telegram_bot.updates_resume", time_limit=60, soft_time_limit=50)
def updates_resume() -> int:
    return services.updates_resume()
