"""Every Bot API call the bot makes goes through here: 429 waits, network errors and 5xx retry.

python-telegram-bot routes each request (except getUpdates) through the Application's rate
limiter, so this is the one place that decides how to retry. 403 (the user blocked the bot),
400 and other client errors are not retried; they reach the handler's error path.
"""

from __future__ import annotations

import asyncio
import logging
import random
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

logger = logging.getLogger(__name__)


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class RetryingRateLimiter(BaseRateLimiter[None]):
    """React-only limiter: honour `retry_after`, back off on network errors and 5xx."""

    def __init__(
        self,
        *,
        max_retries: int = 4,
        max_retry_after_s: float = 60.0,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
    ) -> None:
        self.max_retries = max_retries
        self.max_retry_after_s = max_retry_after_s
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        attempt = 0
        while True:
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                delay = retry_after_seconds(exc)
                if attempt >= self.max_retries or delay > self.max_retry_after_s:
                    raise
                reason = "flood control (429)"
            except BadRequest:
                raise  # our request was wrong; sending it again won't help
            except NetworkError as exc:  # timeouts, connection errors and 5xx
                if attempt >= self.max_retries:
                    raise
                delay = min(self.backoff_max_s, self.backoff_base_s * 2**attempt) * random.uniform(0.8, 1.2)
                reason = f"network error: {exc}"
            attempt += 1
            logger.warning(
                "telegram request retried",
                extra={"endpoint": endpoint, "attempt": attempt, "delay_s": round(delay, 2), "reason": reason},
            )
            await asyncio.sleep(delay)
