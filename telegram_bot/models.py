"""Telegram data: who is who (Telegram user ↔ DigitalMe user), link codes, seen updates, bot state."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TelegramAccount(models.Model):
    """One Telegram user as the bot knows them.

    `user` is the DigitalMe account they linked (None while unlinked); `guest_user` is the
    guest account an unlinked user chats as (created on first message when guest chat is on).
    """

    telegram_user_id = models.BigIntegerField(unique=True)
    chat_id = models.BigIntegerField(help_text="private chat with the bot (same as the user id in Telegram)")
    username = models.CharField(max_length=64, blank=True)
    first_name = models.CharField(max_length=128, blank=True)
    language_code = models.CharField(max_length=16, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="telegram_account",
    )
    guest_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="telegram_guest_of",
    )
    linked_at = models.DateTimeField(null=True, blank=True)
    blocked_at = models.DateTimeField(null=True, blank=True, help_text="set when Telegram answered 403")
    created = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"@{self.username}" if self.username else f"tg:{self.telegram_user_id}"

    @property
    def is_linked(self) -> bool:
        return self.user_id is not None

    @property
    def is_blocked(self) -> bool:
        return self.blocked_at is not None


class TelegramGroup(models.Model):
    """A group chat where the bot was addressed. Ivan talks there as the group's own guest user:
    a reply the whole group reads never draws on one member's private memory, history or synced
    mail and calendar, and the group's talk never lands in a member's private conversations."""

    chat_id = models.BigIntegerField(unique=True)
    title = models.CharField(max_length=255, blank=True)
    guest_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="telegram_group_of",
    )
    created = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return self.title or f"group {self.chat_id}"


class LinkCode(models.Model):
    """A one-time code that links a Telegram user to `user`; only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link_codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by_telegram_user_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["user", "used_at"])]

    def __str__(self) -> str:
        return f"link code for user {self.user_id}"


class UpdateStatus(models.TextChoices):
    PENDING = "pending", "waiting for a worker"
    PROCESSING = "processing", "a worker has it (until leased_until)"
    DONE = "done", "handled"
    FAILED = "failed", "gave up (error kept)"


class ProcessedUpdate(models.Model):
    """Every update id received, and (webhook mode) the update itself until a worker handled it.

    The webhook stores the update before answering 200, so a crash or deploy loses nothing; a Celery
    worker leases it, handles it and marks it done. The unique update id makes a redelivery a no-op.
    """

    update_id = models.BigIntegerField(unique=True)
    received = models.DateTimeField(auto_now_add=True, db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=UpdateStatus.choices, default=UpdateStatus.DONE)
    attempts = models.PositiveSmallIntegerField(default=0)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="when its queued task is due (None: not queued)")
    leased_until = models.DateTimeField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True, help_text="the webhook request's id, for the logs")
    error = models.CharField(max_length=500, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-update_id"]
        indexes = [models.Index(fields=["status", "received"], name="tg_update_status_received")]

    def __str__(self) -> str:
        return str(self.update_id)


class BotMode(models.TextChoices):
    NONE = "none", "Not configured"
    WEBHOOK = "webhook", "Webhook"
    POLLING = "polling", "Polling"


class BotState(models.Model):
    """The one row describing the bot: mode and the last webhook info Telegram reported."""

    mode = models.CharField(max_length=16, choices=BotMode.choices, default=BotMode.NONE)
    bot_id = models.BigIntegerField(null=True, blank=True)
    bot_username = models.CharField(max_length=64, blank=True)
    webhook_url = models.CharField(max_length=500, blank=True)
    pending_update_count = models.IntegerField(default=0)
    last_error_message = models.CharField(max_length=500, blank=True)
    last_error_date = models.DateTimeField(null=True, blank=True)
    commands_registered_at = models.DateTimeField(null=True, blank=True)
    polling_heartbeat = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True, help_text="when webhook info was last fetched")
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "bot state"
        verbose_name_plural = "bot state"

    def __str__(self) -> str:
        return f"@{self.bot_username or '?'} ({self.mode})"
