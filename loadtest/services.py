"""Load-test runs: throwaway users with access tokens, the in-process scenario for staff, and
the count of what the chat pipeline stored for those users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from loadtest import client

EMAIL_DOMAIN = "loadtest.invalid"  # RFC 2606: can never be a real mailbox


@dataclass(frozen=True)
class LoadTestUser:
    id: int
    email: str
    token: str


def loadtest_users_create(*, count: int, run_id: str | None = None) -> tuple[str, list[LoadTestUser]]:
    """`count` users that can't log in with a password, each with a fresh access JWT."""
    run_id = run_id or uuid.uuid4().hex[:12]
    User = get_user_model()
    users = []
    for index in range(count):
        user = User(email=f"lt-{run_id}-{index}@{EMAIL_DOMAIN}", display_name=f"Load test {index}")
        user.set_unusable_password()
        users.append(user)
    with transaction.atomic():
        created = User.objects.bulk_create(users)
    return run_id, [
        LoadTestUser(id=user.pk, email=user.email, token=str(AccessToken.for_user(user))) for user in created
    ]


def loadtest_users_delete(*, run_id: str) -> int:
    """Delete a run's users and, by cascade, everything they said."""
    User = get_user_model()
    deleted, _ = User.objects.filter(email__startswith=f"lt-{run_id}-", email__endswith=f"@{EMAIL_DOMAIN}").delete()
    return deleted


def loadtest_telegram_link(*, user_id: int, telegram_user_id: int) -> None:
    """Link a load-test user to a Telegram user id (as the confirmed link flow would), so the bot
    answers that Telegram user as this user."""
    TelegramAccount = apps.get_model("telegram_bot", "TelegramAccount")
    TelegramAccount.objects.update_or_create(
        telegram_user_id=telegram_user_id,
        defaults={"chat_id": telegram_user_id, "user_id": user_id, "linked_at": timezone.now()},
    )


def reply_llm_ms(*, client_ids: list[str]) -> dict[str, int | None]:
    """The LLM's own time (stored `latency_ms`) of the replies to these client ids."""
    Message = apps.get_model("chat", "Message")
    rows = Message.objects.filter(client_id__in=client_ids, role="assistant").values_list("client_id", "latency_ms")
    return dict(rows)


def user_messages_stored(*, user_ids: list[int]) -> int:
    """How many user messages the chat pipeline stored for these users."""
    Message = apps.get_model("chat", "Message")
    return Message.objects.filter(conversation__user_id__in=user_ids, role="user").count()


def load_test_run(*, concurrent_users: int, messages_per_user: int, timeout_s: float = 30.0) -> dict[str, Any]:
    """The chat scenario in this process (Channels communicator on the real ASGI app, real
    database, layer and configured model) for staff: latency percentiles, errors, stored vs sent."""
    from digitalme.asgi import application

    run_id, users = loadtest_users_create(count=concurrent_users)
    try:
        active, _, wall_s = async_to_sync(client.run_chat_load)(
            client.CommunicatorConnection.opener(application, timeout_s=timeout_s),
            tokens=[user.token for user in users],
            messages_per_user=messages_per_user,
            timeout_s=timeout_s,
        )
        summary = client.summarize(active, wall_s=wall_s, expected_tokens=None)
        summary["messages_stored"] = user_messages_stored(user_ids=[user.id for user in users])
        summary["messages_sent"] = summary["turns_sent"]
        return summary
    finally:
        loadtest_users_delete(run_id=run_id)
