"""A Telegram update's hot statements as parameterised SQL: store (with de-duplication and the
backlog bound), lease, finish, and the sender's account upsert.

Each used to be an ORM sequence — the webhook's SELECT, COUNT, BEGIN, INSERT, COMMIT, UPDATE before
its 200; the lease's BEGIN, SELECT … FOR UPDATE, UPDATE, COMMIT; the sender's BEGIN, SELECT … FOR
UPDATE, UPDATE, COMMIT, SELECT — and each is now one statement (docs/QUALITY.md, Telegram latency).
The dialect rule (PostgreSQL, SQLite) is digitalme/rawsql.py's. Everything else keeps the ORM.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection

from digitalme.rawsql import aware, db_datetime, in_dialect
from telegram_bot.models import TelegramAccount, UpdateStatus

# A new update, stored pending and already marked queued (its task is published right after), unless
# its id is known (a redelivery: nothing is written) or BACKLOG_MAX updates wait (Telegram keeps it).
_STORE = """
INSERT INTO telegram_bot_processedupdate (update_id, received, payload, status, attempts, queued_at, request_id, error)
SELECT %s, %s, {json}, %s, 0, %s, %s, ''
WHERE (SELECT COUNT(*) FROM telegram_bot_processedupdate WHERE status IN (%s, %s)) < %s
ON CONFLICT (update_id) DO NOTHING
RETURNING id
"""

# A row lock taken by another worker's lease makes this wait for that one statement, then see the
# row leased: at most one worker gets it.
_LEASE = """
UPDATE telegram_bot_processedupdate SET status = %s, attempts = attempts + 1, leased_until = %s
WHERE update_id = %s AND (status = %s OR (status = %s AND leased_until < %s))
RETURNING payload, attempts, request_id
"""

_FINISH = """
UPDATE telegram_bot_processedupdate SET status = %s, error = %s, payload = {json}, leased_until = NULL, processed_at = %s
WHERE update_id = %s
"""

# The sender as the update describes them; a message in the private chat also says where to reach
# them and that they can be reached again (chat_id, blocked_at cleared; a new row's chat_id is the
# user's id, as Telegram's private chat id is). `created = %s` tells a
# first sighting (the row was inserted with this very time) in both dialects.
_ACCOUNT_TOUCH = """
INSERT INTO telegram_bot_telegramaccount (telegram_user_id, chat_id, username, first_name, language_code, created,
    last_seen)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (telegram_user_id) DO UPDATE SET username = excluded.username, first_name = excluded.first_name,
    language_code = excluded.language_code, last_seen = excluded.last_seen{private}
RETURNING id, chat_id, user_id, guest_user_id, linked_at, blocked_at, created, created = %s
"""
_PRIVATE = {"private": dict.fromkeys(("postgresql", "sqlite"), ", chat_id = %s, blocked_at = NULL")}
_GROUP = {"private": {"postgresql": "", "sqlite": ""}}

_WAITING = (UpdateStatus.PENDING, UpdateStatus.PROCESSING)


class Leased(NamedTuple):
    payload: dict[str, Any]
    attempts: int
    request_id: str


def update_insert(*, update_id: int, payload: dict[str, Any], request_id: str, now: datetime, backlog_max: int) -> bool:
    """Store a new update as pending and queued; False when its id is known or the backlog is full."""
    at = db_datetime(now)
    with connection.cursor() as cursor:
        cursor.execute(
            in_dialect(_STORE),
            [update_id, at, json.dumps(payload), UpdateStatus.PENDING, at, request_id, *_WAITING, backlog_max],
        )
        return cursor.fetchone() is not None


def update_lease(*, update_id: int, now: datetime, until: datetime) -> Leased | None:
    """Lease a pending update, or one whose lease ran out; None when nobody may take it now."""
    with connection.cursor() as cursor:
        cursor.execute(
            _LEASE,
            [
                UpdateStatus.PROCESSING,
                db_datetime(until),
                update_id,
                UpdateStatus.PENDING,
                UpdateStatus.PROCESSING,
                db_datetime(now),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    payload, attempts, request_id = row
    return Leased(json.loads(payload) if isinstance(payload, str | bytes) else payload, attempts, request_id)


def update_finish(*, update_id: int, status: str, error: str, now: datetime) -> None:
    """Mark the update handled (or failed for good); its payload is dropped."""
    with connection.cursor() as cursor:
        cursor.execute(in_dialect(_FINISH), [status, error, "{}", db_datetime(now), update_id])


def account_touch(
    *,
    telegram_user_id: int,
    chat_id: int,
    username: str,
    first_name: str,
    language_code: str,
    private_chat: bool,
    now: datetime,
) -> tuple[TelegramAccount, bool]:
    """(the account for this Telegram user, created or refreshed in one statement; whether it is new)."""
    at = db_datetime(now)
    with connection.cursor() as cursor:
        cursor.execute(
            in_dialect(_ACCOUNT_TOUCH, **(_PRIVATE if private_chat else _GROUP)),
            [
                *(telegram_user_id, telegram_user_id, username, first_name, language_code, at, at),
                *((chat_id,) if private_chat else ()),
                at,
            ],
        )
        pk, stored_chat_id, user_id, guest_user_id, linked_at, blocked_at, created, is_new = cursor.fetchone()
    account = TelegramAccount(
        id=pk,
        telegram_user_id=telegram_user_id,
        chat_id=stored_chat_id,
        username=username,
        first_name=first_name,
        language_code=language_code,
        user_id=user_id,
        guest_user_id=guest_user_id,
        linked_at=aware(linked_at),
        blocked_at=aware(blocked_at),
        created=aware(created),
        last_seen=now,
    )
    account._state.adding = False
    account._state.db = connection.alias
    return account, bool(is_new)
