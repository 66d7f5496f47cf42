"""Telegram reads: bot state (cached for health probes), a user's Telegram link."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from accounts.models import User
from telegram_bot.models import BotState, TelegramAccount
from telegram_bot.services import BOT_STATE_CACHE_KEY

BOT_STATE_CACHE_S = 30


def bot_state_snapshot() -> dict[str, Any]:
    """The bot state as JSON-ready data; cached briefly so health probes don't hit the database each time."""
    cached = cache.get(BOT_STATE_CACHE_KEY)
    if cached is not None:
        return cached
    state = BotState.objects.filter(pk=1).first() or BotState()
    snapshot = {
        "mode": state.mode,
        "bot_username": state.bot_username,
        "webhook": {
            "url": state.webhook_url,
            "pending_update_count": state.pending_update_count,
            "last_error_message": state.last_error_message,
            "last_error_date": state.last_error_date.isoformat() if state.last_error_date else None,
            "checked_at": state.checked_at.isoformat() if state.checked_at else None,
        },
        "polling_heartbeat": state.polling_heartbeat.isoformat() if state.polling_heartbeat else None,
        "commands_registered_at": state.commands_registered_at.isoformat() if state.commands_registered_at else None,
    }
    cache.set(BOT_STATE_CACHE_KEY, snapshot, timeout=BOT_STATE_CACHE_S)
    return snapshot


def telegram_account_get(*, telegram_user_id: int) -> TelegramAccount | None:
    return (
        TelegramAccount.objects.select_related("user", "guest_user").filter(telegram_user_id=telegram_user_id).first()
    )


def telegram_link_export(user: User) -> dict[str, Any] | None:
    """The user's Telegram link for /api/me/export/."""
    account = TelegramAccount.objects.filter(user=user).first()
    if account is None:
        return None
    return {
        "telegram_user_id": account.telegram_user_id,
        "username": account.username,
        "first_name": account.first_name,
        "linked_at": account.linked_at.isoformat() if account.linked_at else None,
    }
