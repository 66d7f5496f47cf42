from asgiref.sync import async_to_sync
from django.contrib import admin, messages

from telegram_bot.models import BotState, LinkCode, TelegramAccount


@admin.register(TelegramAccount)
class TelegramAccountAdmin(admin.ModelAdmin):
    list_display = ["__str__", "telegram_user_id", "user", "guest_user", "language_code", "blocked_at", "last_seen"]
    list_filter = ["blocked_at", "linked_at"]
    search_fields = ["username", "first_name", "telegram_user_id", "user__email"]
    raw_id_fields = ["user", "guest_user"]
    readonly_fields = ["created", "last_seen", "linked_at", "blocked_at"]


@admin.register(LinkCode)
class LinkCodeAdmin(admin.ModelAdmin):
    list_display = ["user", "created", "expires_at", "used_at", "used_by_telegram_user_id"]
    readonly_fields = ["user", "code_hash", "created", "expires_at", "used_at", "used_by_telegram_user_id"]
    search_fields = ["user__email"]

    def has_add_permission(self, request) -> bool:
        return False  # codes are issued from the settings page / API only


@admin.register(BotState)
class BotStateAdmin(admin.ModelAdmin):
    """The bot's mode and the webhook info Telegram last reported; "refresh" asks Telegram now."""

    list_display = [
        "__str__",
        "mode",
        "webhook_url",
        "pending_update_count",
        "last_error_message",
        "last_error_date",
        "checked_at",
        "polling_heartbeat",
    ]
    readonly_fields = [field.name for field in BotState._meta.fields]
    actions = ["refresh_webhook_info"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Refresh webhook info from Telegram")
    def refresh_webhook_info(self, request, queryset) -> None:
        from telegram_bot.bot import webhook_info_refresh

        try:
            async_to_sync(webhook_info_refresh)()
        except Exception as exc:  # noqa: BLE001 - any failure is shown to staff
            self.message_user(request, f"Telegram did not answer: {type(exc).__name__}", level=messages.ERROR)
            return
        self.message_user(request, "Webhook info refreshed.")
