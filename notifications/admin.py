from django.contrib import admin

from notifications.models import PushSubscription


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "label", "created", "last_success_at", "failures"]
    list_select_related = ["user"]
    search_fields = ["user__email", "label"]
    readonly_fields = [
        "user",
        "endpoint",
        "p256dh",
        "auth",
        "label",
        "created",
        "last_success_at",
        "last_failure_at",
        "failures",
    ]
