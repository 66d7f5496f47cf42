"""Celery tasks of the chat app: thin wrappers around the memory upkeep services (chat.memory)."""

from __future__ import annotations

from celery import shared_task

from chat import memory
from chat.llm import LLMUnavailableError

MEMORY_TIME_LIMIT_S = 300
MEMORY_SOFT_TIME_LIMIT_S = 270
# Memory upkeep calls the LLM: retry when it is unavailable, with backoff, within time limits.
MEMORY_TASK_OPTIONS: dict = {
    "autoretry_for": (LLMUnavailableError,),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 3,
    "time_limit": MEMORY_TIME_LIMIT_S,
    "soft_time_limit": MEMORY_SOFT_TIME_LIMIT_S,
    "acks_late": True,
}


@shared_task(
    name="chat.memory_summarize",
    **MEMORY_TASK_OPTIONS,
)
def memory_summarize(user_id: int) -> bool:
    return memory.memory_summarize(user_id=user_id)


@shared_task(
    name="chat.memory_extract_llm",
    **MEMORY_TASK_OPTIONS,
)
def memory_extract_llm(message_id: int) -> int:
    return len(memory.memory_extract_with_llm(message_id=message_id))
