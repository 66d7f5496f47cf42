"""Telegram changes: link codes and linking, guest users, update de-duplication, rate limits, bot state.

Handlers, the webhook view and the commands call these; the chat itself goes through
chat.services (one pipeline for web, API and Telegram).
"""

from __future__ import annotations

import enum
import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import status

from accounts.models import User
from digitalme.errors import DomainError
from digitalme.ratewindow import count_hit
from telegram_bot import rows
from telegram_bot.models import BotState, LinkCode, ProcessedUpdate, TelegramAccount, TelegramGroup, UpdateStatus
from telegram_bot.texts import language_for

logger = logging.getLogger(__name__)

# No 0/O/1/I/L: codes are sometimes typed by hand (`/start CODE`).
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 10
PROCESSED_UPDATES_KEEP = timedelta(days=3)


class TelegramBotError(DomainError):
    code = "telegram_error"


class LinkCodeInvalidError(TelegramBotError):
    code = "link_invalid"


class LinkCodeExpiredError(TelegramBotError):
    code = "link_expired"


class LinkCodeUsedError(TelegramBotError):
    code = "link_used"


class GuestNotAllowedError(TelegramBotError):
    status_code = status.HTTP_403_FORBIDDEN  # type: ignore[assignment]
    code = "guest_not_allowed"


@dataclass(frozen=True)
class IssuedLinkCode:
    code: str
    deep_link: str | None
    expires_at: datetime


@dataclass(frozen=True)
class TelegramProfile:
    """Who sent an update, as Telegram describes them."""

    telegram_user_id: int
    chat_id: int
    username: str = ""
    first_name: str = ""
    language_code: str = ""


@dataclass(frozen=True)
class LinkResult:
    user: User
    guest_history_moved: bool
    # The user's previous Telegram chat, which lost the link (told so, never silently).
    unlinked_chat_id: int | None = None


@dataclass(frozen=True)
class LinkPreview:
    """What confirming a code would do, shown to the Telegram user before anything changes."""

    account: str  # the target DigitalMe account, masked (the code holder knows which it is)
    currently_linked_to: str | None  # masked account this Telegram is linked to now, if any
    guest_history: bool  # the guest's conversations would move into the account


def mask_email(email: str) -> str:
    """`masha@example.com` → `ma•••@example.com`: enough to recognise one's own account, not to learn another's."""
    local, _, domain = email.partition("@")
    return f"{local[:2]}•••@{domain}" if domain else f"{email[:2]}•••"


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


class TelegramUnavailableError(TelegramBotError):
    status_code = status.HTTP_404_NOT_FOUND  # type: ignore[assignment]
    code = "telegram_unavailable"


def bot_username() -> str:
    """The bot's @username: from settings, else as last seen from getMe, else asked from Telegram once."""
    known = settings.TELEGRAM_BOT_USERNAME or (
        BotState.objects.filter(pk=1).values_list("bot_username", flat=True).first() or ""
    )
    if known or not settings.TELEGRAM_BOT_TOKEN:
        return known
    from telegram_bot.bot import bot_identity_fetch

    try:
        return bot_identity_fetch()
    except Exception as exc:  # noqa: BLE001 - Telegram unreachable: the code still works without a link
        logger.warning("telegram getMe failed", extra={"error": type(exc).__name__})
        return ""


def deep_link(code: str) -> str | None:
    username = bot_username()
    return f"https://t.me/{username}?start={code}" if username else None


# --- linking -------------------------------------------------------------------------------


@transaction.atomic
def link_code_issue(*, user: User) -> IssuedLinkCode:
    """A fresh one-time code for `user`; earlier unused codes of the user stop working."""
    if user.is_guest:
        raise GuestNotAllowedError("Guest accounts can't be linked to Telegram.")
    if not settings.TELEGRAM_BOT_TOKEN:
        raise TelegramUnavailableError("Telegram is not set up on this server (TELEGRAM_BOT_TOKEN is empty).")
    LinkCode.objects.filter(user=user, used_at__isnull=True).delete()
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
    expires_at = timezone.now() + timedelta(seconds=settings.TELEGRAM_LINK_CODE_TTL_S)
    LinkCode.objects.create(user=user, code_hash=_hash_code(code), expires_at=expires_at)
    logger.info("telegram link code issued", extra={"user_id": user.pk})
    return IssuedLinkCode(code=code, deep_link=deep_link(code), expires_at=expires_at)


def telegram_account_touch(*, profile: TelegramProfile, private_chat: bool) -> TelegramAccount:
    """The account for this Telegram user, created or refreshed from the update (one statement).

    A message in the private chat means the user can be reached again, so a block mark is cleared.
    The linked user (or the guest user) comes loaded, so async callers read account.user /
    guest_user without another query.
    """
    account, created = rows.account_touch(
        telegram_user_id=profile.telegram_user_id,
        chat_id=profile.chat_id,
        username=profile.username[:64],
        first_name=profile.first_name[:128],
        language_code=profile.language_code[:16],
        private_chat=private_chat,
        now=timezone.now(),
    )
    if created:
        logger.info("telegram user seen first time", extra={"telegram_account_id": account.pk})
    user_id, guest_user_id = account.user_id, account.guest_user_id
    if user_id is not None or guest_user_id is not None:
        users = {user.pk: user for user in User.objects.filter(pk__in=[user_id, guest_user_id])}
        account.user = users.get(user_id) if user_id is not None else None
        account.guest_user = users.get(guest_user_id) if guest_user_id is not None else None
    return account


def _link_code_valid(*, code: str, lock: bool = False) -> LinkCode:
    """The usable LinkCode for `code`, or the domain error saying why it can't be used."""
    links = LinkCode.objects.select_for_update() if lock else LinkCode.objects.all()
    link = links.filter(code_hash=_hash_code(code)).select_related("user").first()
    if link is None:
        raise LinkCodeInvalidError("This link code is not valid.")
    if link.used_at is not None:
        raise LinkCodeUsedError("This link code was already used.")
    if link.expires_at <= timezone.now():
        raise LinkCodeExpiredError("This link code has expired.")
    return link


def telegram_link_preview(*, code: str, account: TelegramAccount) -> LinkPreview:
    """What `/start CODE` asks the Telegram user to confirm; changes nothing.

    A deep link can come from anyone: someone else's code would link this Telegram (and move its
    guest history) into *their* account, so the user first sees which account and says yes.
    """
    link = _link_code_valid(code=code)
    current = account.user if account.user_id is not None and account.user_id != link.user_id else None
    return LinkPreview(
        account=mask_email(link.user.email),
        currently_linked_to=mask_email(current.email) if current is not None else None,
        guest_history=account.guest_user_id is not None,
    )


@transaction.atomic
def telegram_link_confirm(*, code: str, account: TelegramAccount) -> LinkResult:
    """Link `account` to the user who issued `code` (single use, expires), after the user confirmed it
    in Telegram (`telegram_link_preview` shows what happens).

    The guest's conversations move into the account, so the Telegram chat keeps its context and
    shows up on the web; the guest user (and its short guest memory) is then deleted.
    """
    link = _link_code_valid(code=code, lock=True)
    account = TelegramAccount.objects.select_for_update().get(pk=account.pk)
    target = link.user
    link.used_at = timezone.now()
    link.used_by_telegram_user_id = account.telegram_user_id
    link.save(update_fields=["used_at", "used_by_telegram_user_id"])
    # One Telegram account per DigitalMe account: a previous link of this user is undone (and that
    # chat is told, so a link never moves silently).
    previous = TelegramAccount.objects.select_for_update().filter(user=target).exclude(pk=account.pk).first()
    if previous is not None:
        previous.user = None
        previous.linked_at = None
        previous.save(update_fields=["user", "linked_at"])
        logger.info(
            "telegram link moved to another telegram account",
            extra={"user_id": target.pk, "telegram_account_id": previous.pk},
        )
    guest = account.guest_user
    moved = False
    if guest is not None:
        moved = _guest_history_move(guest=guest, target=target)
        account.guest_user = None
    account.user = target
    account.linked_at = timezone.now()
    account.save(update_fields=["user", "guest_user", "linked_at"])
    if guest is not None:
        guest.delete()
    logger.info("telegram account linked", extra={"user_id": target.pk, "telegram_account_id": account.pk})
    unlinked_chat_id = previous.chat_id if previous is not None and not previous.is_blocked else None
    return LinkResult(user=target, guest_history_moved=moved, unlinked_chat_id=unlinked_chat_id)


def _guest_history_move(*, guest: User, target: User) -> bool:
    """Hand the guest's conversations to the linked account; True when there were any."""
    from chat.services import conversations_transfer

    return conversations_transfer(from_user=guest, to_user=target) > 0


@transaction.atomic
def telegram_unlink(*, account: TelegramAccount) -> bool:
    """Undo the link; the conversations stay with the DigitalMe account. False if not linked."""
    if account.user_id is None:
        return False
    user_id = account.user_id
    account.user = None
    account.linked_at = None
    account.save(update_fields=["user", "linked_at"])
    logger.info("telegram account unlinked", extra={"user_id": user_id, "telegram_account_id": account.pk})
    return True


def guest_chat_enabled() -> bool:
    return settings.TELEGRAM_GUEST_CHAT


def telegram_chat_user(*, account: TelegramAccount) -> User | None:
    """Who this Telegram user talks to Ivan as: the linked user, else their guest user.

    None when they are not linked and guest chat is off (they only get the intro).
    """
    if account.user_id is not None:
        return account.user
    if not guest_chat_enabled():
        return None
    if account.guest_user_id is not None:
        return account.guest_user
    return _guest_user_create(account=account)


@transaction.atomic
def _guest_user_create(*, account: TelegramAccount) -> User:
    account = TelegramAccount.objects.select_for_update().get(pk=account.pk)
    if account.guest_user_id is not None:
        return account.guest_user  # type: ignore[return-value]
    email = f"telegram-{account.telegram_user_id}-{secrets.token_hex(4)}@guest.invalid"
    guest = User.objects.create_user(
        email=email,
        password=None,
        display_name=account.first_name[:80],
        language=language_for(account.language_code),
        is_guest=True,
    )
    account.guest_user = guest
    account.save(update_fields=["guest_user"])
    logger.info("telegram guest user created", extra={"user_id": guest.pk, "telegram_account_id": account.pk})
    return guest


@dataclass(frozen=True)
class TurnStart:
    """What a text message needs before the pipeline runs."""

    user: User | None  # None: not linked and guest chat is off
    conversation: Any  # the user's most recent conversation on any platform, or None (a new one)
    rate: RateDecision


def telegram_turn_start(*, account: TelegramAccount, chat_id: int, group_title: str | None = None) -> TurnStart:
    """Who speaks, whether the chat is within its limit, and which conversation continues.

    Telegram continues the user's most recently active conversation, whatever platform it was
    begun on, so a talk started on the web goes on here with the same context; /new starts a
    fresh one (which then is the most recent).

    In a group (`group_title` given) the whole group reads the reply, so Ivan speaks as the group's
    own guest user (`telegram_group_user`): no member's memory, history or synced data goes in.
    The member still needs to be allowed to chat (linked, or guest chat on).
    """
    from chat.services import conversation_latest

    if group_title is not None:
        if account.user_id is None and not guest_chat_enabled():
            return TurnStart(user=None, conversation=None, rate=RateDecision(allowed=True, notify=False))
        user: User | None = telegram_group_user(chat_id=chat_id, title=group_title)
        guest = account.user_id is None
    else:
        user = telegram_chat_user(account=account)
        guest = user is not None and user.is_guest
    if user is None:
        return TurnStart(user=None, conversation=None, rate=RateDecision(allowed=True, notify=False))
    rate = chat_rate_check(chat_id=chat_id, guest=guest)
    if not rate.allowed:
        return TurnStart(user=user, conversation=None, rate=rate)
    if user.is_guest:
        guest_memory_trim(user=user)
    return TurnStart(user=user, conversation=conversation_latest(user=user), rate=rate)


def telegram_text_start(
    *, profile: TelegramProfile, private_chat: bool, group_title: str | None = None
) -> tuple[TelegramAccount, TurnStart]:
    """A text message's database work before the turn, for one thread hop: the sender
    (telegram_account_touch), then telegram_turn_start in the message's chat."""
    account = telegram_account_touch(profile=profile, private_chat=private_chat)
    return account, telegram_turn_start(account=account, chat_id=profile.chat_id, group_title=group_title)


@transaction.atomic
def telegram_group_user(*, chat_id: int, title: str = "") -> User:
    """The guest user a group chat talks to Ivan as (created on first mention)."""
    group, _ = TelegramGroup.objects.select_for_update().get_or_create(chat_id=chat_id, defaults={"title": title[:255]})
    if group.title != title[:255]:
        group.title = title[:255]
        group.save(update_fields=["title", "last_seen"])
    if group.guest_user_id is not None:
        return group.guest_user  # type: ignore[return-value]
    guest = User.objects.create_user(
        email=f"telegram-group{chat_id}-{secrets.token_hex(4)}@guest.invalid",
        password=None,
        display_name=(title or "Telegram group")[:80],
        is_guest=True,
    )
    group.guest_user = guest
    group.save(update_fields=["guest_user", "last_seen"])
    logger.info("telegram group guest user created", extra={"user_id": guest.pk, "chat_id": chat_id})
    return guest


def telegram_feedback_user(*, account: TelegramAccount, chat_id: int, private_chat: bool) -> User | None:
    """Whose reply a 👍/👎 rates: the user's own in the private chat, the group's in a group."""
    if private_chat:
        return telegram_chat_user(account=account)
    group = TelegramGroup.objects.filter(chat_id=chat_id).select_related("guest_user").first()
    return group.guest_user if group is not None else None


def guest_memory_trim(*, user: User) -> int:
    """Guests keep only their newest TELEGRAM_GUEST_MEMORY_FACTS long-term facts; returns how many went."""
    from chat.selectors import memory_fact_list
    from chat.services import memory_fact_delete

    surplus = list(memory_fact_list(user=user).values_list("pk", flat=True)[settings.TELEGRAM_GUEST_MEMORY_FACTS :])
    for fact_id in surplus:
        memory_fact_delete(user=user, fact_id=fact_id)
    return len(surplus)


def telegram_account_mark_blocked(*, chat_id: int) -> None:
    """Telegram answered 403 for this chat: stop sending to it until the user writes again."""
    updated = TelegramAccount.objects.filter(chat_id=chat_id, blocked_at__isnull=True).update(blocked_at=timezone.now())
    if updated:
        logger.info("telegram user blocked the bot", extra={"chat_id": chat_id})


def account_language(*, account: TelegramAccount) -> str:
    if account.user_id is not None:
        return account.user.language  # type: ignore[union-attr]
    return language_for(account.language_code)


# --- updates and limits ----------------------------------------------------------------------


def _forget_old_updates(update_id: int) -> None:
    if update_id % 500 == 0:  # now and then, forget handled ids Telegram will never resend
        ProcessedUpdate.objects.filter(
            received__lt=timezone.now() - PROCESSED_UPDATES_KEEP, status__in=[UpdateStatus.DONE, UpdateStatus.FAILED]
        ).delete()


class UpdateStored(enum.Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    BACKLOG_FULL = "backlog_full"


def update_backlog() -> int:
    """Stored updates not handled yet (waiting or leased)."""
    return ProcessedUpdate.objects.filter(status__in=[UpdateStatus.PENDING, UpdateStatus.PROCESSING]).count()


def update_store(*, update_id: int, payload: dict[str, Any], request_id: str = "") -> UpdateStored:
    """Keep the update before Telegram is told it arrived (the webhook's 200, or polling's next
    offset), then queue it for a worker.

    A new update costs one statement (stored, de-duplicated and bounded at once: rows.update_insert)
    and the task's publish. A redelivered id is a duplicate (acknowledged, not stored again). When
    BACKLOG_MAX updates already wait, nothing is stored and the webhook answers 503: Telegram keeps
    the update and redelivers it later, so the backlog is bounded here and nothing is lost.
    """
    if rows.update_insert(
        update_id=update_id,
        payload=payload,
        request_id=request_id[:64],
        now=timezone.now(),
        backlog_max=settings.TELEGRAM_UPDATE_BACKLOG_MAX,
    ):
        # Marked queued by the insert, so a worker that takes the task at once finds the row ready.
        transaction.on_commit(lambda: _publish(update_id=update_id, countdown=None))
        _forget_old_updates(update_id)
        return UpdateStored.STORED
    stored = ProcessedUpdate.objects.filter(update_id=update_id).values("status", "queued_at").first()
    if stored is None:
        logger.warning("telegram update backlog full; Telegram will redeliver", extra={"update_id": update_id})
        return UpdateStored.BACKLOG_FULL
    due = stored["queued_at"] is None or stored["queued_at"] <= timezone.now()  # not a retry's backoff
    if stored["status"] == UpdateStatus.PENDING and due:
        # Telegram redelivers only what got no 200: the process that stored it may have died
        # before its task was published. Queue it now, not after the resume job's grace; a
        # second task is harmless (update_lease lets one worker take the update).
        update_enqueue(update_id=update_id)
    logger.info("telegram update redelivered; skipped", extra={"update_id": update_id})
    return UpdateStored.DUPLICATE


def update_enqueue(*, update_id: int, countdown: float | None = None) -> bool:
    """Queue the worker task; a broker outage only delays the update (updates_resume re-queues it).

    The row is marked queued before the task is published, never after: a worker may lease the
    update the moment the task lands, and must find the row as it will stay (a write still in
    flight would hold the row's lock while the lease waits for it).
    """
    ProcessedUpdate.objects.filter(update_id=update_id).update(
        queued_at=timezone.now() + timedelta(seconds=countdown or 0)
    )
    return _publish(update_id=update_id, countdown=countdown)


def _publish(*, update_id: int, countdown: float | None) -> bool:
    from telegram_bot.tasks import update_process

    try:
        update_process.apply_async(args=[update_id], countdown=countdown)
    except Exception:  # noqa: BLE001 - kombu raises many kinds; the update is stored either way
        logger.warning("could not queue a telegram update; it waits for updates_resume", extra={"update_id": update_id})
        ProcessedUpdate.objects.filter(update_id=update_id).update(queued_at=None)  # resumed after RESUME_GRACE
        return False
    return True


@dataclass(frozen=True)
class LeasedUpdate:
    update_id: int
    payload: dict[str, Any]
    attempts: int  # including this one
    request_id: str


def update_lease(*, update_id: int) -> LeasedUpdate | None:
    """Take a stored update for handling (one worker at a time); None when it is done, failed or
    another worker holds a live lease (a redelivered or resumed task). One statement."""
    now = timezone.now()
    leased = rows.update_lease(
        update_id=update_id, now=now, until=now + timedelta(seconds=settings.TELEGRAM_UPDATE_LEASE_S)
    )
    if leased is None:
        return None
    return LeasedUpdate(
        update_id=update_id, payload=leased.payload, attempts=leased.attempts, request_id=leased.request_id
    )


def update_finish(*, update_id: int, error: str = "") -> None:
    """The update was handled (or failed for good, with `error`); its payload is no longer needed."""
    rows.update_finish(
        update_id=update_id,
        status=UpdateStatus.FAILED if error else UpdateStatus.DONE,
        error=error[:500],
        now=timezone.now(),
    )


def update_retry_later(*, update_id: int, error: str) -> bool:
    """Put the update back for another attempt (the caller queues it); False (and failed) when it
    has had TELEGRAM_UPDATE_MAX_ATTEMPTS already."""
    row = ProcessedUpdate.objects.filter(update_id=update_id).only("attempts").first()
    if row is None:
        return False
    if row.attempts >= settings.TELEGRAM_UPDATE_MAX_ATTEMPTS:
        update_finish(update_id=update_id, error=f"gave up after {row.attempts} attempts: {error}")
        return False
    ProcessedUpdate.objects.filter(update_id=update_id).update(
        status=UpdateStatus.PENDING, error=error[:500], leased_until=None
    )
    return True


RESUME_GRACE = timedelta(seconds=30)


def updates_resume() -> int:
    """Re-queue stored updates nobody is working on: never queued (the broker was down), queued so
    long ago that the task must be lost, or leased by a worker that died (its lease ran out).
    Run by beat every minute; returns how many were queued."""
    now = timezone.now()
    lost = now - timedelta(seconds=settings.TELEGRAM_UPDATE_LEASE_S)
    stale = list(
        ProcessedUpdate.objects.filter(
            Q(status=UpdateStatus.PENDING, queued_at__isnull=True, received__lt=now - RESUME_GRACE)
            | Q(status=UpdateStatus.PENDING, queued_at__lt=lost)
            | Q(status=UpdateStatus.PROCESSING, leased_until__lt=now)
        )
        .order_by("update_id")
        .values_list("update_id", flat=True)[: settings.TELEGRAM_UPDATE_BACKLOG_MAX]
    )
    queued = sum(update_enqueue(update_id=update_id) for update_id in stale)
    if stale:
        logger.info("telegram updates resumed", extra={"count": len(stale), "queued": queued})
    return queued


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    notify: bool  # tell the user once per window, not on every extra message


def chat_rate_check(*, chat_id: int, guest: bool) -> RateDecision:
    """Fixed one-minute window per chat; guests get the stricter limit."""
    limit = settings.TELEGRAM_GUEST_RATE_LIMIT_PER_MIN if guest else settings.TELEGRAM_RATE_LIMIT_PER_MIN
    count = count_hit(f"tg:rate:{chat_id}", 60).count
    return RateDecision(allowed=count <= limit, notify=count == limit + 1)


# --- bot state -------------------------------------------------------------------------------


def bot_state_update(**fields: Any) -> BotState:
    state, _ = BotState.objects.update_or_create(pk=1, defaults=fields)
    cache.delete(BOT_STATE_CACHE_KEY)
    return state


BOT_STATE_CACHE_KEY = "tg:bot-state"


def webhook_info_fields(info: Any) -> dict[str, Any]:
    """BotState fields from a telegram.WebhookInfo."""
    return {
        "webhook_url": info.url or "",
        "pending_update_count": info.pending_update_count or 0,
        "last_error_message": (info.last_error_message or "")[:500],
        "last_error_date": info.last_error_date,
        "checked_at": timezone.now(),
    }
