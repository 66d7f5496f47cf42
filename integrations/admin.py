"""Admin: integrations and sync runs are visible; tokens never are (no admin for them)."""

from django.contrib import admin

from integrations.models import (
    CalendarEvent,
    GitHubEvent,
    GitHubPullRequest,
    GitHubRepository,
    GmailMessage,
    Integration,
    SyncRun,
)


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "provider",
        "account_label",
        "enabled",
        "status",
        "last_sync_at",
        "last_error",
        "refresh_attempts",
        "refresh_successes",
    ]
    list_filter = ["provider", "status", "enabled"]
    search_fields = ["user__email", "account_label"]
    raw_id_fields = ["user", "social_account"]
    readonly_fields = [
        "cursors",
        "kind_synced_at",
        "refresh_attempts",
        "refresh_successes",
        "last_sync_at",
        "last_success_at",
        "created_at",
        "updated_at",
    ]


@admin.register(SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = ["integration", "provider", "trigger", "status", "started_at", "duration_ms", "requests"]
    list_filter = ["provider", "status", "trigger"]
    readonly_fields = [f.name for f in SyncRun._meta.fields]


for model in (GmailMessage, CalendarEvent, GitHubEvent, GitHubRepository, GitHubPullRequest):
    admin.site.register(model, list_display=["__str__", "user", "synced_at"], raw_id_fields=["user", "integration"])
