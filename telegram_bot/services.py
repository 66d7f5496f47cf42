"""Telegram changes: link codes and linking, guest users, update de-duplication, rate limits, bot state.

Handlers, the webhook view and the commands call these; the chat itself goes through
chat.services (one pipeline for web, API and Telegram).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status

from accounts.models import User
from digitalme.errors import DomainError
from telegram_bot.models import BotState, LinkCode, ProcessedUpdate, TelegramAccount
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
    """The account for this Telegram user, created or refreshed from the update.

    A message in the private chat means the user can be reached again, so a block mark is cleared.
    """
    defaults: dict[str, Any] = {
        "username": profile.username[:64],
        "first_name": profile.first_name[:128],
        "language_code": profile.language_code[:16],
    }
    if private_chat:
        defaults.update(chat_id=profile.chat_id, blocked_at=None)
    account, created = TelegramAccount.objects.update_or_create(
        telegram_user_id=profile.telegram_user_id,
        defaults=defaults,
        create_defaults={**defaults, "chat_id": profile.telegram_user_id},
    )
    if created:
        logger.info("telegram user seen first time", extra={"telegram_account_id": account.pk})
    # Loaded here so async callers can read account.user / guest_user without another query.
    return TelegramAccount.objects.select_related("user", "guest_user").get(pk=account.pk)


@transaction.atomic
def telegram_link_confirm(*, code: str, account: TelegramAccount) -> LinkResult:
    """Link `account` to the user who issued `code` (single use, expires).

    The guest's conversations move into the account, so the Telegram chat keeps its context and
    shows up on the web; the guest user (and its short guest memory) is then deleted.
    """
    link = LinkCode.objects.select_for_update().filter(code_hash=_hash_code(code)).select_related("user").first()
    if link is None:
        raise LinkCodeInvalidError("This link code is not valid.")
    if link.used_at is not None:
        raise LinkCodeUsedError("This link code was already used.")
    if link.expires_at <= timezone.now():
        raise LinkCodeExpiredError("This link code has expired.")
    account = TelegramAccount.objects.select_for_update().get(pk=account.pk)
    target = link.user
    link.used_at = timezone.now()
    link.used_by_telegram_user_id = account.telegram_user_id
    link.save(update_fields=["used_at", "used_by_telegram_user_id"])
    # One Telegram account per DigitalMe account: a previous link of this user is undone.
    TelegramAccount.objects.filter(user=target).exclude(pk=account.pk).update(user=None, linked_at=None)
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
    return LinkResult(user=target, guest_history_moved=moved)


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


def telegram_turn_start(*, account: TelegramAccount, chat_id: int) -> TurnStart:
    """Who speaks, whether the chat is within its limit, and which conversation continues.

    Telegram continues the user's most recently active conversation, whatever platform it was
    begun on, so a talk started on the web goes on here with the same context; /new starts a
    fresh one (which then is the most recent).
    """
    from chat.services import conversation_latest

    user = telegram_chat_user(account=account)
    if user is None:
        return TurnStart(user=None, conversation=None, rate=RateDecision(allowed=True, notify=False))
    rate = chat_rate_check(chat_id=chat_id, guest=user.is_guest)
    if not rate.allowed:
        return TurnStart(user=user, conversation=None, rate=rate)
    if user.is_guest:
        guest_memory_trim(user=user)
    return TurnStart(user=user, conversation=conversation_latest(user=user), rate=rate)


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


def update_claim(*, update_id: int) -> bool:
    """True the first time an update id is seen; False for a redelivery."""
    try:
        with transaction.atomic():
            ProcessedUpdate.objects.create(update_id=update_id)
    except IntegrityError:
        logger.info("telegram update redelivered; skipped", extra={"update_id": update_id})
        return False
    if update_id % 500 == 0:  # now and then, forget ids Telegram will never resend
        ProcessedUpdate.objects.filter(received__lt=timezone.now() - PROCESSED_UPDATES_KEEP).delete()
    return True


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    notify: bool  # tell the user once per window, not on every extra message


def chat_rate_check(*, chat_id: int, guest: bool) -> RateDecision:
    """Fixed one-minute window per chat; guests get the stricter limit."""
    limit = settings.TELEGRAM_GUEST_RATE_LIMIT_PER_MIN if guest else settings.TELEGRAM_RATE_LIMIT_PER_MIN
    window = int(timezone.now().timestamp() // 60)
    key = f"tg:rate:{chat_id}:{window}"
    cache.add(key, 0, timeout=70)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=70)
        count = 1
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
