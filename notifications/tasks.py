"""Celery tasks for Web Push: thin wrappers around notifications.services, with retries."""

from __future__ import annotations

from celery import shared_task

from notifications.errors import PushTransientError
from notifications.services import push_deliver_again
from notifications.services import push_notify_user as push_notify_user_service

PUSH_TIME_LIMIT_S = 60
PUSH_SOFT_TIME_LIMIT_S = 50


@shared_task(
    name="notifications.push_notify_user", time_limit=PUSH_TIME_LIMIT_S, soft_time_limit=PUSH_SOFT_TIME_LIMIT_S
)
def push_notify_user(user_id: int, message_id: int) -> dict[str, str]:
    """A finished reply → every device of a user with no chat page open; retries per device."""
    outcomes = push_notify_user_service(user_id=user_id, message_id=message_id)
    for subscription_id, outcome in outcomes.items():
        if outcome == "retry":
            push_deliver_retry.apply_async(args=[int(subscription_id), message_id], countdown=5)
    return outcomes


@shared_task(
    name="notifications.push_deliver_retry",
    autoretry_for=(PushTransientError,),
    retry_backoff=10,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=4,
    time_limit=PUSH_TIME_LIMIT_S,
    soft_time_limit=PUSH_SOFT_TIME_LIMIT_S,
)
def push_deliver_retry(subscription_id: int, message_id: int) -> str:
    return push_deliver_again(subscription_id=subscription_id, message_id=message_id)
