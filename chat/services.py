"""Changes to conversations and messages, and the chat app's write API in one place.

The turn itself lives in chat/turn.py, memory upkeep in chat/memory/, reads in chat/selectors.py;
their entry points are re-exported here so callers (views, consumers, bots, tasks) import
`chat.services` only:

    conversation_create(*, user, title="", platform) -> Conversation
    conversation_update(*, conversation, title) / conversation_delete(*, conversation)
    conversations_transfer(*, from_user, to_user) -> int
    message_feedback(*, user, message_id, rating, correction="") -> Message
    achat_reply / chat_reply / persona_reply (chat.turn)
    memory_fact_delete / memory_delete_all / memory_list / memory_summarize / memory_extract_with_llm (chat.memory)
"""

from __future__ import annotations

from django.db import transaction

from chat.errors import InvalidInput
from chat.memory import (
    memory_delete_all,
    memory_extract_with_llm,
    memory_fact_delete,
    memory_list,
    memory_summarize,
)
from chat.models import Conversation, MemoryFact, Message, Platform, Role, UserMemory
from chat.selectors import conversation_get, conversation_latest, message_get_for_user
from chat.serializers import message_payload
from chat.turn import PreviewResult, TurnResult, achat_reply, apersona_reply, chat_reply, persona_reply


def conversation_create(*, user, title: str = "", platform: str) -> Conversation:
    conversation = Conversation(user=user, title=title.strip()[:120], platform=Platform(platform))
    conversation.full_clean()
    conversation.save()
    return conversation


def conversation_update(*, conversation: Conversation, title: str) -> Conversation:
    conversation.title = title.strip()[:120]
    conversation.full_clean()
    conversation.save(update_fields=["title", "updated"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


def conversations_transfer(*, from_user, to_user) -> int:
    """Move one user's conversations and memory to another (a Telegram guest linking an account).

    Facts the target already has for the same key are replaced by the moved ones (kept as
    history), like any newer fact. Returns the number of conversations moved.
    """
    with transaction.atomic():
        moved = Conversation.objects.filter(user=from_user).update(user=to_user)
        for fact in MemoryFact.objects.filter(user=from_user, replaced_by__isnull=True).order_by("created", "id"):
            current = MemoryFact.objects.filter(user=to_user, key=fact.key, replaced_by__isnull=True).first()
            if current is not None:
                current.replaced_by = fact
                current.save(update_fields=["replaced_by"])
            fact.user = to_user
            fact.save(update_fields=["user"])
        MemoryFact.objects.filter(user=from_user).update(user=to_user)
        guest_memory = UserMemory.objects.filter(user=from_user).first()
        if guest_memory is not None and guest_memory.summary:
            target_memory, _ = UserMemory.objects.get_or_create(user=to_user)
            target_memory.summary = " ".join(filter(None, [target_memory.summary, guest_memory.summary]))
            target_memory.save(update_fields=["summary", "updated"])
        UserMemory.objects.filter(user=from_user).delete()
    return moved


def message_feedback(*, user, message_id: int | str, rating: int, correction: str = "") -> Message:
    message = message_get_for_user(user=user, message_id=message_id)
    if message.role != Role.ASSISTANT:
        raise InvalidInput("Only Ivan's replies can be rated.", fields={"message": "not_a_reply"})
    if rating not in (1, -1):
        raise InvalidInput("rating must be 1 or -1.", fields={"rating": "invalid"})
    message.rating = rating
    message.correction = (correction or "").strip()
    message.full_clean()
    message.save(update_fields=["rating", "correction"])
    return message


__all__ = [
    "PreviewResult",
    "TurnResult",
    "achat_reply",
    "apersona_reply",
    "chat_reply",
    "conversation_create",
    "conversation_delete",
    "conversation_get",
    "conversation_latest",
    "conversation_update",
    "conversations_transfer",
    "memory_delete_all",
    "memory_extract_with_llm",
    "memory_fact_delete",
    "memory_list",
    "memory_summarize",
    "message_feedback",
    "message_payload",
    "persona_reply",
]
