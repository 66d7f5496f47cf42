"""Reads of the chat app: each list costs a fixed number of queries."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from django.db.models import QuerySet

from chat.errors import NotFound
from chat.models import Conversation, MemoryFact, Message, Role, UserMemory


def conversation_list(*, user) -> QuerySet[Conversation]:
    return Conversation.objects.filter(user=user).order_by("-updated", "-id")


def conversation_latest(*, user, platform: str | None = None) -> Conversation | None:
    """The user's most recently active conversation (optionally only those started on `platform`)."""
    conversations = Conversation.objects.filter(user=user)
    if platform:
        conversations = conversations.filter(platform=platform)
    return conversations.order_by("-updated", "-id").first()


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


class _Said(Protocol):  # a Message, or a history line read as a tuple (chat/rows.py)
    @property
    def role(self) -> str: ...
    @property
    def client_id(self) -> str: ...
    @property
    def moderation(self) -> dict[str, Any]: ...


SaidT = TypeVar("SaidT", bound=_Said)


def usable_history(messages: list[SaidT]) -> list[SaidT]:
    """Drop blocked inputs and Ivan's refusals of them: they must never reach the model."""
    blocked_ids = {m.client_id for m in messages if m.role == Role.USER and m.moderation.get("allowed") is False}
    return [m for m in messages if not (m.client_id and m.client_id in blocked_ids)]


def user_memory_get(*, user) -> UserMemory | None:
    return UserMemory.objects.filter(user=user).first()


def memory_fact_list(*, user) -> QuerySet[MemoryFact]:
    """The user's current facts (replaced ones are history, shown with `history=True`)."""
    return MemoryFact.objects.filter(user=user, replaced_by__isnull=True).order_by("-created", "-id")


def memory_fact_history(*, user) -> QuerySet[MemoryFact]:
    return MemoryFact.objects.filter(user=user).order_by("-created", "-id")


def user_chat_export(user) -> dict:
    """Everything the chat app holds about the user, for /api/me/export/ (two queries + memory)."""
    conversations = list(conversation_list(user=user).prefetch_related("messages"))
    memory = user_memory_get(user=user)
    return {
        "conversations": [
            {
                "id": conversation.pk,
                "title": conversation.title,
                "platform": conversation.platform,
                "created": conversation.created.isoformat(),
                "messages": [
                    {
                        "id": message.pk,
                        "role": message.role,
                        "content": message.content,
                        "platform": message.platform,
                        "created": message.created.isoformat(),
                        "rating": message.rating,
                        "correction": message.correction,
                        "moderation": message.moderation,
                    }
                    for message in conversation.messages.all()
                ],
            }
            for conversation in conversations
        ],
        "memory": {
            "summary": memory.summary if memory else "",
            "facts": [
                {
                    "id": fact.pk,
                    "key": fact.key,
                    "value": fact.value,
                    "text": fact.text,
                    "current": fact.replaced_by_id is None,
                    "source_message": fact.source_message_id,
                    "created": fact.created.isoformat(),
                }
                for fact in memory_fact_history(user=user)
            ],
        },
    }
