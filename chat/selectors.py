"""Reads of the chat app: each list costs a fixed number of queries."""

from __future__ import annotations

from django.db.models import QuerySet

from chat.errors import NotFound
from chat.models import Conversation, MemoryFact, Message, Role, UserMemory


def conversation_list(*, user) -> QuerySet[Conversation]:
    return Conversation.objects.filter(user=user).order_by("-updated", "-id")


def conversation_get(*, user, conversation_id: int | str | None) -> Conversation:
    """One of the user's conversations; anyone else's (or a bad id) is NotFound, never a hint."""
    try:
        return Conversation.objects.get(user=user, pk=int(conversation_id))  # type: ignore[arg-type]
    except (Conversation.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such conversation.") from None


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.order_by("created", "id")


def message_get_for_user(*, user, message_id: int | str) -> Message:
    try:
        return Message.objects.select_related("conversation").get(pk=int(message_id), conversation__user=user)
    except (Message.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such message.") from None


def message_find_by_client_id(*, user, client_id: str) -> Message | None:
    """The user's message sent with this client id (idempotent retries), if any."""
    if not client_id:
        return None
    return (
        Message.objects.select_related("conversation")
        .filter(conversation__user=user, role=Role.USER, client_id=client_id)
        .first()
    )


def reply_for(*, user_message: Message) -> Message | None:
    return (
        Message.objects.filter(
            conversation_id=user_message.conversation_id,
            role=Role.ASSISTANT,
            client_id=user_message.client_id,
            id__gt=user_message.id,
        )
        .order_by("id")
        .first()
    )


def history_before(*, conversation: Conversation, before_id: int, limit: int = 60) -> list[Message]:
    """The latest messages of the conversation before `before_id`, oldest first."""
    newest_first = list(
        conversation.messages.filter(id__lt=before_id).exclude(content="").order_by("-created", "-id")[:limit]
    )
    return newest_first[::-1]


def user_memory_get(*, user) -> UserMemory | None:
    return UserMemory.objects.filter(user=user).first()


def memory_fact_list(*, user) -> QuerySet[MemoryFact]:
    """The user's current facts (replaced ones are history, shown with `history=True`)."""
    return MemoryFact.objects.filter(user=user, replaced_by__isnull=True).order_by("-created", "-id")


def memory_fact_history(*, user) -> QuerySet[MemoryFact]:
    return MemoryFact.objects.filter(user=user).order_by("-created", "-id")
