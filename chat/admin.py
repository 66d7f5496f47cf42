"""Moderation review in the admin: blocked and flagged messages with their category, score and
deciding layer; the text only for staff holding `chat.view_moderated_text`. Reviewers mark false
positives and missed harms, which feed the moderation corpus (chat/moderation_review.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from chat.models import ModeratedMessage, ModerationReview
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
        content = obj.content
        return content if len(content) <= TEXT_SHOWN_CHARS else content[:TEXT_SHOWN_CHARS] + "…"

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
