"""The chat turn's statements as parameterised SQL on Django's connection (its pool, its wrappers).

A turn runs the same handful of statements every time; through the ORM, building each query and
instantiating its rows cost more CPU than the database spent answering (docs/QUALITY.md, "The chat
turn at the floor"). Here each is written once, values always passed as parameters (never
formatted into the text), rows read as tuples. Everything else keeps using the ORM.

The statements run on PostgreSQL and on SQLite: the dialect rule is digitalme/rawsql.py's.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from django.db import DatabaseError, connection

from chat.models import Conversation, Message
from digitalme.rawsql import aware, in_dialect

BIGINT_MAX = 2**63 - 1

# The user's message of this client_id (idempotent retries) and, when asked for, one of the
# user's conversations: one round trip for the turn's two lookups.
_TURN_LOOKUP = """
SELECT
    (SELECT m.id FROM chat_message m JOIN chat_conversation c ON c.id = m.conversation_id
      WHERE c.user_id = %s AND m.role = 'user' AND m.client_id = %s AND m.client_id <> ''
      ORDER BY m.created, m.id LIMIT 1),
    c.id, c.persona, c.title, c.platform, c.created, c.updated
FROM (SELECT 1) AS one LEFT JOIN chat_conversation c ON c.id = %s AND c.user_id = %s
"""

# A turn's two new rows: the user's message and Ivan's (empty, or a refusal) reply.
_INSERT_PAIR = """
INSERT INTO chat_message (conversation_id, role, content, platform, created, client_id, prompt_tokens,
    completion_tokens, tokens, tokenizer, model, latency_ms, ttft_ms, moderation, quality, stopped, rating, correction)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, {json}, {json}, %s, %s, %s),
       (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, {json}, {json}, %s, %s, %s)
RETURNING id
"""

# A turn's two new rows in a conversation of the user's, with the turn's lookups riding along
# (PostgreSQL): nothing is written, and no row comes back, when the conversation is not the user's
# or the user sent this client_id before (then the caller looks, as turn_lookup). Rows come back
# in id order with the conversation's columns. What a new row leaves at its default (what the
# finished reply and the user's rating fill in later) is written here, not sent: every parameter
# costs its client-side quoting.
_INSERT_PAIR_CHECKED = """
WITH target AS (
    SELECT c.id, c.persona, c.title, c.platform, c.created, c.updated FROM chat_conversation c
    WHERE c.id = %s AND c.user_id = %s AND NOT EXISTS (
        SELECT 1 FROM chat_message m JOIN chat_conversation mc ON mc.id = m.conversation_id
        WHERE mc.user_id = %s AND m.role = 'user' AND m.client_id = %s AND m.client_id <> '')
), shared AS (
    SELECT CAST(%s AS varchar) AS platform, CAST(%s AS timestamptz) AS created, CAST(%s AS varchar) AS client_id
), pair AS (
    INSERT INTO chat_message (conversation_id, role, content, platform, created, client_id, prompt_tokens,
        completion_tokens, tokens, tokenizer, model, latency_ms, ttft_ms, moderation, quality, stopped, rating,
        correction)
    SELECT target.id, v.role, v.content, shared.platform, shared.created, shared.client_id, NULL, NULL, v.tokens,
        v.tokenizer, '', NULL, NULL, v.moderation, '{}'::jsonb, false, NULL, ''
    FROM target, shared, (VALUES
        (CAST(%s AS varchar), CAST(%s AS text), CAST(%s AS integer), CAST(%s AS varchar), %s::jsonb),
        (%s, %s, %s, %s, %s::jsonb)
    ) AS v (role, content, tokens, tokenizer, moderation)
    RETURNING id
)
SELECT pair.id, t.persona, t.title, t.platform, t.created, t.updated FROM pair, target t ORDER BY pair.id
"""

_FINISH_REPLY = """
UPDATE chat_message SET content = %s, tokens = %s, tokenizer = %s, model = %s, prompt_tokens = %s,
    completion_tokens = %s, latency_ms = %s, ttft_ms = %s, stopped = %s, moderation = {json},
    quality = {json}
WHERE id = %s
"""

# What of the user's memory the prompt may use: the summary (first column true) and the current facts.
_MEMORY = """
SELECT * FROM (SELECT true, '', summary FROM chat_usermemory WHERE user_id = %s AND summary <> '') AS s
UNION ALL
SELECT * FROM (SELECT false, key, text FROM chat_memoryfact WHERE user_id = %s AND replaced_by_id IS NULL
  ORDER BY created DESC, id DESC LIMIT %s) AS f
"""

# What the prompt reads, in one round trip: the latest messages before the turn's (part 0; newest
# first, each with whether moderation refused it), the user's summary (part 1) and current facts
# (part 2, _MEMORY's), each part numbered in its own order.
_PROMPT_READS = """
SELECT * FROM (
    SELECT 0 AS part, ROW_NUMBER() OVER (ORDER BY created DESC, id DESC) AS n, role AS a, content AS b,
        tokens, tokenizer, client_id, COALESCE({refused}, false) AS refused
    FROM chat_message
    WHERE conversation_id = %s AND id < %s AND content <> ''
    ORDER BY created DESC, id DESC
    LIMIT %s
) AS h
UNION ALL
SELECT 1, 1, '', summary, CAST(NULL AS INTEGER), '', '', false FROM chat_usermemory WHERE user_id = %s AND summary <> ''
UNION ALL
SELECT * FROM (
    SELECT 2, ROW_NUMBER() OVER (ORDER BY created DESC, id DESC), key, text, CAST(NULL AS INTEGER), '', '', false
    FROM chat_memoryfact
    WHERE user_id = %s AND replaced_by_id IS NULL
    ORDER BY created DESC, id DESC
    LIMIT %s
) AS f
ORDER BY 1, 2
"""

# Characters of the user's messages not folded into the summary yet (memory upkeep's trigger).
_PENDING_CHARS = """
SELECT COALESCE(SUM(LENGTH(m.content)), 0)
FROM chat_message m JOIN chat_conversation c ON c.id = m.conversation_id
WHERE c.user_id = %s AND m.content <> ''
  AND m.id > COALESCE((SELECT summarized_until_id FROM chat_usermemory WHERE user_id = %s), 0)
"""


# The finishing hop in one statement (PostgreSQL: data-modifying CTEs): fill the reply, move the
# conversation up (a NULL title keeps its title), and read memory upkeep's trigger as it stands after
# both. The CTEs share the statement's snapshot, so the reply is counted from its UPDATE's RETURNING
# (its new length: the text is sent once, not three times).
_FINISH_TURN = """
WITH reply AS (
    UPDATE chat_message SET content = %s, tokens = %s, tokenizer = %s, model = %s, prompt_tokens = %s,
        completion_tokens = %s, latency_ms = %s, ttft_ms = %s, stopped = %s, moderation = {json},
        quality = {json}
    WHERE id = %s
    RETURNING id, LENGTH(content) AS chars
), moved AS (
    UPDATE chat_conversation SET updated = %s, title = COALESCE(%s, title) WHERE id = %s RETURNING id
), since AS (
    SELECT COALESCE((SELECT summarized_until_id FROM chat_usermemory WHERE user_id = %s), 0) AS id
)
SELECT
    (SELECT COUNT(*) FROM reply),
    (SELECT COALESCE(SUM(LENGTH(m.content)), 0)
       FROM chat_message m JOIN chat_conversation c ON c.id = m.conversation_id
      WHERE c.user_id = %s AND m.content <> '' AND m.id <> %s AND m.id > (SELECT id FROM since))
    + COALESCE((SELECT CASE WHEN r.id > (SELECT id FROM since) THEN r.chars ELSE 0 END FROM reply r), 0)
"""


# "Moderation refused it", read from a message's JSON in each dialect.
_REFUSED = {
    "postgresql": "moderation -> 'allowed' = 'false'::jsonb",
    "sqlite": "json_type(moderation, '$.allowed') = 'false'",
}


def _sql(template: str) -> str:
    return in_dialect(template, refused=_REFUSED)


class HistoryLine(NamedTuple):
    """A message of the history as the prompt reads it (`moderation` only says a refusal: "allowed": False)."""

    role: str
    content: str
    tokens: int | None
    tokenizer: str
    client_id: str
    moderation: dict[str, Any]


def as_bigint(value: Any) -> int | None:
    """An id as the database can compare it (int(value), in range), else None."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -BIGINT_MAX <= number <= BIGINT_MAX else None


def turn_lookup(*, user_id: int, client_id: str, conversation_id: int | None) -> tuple[int | None, Conversation | None]:
    """(the id of the user's message sent with `client_id`, if any; the user's conversation
    `conversation_id`, if asked for and theirs)."""
    with connection.cursor() as cursor:
        cursor.execute(_TURN_LOOKUP, [user_id, client_id, conversation_id, user_id])
        existing_id, pk, persona, title, platform, created, updated = cursor.fetchone()
    if pk is None:
        return existing_id, None
    return existing_id, _conversation(pk, user_id, persona, title, platform, created, updated)


def _conversation(
    pk: int, user_id: int, persona: str, title: str, platform: str, created: Any, updated: Any
) -> Conversation:
    """A Conversation from its columns as read here, as if the ORM had loaded it."""
    conversation = Conversation(
        id=pk,
        user_id=user_id,
        persona=persona,
        title=title,
        platform=platform,
        created=aware(created),
        updated=aware(updated),
    )
    conversation._state.adding = False
    conversation._state.db = connection.alias
    return conversation


# A new row's fields that stay at their defaults until its reply ends or the user rates it.
_NEW_ROW: tuple[Any, ...] = (None, None, "", None, None, {}, False, None, "")


def _finished_fields(m: Message) -> tuple[Any, ...]:
    return (
        m.prompt_tokens,
        m.completion_tokens,
        m.model,
        m.latency_ms,
        m.ttft_ms,
        m.quality,
        m.stopped,
        m.rating,
        m.correction,
    )


def _pair_params(messages: tuple[Message, Message]) -> list[Any]:
    params: list[Any] = []
    for m in messages:
        params += [
            m.conversation_id,
            m.role,
            m.content,
            m.platform,
            connection.ops.adapt_datetimefield_value(m.created),
            m.client_id,
            m.prompt_tokens,
            m.completion_tokens,
            m.tokens,
            m.tokenizer,
            m.model,
            m.latency_ms,
            m.ttft_ms,
            json.dumps(m.moderation),
            json.dumps(m.quality),
            m.stopped,
            m.rating,
            m.correction,
        ]
    return params


def _stored(messages: tuple[Message, Message], ids: list[int]) -> None:
    for message, pk in zip(messages, ids, strict=True):
        message.pk = pk
        message._state.adding = False
        message._state.db = connection.alias


def messages_insert_pair(user_message: Message, reply: Message) -> None:
    """INSERT a turn's two new rows in one statement; each gets its id (in order, as bulk_create)."""
    messages = (user_message, reply)
    with connection.cursor() as cursor:
        cursor.execute(_sql(_INSERT_PAIR), _pair_params(messages))
        ids = [row[0] for row in cursor.fetchall()]
    _stored(messages, ids)


def can_insert_pair_checked() -> bool:
    """Whether `messages_insert_pair_checked` is one statement here (PostgreSQL's data-modifying CTEs)."""
    return connection.vendor == "postgresql"


def messages_insert_pair_checked(
    user_message: Message, reply: Message, *, user_id: int, conversation_id: int
) -> Conversation | None:
    """`turn_lookup` and `messages_insert_pair` in one statement (PostgreSQL only), for a turn in
    conversation `conversation_id`: the rows are written (and get their ids) only when it is the
    user's and the user never sent `user_message.client_id` before; the conversation comes back,
    else None (nothing written: the caller looks with turn_lookup)."""
    messages = (user_message, reply)
    for m in messages:
        if (m.platform, m.created, m.client_id) != (
            user_message.platform,
            user_message.created,
            user_message.client_id,
        ):
            raise ValueError("A turn's two rows share their platform, time and client_id.")
        if m.pk is not None or _finished_fields(m) != _NEW_ROW:
            raise ValueError(
                "messages_insert_pair_checked writes new rows (a reply's outcome is written when it ends)."
            )
    params: list[Any] = [
        conversation_id,
        user_id,
        user_id,
        user_message.client_id,
        user_message.platform,
        connection.ops.adapt_datetimefield_value(user_message.created),
        user_message.client_id,
    ]
    for m in messages:
        params += [m.role, m.content, m.tokens, m.tokenizer, json.dumps(m.moderation)]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_PAIR_CHECKED, params)
        rows = cursor.fetchall()
    if not rows:
        return None
    _stored(messages, [row[0] for row in rows])
    conversation = _conversation(conversation_id, user_id, *rows[0][1:])
    for message in messages:
        message.conversation = conversation
    return conversation


def reply_finish(reply: Message) -> None:
    """Write a finished reply's fields (what the LLM, the moderation and the quality gate said); a
    row deleted meanwhile is an error, as Model.save(update_fields=...) has it."""
    with connection.cursor() as cursor:
        cursor.execute(_sql(_FINISH_REPLY), _finish_params(reply))
        if cursor.rowcount != 1:
            raise DatabaseError("Save with update_fields did not affect any rows.")


def _finish_params(reply: Message) -> list[Any]:
    """_FINISH_REPLY's parameters (also the start of _FINISH_TURN's)."""
    return [
        reply.content,
        reply.tokens,
        reply.tokenizer,
        reply.model,
        reply.prompt_tokens,
        reply.completion_tokens,
        reply.latency_ms,
        reply.ttft_ms,
        reply.stopped,
        json.dumps(reply.moderation),
        json.dumps(reply.quality),
        reply.pk,
    ]


def turn_finish(*, reply: Message, user_id: int, updated: datetime, title: str | None) -> int:
    """The finishing hop's writes and read: `reply_finish(reply)`, `conversation_touch` of its
    conversation, then `pending_chars(user_id)` (returned). One statement on PostgreSQL (three
    elsewhere); run it in a transaction, as the three were."""
    if connection.vendor != "postgresql":
        reply_finish(reply)
        conversation_touch(conversation_id=reply.conversation_id, updated=updated, title=title)
        return pending_chars(user_id=user_id)
    with connection.cursor() as cursor:
        cursor.execute(
            _sql(_FINISH_TURN),
            [
                *_finish_params(reply),
                connection.ops.adapt_datetimefield_value(updated),
                title,
                reply.conversation_id,
                user_id,
                user_id,
                reply.pk,
            ],
        )
        updated_rows, pending = cursor.fetchone()
    if updated_rows != 1:
        raise DatabaseError("Save with update_fields did not affect any rows.")
    return int(pending)


def conversation_touch(*, conversation_id: int, updated: datetime, title: str | None) -> None:
    """Move a conversation up (and title it, when `title` is given)."""
    at = connection.ops.adapt_datetimefield_value(updated)
    with connection.cursor() as cursor:
        if title is None:
            cursor.execute("UPDATE chat_conversation SET updated = %s WHERE id = %s", [at, conversation_id])
        else:
            cursor.execute(
                "UPDATE chat_conversation SET updated = %s, title = %s WHERE id = %s", [at, title, conversation_id]
            )


def prompt_reads(
    *, conversation_id: int, before_id: int, user_id: int, facts_limit: int, limit: int = 60
) -> tuple[list[HistoryLine], str, list[tuple[str, str]]]:
    """`history_lines(...)` and `memory_lines(...)` in one statement: (the history oldest first, the
    summary or "", the current facts newest first as (key, text))."""
    with connection.cursor() as cursor:
        cursor.execute(_sql(_PROMPT_READS), [conversation_id, before_id, limit, user_id, user_id, facts_limit])
        return _prompt_rows(cursor.fetchall())


def prompt_reads_along(
    *,
    conversation_id: int,
    before_id: int,
    user_id: int,
    facts_limit: int,
    statement: tuple[str, list[Any]],
    limit: int = 60,
) -> tuple[tuple[list[HistoryLine], str, list[tuple[str, str]]], list[tuple[Any, ...]]]:
    """(`prompt_reads(...)`, the rows of another read `statement` (sql, params)): on PostgreSQL
    both in one round trip (statements separated by ";", psycopg's client-side binding allows it:
    the results come one after the other), elsewhere one after the other."""
    params = [conversation_id, before_id, limit, user_id, user_id, facts_limit]
    sql, extra = statement
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_sql(_PROMPT_READS) + ";\n" + sql, [*params, *extra])
            reads = _prompt_rows(cursor.fetchall())
            if not cursor.nextset():
                raise DatabaseError("The statement sent with the prompt's reads gave no result.")
        else:
            cursor.execute(_sql(_PROMPT_READS), params)
            reads = _prompt_rows(cursor.fetchall())
            cursor.execute(sql, extra)
        return reads, list(cursor.fetchall())


def _prompt_rows(rows: list[tuple[Any, ...]]) -> tuple[list[HistoryLine], str, list[tuple[str, str]]]:
    """_PROMPT_READS' rows as prompt_reads returns them."""
    history: list[HistoryLine] = []
    summary = ""
    facts: list[tuple[str, str]] = []
    for part, _, a, b, tokens, tokenizer, client_id, refused in rows:
        if part == 0:
            history.append(HistoryLine(a, b, tokens, tokenizer, client_id, {"allowed": False} if refused else {}))
        elif part == 1:
            summary = b
        else:
            facts.append((a, b))
    history.reverse()
    return history, summary, facts


def memory_lines(*, user_id: int, facts_limit: int) -> tuple[str, list[tuple[str, str]]]:
    """(the user's rolling summary or "", their current facts newest first as (key, text))."""
    summary = ""
    facts: list[tuple[str, str]] = []
    with connection.cursor() as cursor:
        cursor.execute(_MEMORY, [user_id, user_id, facts_limit])
        for is_summary, key, text in cursor.fetchall():
            if is_summary:
                summary = text
            else:
                facts.append((key, text))
    return summary, facts


def pending_chars(*, user_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(_PENDING_CHARS, [user_id, user_id])
        return int(cursor.fetchone()[0])
