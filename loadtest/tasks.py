"""A Celery task for the benchmarks only: a background job of known length."""

from __future__ import annotations

import time

from celery import shared_task

HOLD_MAX_S = 30.0


@shared_task(name="loadtest.hold", time_limit=60, soft_time_limit=50)
def hold(seconds: float) -> float:
    """Keep a worker child busy for `seconds` (at most HOLD_MAX_S), as a memory summary waiting for
    the LLM does: `make bench-telegram --background-s` queues these to show whether Telegram replies
    wait behind background jobs."""
    held = min(max(float(seconds), 0.0), HOLD_MAX_S)
    time.sleep(held)
    return held
