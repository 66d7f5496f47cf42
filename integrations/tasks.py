"""Celery tasks: thin wrappers around integrations.sync, with retries and time limits."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings

from integrations import selectors
from integrations.errors import RateLimited, TransientSyncError
from integrations.sync import integration_sync

logger = logging.getLogger(__name__)

SYNC_TIME_LIMIT_S = 300
SYNC_SOFT_TIME_LIMIT_S = 270


@shared_task(
    name="integrations.sync_integration",
    bind=True,
    autoretry_for=(TransientSyncError,),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=5,
    time_limit=SYNC_TIME_LIMIT_S,
    soft_time_limit=SYNC_SOFT_TIME_LIMIT_S,
    acks_late=True,
)
def sync_integration(self, integration_id: int, trigger: str = "beat", kinds: list[str] | None = None) -> str:
    """Sync one user's integration; a provider's 'wait' becomes a retry at the time it named."""
    try:
        run = integration_sync(integration_id=integration_id, trigger=trigger, kinds=kinds)
    except RateLimited as exc:
        raise self.retry(exc=exc, countdown=max(1, int(exc.retry_after)) + random.randint(0, 5))
    return run.status if run else "skipped"


@shared_task(name="integrations.sync_all", time_limit=120, soft_time_limit=100)
def sync_all() -> int:
    """Beat entry (every 30 min): one task per enabled integration, spread out with jitter.

    A failure to queue (or, in eager mode, to run) one user's sync never stops the others.
    """
    queued = 0
    for integration_id in selectors.integration_ids_due_for_sync():
        try:
            sync_integration.apply_async(
                args=[integration_id],
                countdown=random.randint(0, max(0, settings.INTEGRATIONS_SYNC_JITTER_S)),
            )
            queued += 1
        except Exception:
            logger.exception("could not sync integration", extra={"integration_id": integration_id})
    return queued
