"""chat/rows.py's hand-written statements read what the ORM would (the chat turn's hot path)."""

from __future__ import annotations

import pytest

from chat import rows
from chat.models import Role, UserMemory
from tests.factories import ConversationFactory, MemoryFactFactory, MessageFactory

pytestmark = pytest.mark.django_db


def test_prompt_reads_are_the_history_before_the_turn_and_the_users_memory():
    conversation = ConversationFactory()
    user = conversation.user
    older = [MessageFactory(conversation=conversation, content=f"turn {n}") for n in range(4)]
    refused = MessageFactory(conversation=conversation, content="bad words", moderation={"allowed": False})
    MessageFactory(conversation=conversation, role=Role.ASSISTANT, content="")  # an empty reply row
    turn = MessageFactory(conversation=conversation, content="the turn's own message")
    MessageFactory(conversation=ConversationFactory(user=user), content="another conversation")
    UserMemory.objects.create(user=user, summary="They talked about tents.")
    first, second = MemoryFactFactory(user=user, key="city"), MemoryFactFactory(user=user, key="pet")
    replaced = MemoryFactFactory(user=user, key="job")
    replaced.replaced_by = replaced  # as memory upkeep steps a fact aside
    replaced.save()
    MemoryFactFactory(key="someone_elses")

    history, summary, facts = rows.prompt_reads(
        conversation_id=conversation.pk, before_id=turn.pk, user_id=user.pk, facts_limit=10, limit=4
    )

    # the newest `limit` non-empty messages before the turn, oldest first; a refusal is flagged
    assert [line.content for line in history] == ["turn 1", "turn 2", "turn 3", "bad words"]
    assert [line.moderation for line in history] == [{}, {}, {}, {"allowed": False}]
    assert history[-1].client_id == refused.client_id and history[0].role == Role.USER
    assert older[1].content == history[0].content
    assert summary == "They talked about tents."
    assert facts == [(second.key, second.text), (first.key, first.text)]  # current facts, newest first


def test_prompt_reads_of_a_user_without_memory():
    turn = MessageFactory()

    history, summary, facts = rows.prompt_reads(
        conversation_id=turn.conversation_id, before_id=turn.pk, user_id=turn.conversation.user_id, facts_limit=10
    )

    assert (history, summary, facts) == ([], "", [])
