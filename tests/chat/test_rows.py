"""chat/rows.py's hand-written statements read what the ORM would (the chat turn's hot path)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from chat import rows
from chat.models import Message, Role, UserMemory
from tests.factories import ConversationFactory, MemoryFactFactory, MessageFactory, UserFactory

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="data-modifying CTEs: elsewhere the turn looks first, then inserts"
)


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


def test_prompt_reads_along_another_statement_read_both():
    conversation = ConversationFactory()
    MessageFactory(conversation=conversation, content="earlier")
    turn = MessageFactory(conversation=conversation, content="now")
    UserMemory.objects.create(user=conversation.user, summary="Tents.")
    reads = dict(conversation_id=conversation.pk, before_id=turn.pk, user_id=conversation.user_id, facts_limit=10)

    along, extra = rows.prompt_reads_along(
        **reads, statement=("SELECT id, title FROM chat_conversation WHERE id = %s", [conversation.pk])
    )

    assert along == rows.prompt_reads(**reads)
    assert extra == [(conversation.pk, conversation.title)]


def test_prompt_reads_of_a_user_without_memory():
    turn = MessageFactory()

    history, summary, facts = rows.prompt_reads(
        conversation_id=turn.conversation_id, before_id=turn.pk, user_id=turn.conversation.user_id, facts_limit=10
    )

    assert (history, summary, facts) == ([], "", [])


def _pair(client_id: str) -> tuple[Message, Message]:
    now = timezone.now()
    asked = Message(
        role=Role.USER,
        content="a question",
        platform="web",
        created=now,
        client_id=client_id,
        moderation={"allowed": True},
        tokens=3,
        tokenizer="cl100k_base",
    )
    reply = Message(role=Role.ASSISTANT, content="", platform="web", created=now, client_id=client_id)
    return asked, reply


@postgresql_only
def test_a_checked_pair_is_written_in_the_users_conversation_as_the_orm_would():
    conversation = ConversationFactory(title="Tents")
    asked, reply = _pair("c-new")

    found = rows.messages_insert_pair_checked(
        asked, reply, user_id=conversation.user_id, conversation_id=conversation.pk
    )

    assert found is not None and (found.pk, found.title, found.updated) == (
        conversation.pk,
        "Tents",
        conversation.updated,
    )
    assert asked.pk < reply.pk  # history orders by id: the question first
    by_orm = _pair("c-new")
    other = ConversationFactory(user=conversation.user)
    for message in by_orm:
        message.conversation = other
    Message.objects.bulk_create(by_orm)
    # created: the ORM stamps its own time on a new row; here both rows carry the turn's
    fields = [f.attname for f in Message._meta.concrete_fields if f.attname not in ("id", "conversation_id", "created")]
    stored = Message.objects.filter(conversation=conversation).order_by("id")
    expected = Message.objects.filter(conversation=other).order_by("id")
    assert [(m.pk, m.created) for m in stored] == [(asked.pk, asked.created), (reply.pk, asked.created)]
    assert [[getattr(m, f) for f in fields] for m in stored] == [[getattr(m, f) for f in fields] for m in expected]


@postgresql_only
def test_a_checked_pair_refuses_rows_that_are_not_new():
    conversation = ConversationFactory()
    asked, reply = _pair("c-2")
    reply.model = "fake/ivan"  # a finished reply's field: written when the reply ends, not here

    with pytest.raises(ValueError):
        rows.messages_insert_pair_checked(asked, reply, user_id=conversation.user_id, conversation_id=conversation.pk)

    assert Message.objects.count() == 0


@postgresql_only
def test_a_checked_pair_writes_nothing_in_someone_elses_conversation():
    theirs = ConversationFactory()
    asked, reply = _pair("c-1")

    found = rows.messages_insert_pair_checked(asked, reply, user_id=UserFactory().pk, conversation_id=theirs.pk)

    assert found is None and asked.pk is None
    assert Message.objects.count() == 0


@postgresql_only
def test_a_checked_pair_writes_nothing_for_a_client_id_the_user_sent_before():
    earlier = MessageFactory(client_id="c-seen")  # in another conversation of the same user
    conversation = ConversationFactory(user=earlier.conversation.user)
    asked, reply = _pair("c-seen")

    found = rows.messages_insert_pair_checked(
        asked, reply, user_id=conversation.user_id, conversation_id=conversation.pk
    )

    assert found is None
    assert list(Message.objects.values_list("pk", flat=True)) == [earlier.pk]


@postgresql_only
def test_the_finishing_statement_sends_the_reply_once_and_counts_it_as_pending_chars():
    """The reply's length for memory upkeep comes from the UPDATE's RETURNING, not from the text sent
    twice more (client-side binding quotes every copy)."""
    conversation = ConversationFactory()
    MessageFactory(conversation=conversation, role=Role.USER, content="Hello there")
    reply = MessageFactory(conversation=conversation, role=Role.ASSISTANT, content="")
    reply.content = "A reply of some length, with 'quotes' and кириллица."
    sent: list[tuple[str, list]] = []

    def capture(execute, sql, params, many, context):
        sent.append((sql, list(params or [])))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture):
        pending = rows.turn_finish(reply=reply, user_id=conversation.user_id, updated=timezone.now(), title=None)

    assert len(sent) == 1
    assert sent[0][1].count(reply.content) == 1
    assert pending == rows.pending_chars(user_id=conversation.user_id) == len("Hello there") + len(reply.content)
    reply.refresh_from_db()
    assert reply.content == "A reply of some length, with 'quotes' and кириллица."
