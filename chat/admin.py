"""The chat in the admin.

Conversations, messages, memory facts and summaries are the user's data: staff holding the view
permission may look, nobody adds, edits or deletes them here (users delete their own through the
API or by deleting their account). A message's text needs `chat.view_message`, so a staff member
who may see that conversations exist does not thereby read them.

Moderation review: blocked and flagged messages with their category, score and deciding layer; the
text only for staff holding `chat.view_moderated_text`. Reviewers mark false positives and missed
harms, which feed the moderation corpus (chat/moderation_review.py).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from chat.models import Conversation, MemoryFact, Message, ModeratedMessage, ModerationReview, UserMemory
from chat.moderation_model import HARM_CATEGORIES
from chat.moderation_review import moderation_review_record

TEXT_PERMISSION = "chat.view_moderated_text"
REVIEW_PERMISSION = "chat.add_moderationreview"
TEXT_SHOWN_CHARS = 300


class VerdictFilter(admin.SimpleListFilter):
    title = "verdict"
    parameter_name = "verdict"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("blocked", "Blocked or cut"), ("flagged", "Flagged, allowed"), ("allowed", "Allowed"), ("all", "All")]

    def choices(self, changelist: Any) -> Any:
        for choice in super().choices(changelist):
            if choice["display"] == "All" and choice["selected"] is True and self.value() is None:
                continue  # the default is "blocked", not Django's "All"
            yield choice

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or "blocked"
        if value == "blocked":
            return queryset.filter(moderation__allowed=False)
        if value == "flagged":
            return queryset.filter(moderation__allowed=True).exclude(
                Q(moderation__category="") | Q(moderation__category__isnull=True)
            )
        if value == "allowed":
            return queryset.filter(moderation__allowed=True)
        return queryset


def _missed_harm_action(category: str) -> Any:
    @admin.action(description=f"Mark as missed harm: {category}", permissions=["review"])
    def action(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
        for message in queryset:
            moderation_review_record(
                message=message, decision="false_negative", category=category, reviewer=request.user
            )
        modeladmin.message_user(request, f"{queryset.count()} marked as missed {category}.", messages.SUCCESS)

    action.__name__ = f"mark_missed_{category}"
    return action


@admin.action(description="Mark as false positive (should have passed)", permissions=["review"])
def mark_false_positive(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    for message in queryset:
        moderation_review_record(message=message, decision="false_positive", reviewer=request.user)
    modeladmin.message_user(request, f"{queryset.count()} marked as false positives.", messages.SUCCESS)


@admin.register(ModeratedMessage)
class ModeratedMessageAdmin(admin.ModelAdmin):
    list_filter = [VerdictFilter, "role", "platform"]
    list_display_links = None
    list_per_page = 50
    actions = [mark_false_positive, *(_missed_harm_action(category) for category in HARM_CATEGORIES)]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("moderation_review").order_by("-created", "-id")

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = ["created", "role", "platform", "layer", "category", "score", "outcome", "review"]
        return [*columns[:7], "text", columns[7]] if request.user.has_perm(TEXT_PERMISSION) else columns

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_review_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(REVIEW_PERMISSION))

    @admin.display(description="layer")
    def layer(self, obj: ModeratedMessage) -> str:
        return str(obj.moderation.get("reason", "")).split(":", 1)[0] or "—"

    @admin.display(description="category")
    def category(self, obj: ModeratedMessage) -> str:
        return str(obj.moderation.get("category") or "—")

    @admin.display(description="score")
    def score(self, obj: ModeratedMessage) -> str:
        score = obj.moderation.get("score")
        return f"{float(score):.2f}" if isinstance(score, int | float) else "—"

    @admin.display(description="verdict")
    def outcome(self, obj: ModeratedMessage) -> str:
        if obj.moderation.get("allowed") is False:
            return "cut" if obj.moderation.get("replaced") else "blocked"
        return "flagged" if obj.moderation.get("category") else "allowed"

    @admin.display(description="text")
    def text(self, obj: ModeratedMessage) -> str:
        return _shortened(obj.content)

    @admin.display(description="review")
    def review(self, obj: ModeratedMessage) -> str:
        review = getattr(obj, "moderation_review", None)
        return f"{review.get_decision_display()} ({review.category})" if review else "—"


@admin.register(ModerationReview)
class ModerationReviewAdmin(admin.ModelAdmin):
    list_display = ["created", "decision", "category", "reviewer", "message_id"]
    list_filter = ["decision", "category"]
    readonly_fields = ["message_id", "decision", "category", "reviewer", "created"]
    fields = ("message_id", "decision", "category", "reviewer", "created")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# --- the user's data: read-only ---------------------------------------------------------------


def _shortened(text: str) -> str:
    return text if len(text) <= TEXT_SHOWN_CHARS else text[:TEXT_SHOWN_CHARS] + "…"


class UserDataAdmin(admin.ModelAdmin):
    """Look, never touch: no add, change or delete, whatever the staff member's permissions."""

    list_per_page = 50

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(UserDataAdmin):
    list_display = ["__str__", "user", "persona", "platform", "message_count", "messages_link", "updated"]
    list_filter = ["platform", "persona"]
    search_fields = ["user__email", "title"]
    list_select_related = ["user"]
    readonly_fields = (
        "user",
        "title",
        "persona",
        "platform",
        "created",
        "updated",
        "message_count",
        "messages_link",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(message_count=Count("messages"))

    @admin.display(description="messages", ordering="message_count")
    def message_count(self, obj: Conversation) -> int:
        return obj.message_count  # type: ignore[attr-defined]  # annotated in get_queryset

    @admin.display(description="read")
    def messages_link(self, obj: Conversation) -> str:
        url = reverse("admin:chat_message_changelist") + f"?conversation__id__exact={obj.pk}"
        return format_html('<a href="{}">messages</a>', url)


@admin.register(Message)
class MessageAdmin(UserDataAdmin):
    list_display = [
        "id",
        "conversation",
        "user",
        "role",
        "platform",
        "text",
        "model",
        "latency_ms",
        "rating",
        "created",
    ]
    list_filter = ["role", "platform", "stopped"]
    search_fields = ["conversation__user__email"]
    list_select_related = ["conversation__user"]
    readonly_fields = (
        "conversation",
        "role",
        "platform",
        "content",
        "created",
        "client_id",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "ttft_ms",
        "stopped",
        "rating",
        "correction",
        "moderation",
        "quality",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).order_by("-created", "-id")

    @admin.display(description="user")
    def user(self, obj: Message) -> str:
        return str(obj.conversation.user)

    @admin.display(description="text")
    def text(self, obj: Message) -> str:
        return _shortened(obj.content)


class CurrentFactFilter(admin.SimpleListFilter):
    title = "current"
    parameter_name = "current"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Current"), ("no", "Replaced")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(replaced_by__isnull=True)
        if self.value() == "no":
            return queryset.filter(replaced_by__isnull=False)
        return queryset


@admin.register(MemoryFact)
class MemoryFactAdmin(UserDataAdmin):
    list_display = ["text", "user", "key", "value", "language", "is_current", "created"]
    list_filter = [CurrentFactFilter, "language"]
    search_fields = ["user__email", "key"]
    list_select_related = ["user"]
    readonly_fields = (
        "user",
        "key",
        "value",
        "text",
        "language",
        "source_message",
        "replaced_by",
        "created",
    )
    fields = readonly_fields

    @admin.display(description="current", boolean=True)
    def is_current(self, obj: MemoryFact) -> bool:
        return obj.is_current


@admin.register(UserMemory)
class UserMemoryAdmin(UserDataAdmin):
    list_display = ["user", "summary_start", "updated"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    readonly_fields = (
        "user",
        "summary",
        "summarized_until",
        "updated",
    )
    fields = readonly_fields

    @admin.display(description="summary")
    def summary_start(self, obj: UserMemory) -> str:
        return _shortened(obj.summary)
