"""Conversations, messages and what Ivan remembers about each user (across platforms)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Platform(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    TELEGRAM = "telegram", "Telegram"


class Role(models.TextChoices):
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"


class Conversation(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    persona = models.SlugField(max_length=64, default="ivan")
    title = models.CharField(max_length=120, blank=True)
    platform = models.CharField(max_length=16, choices=Platform.choices)  # where it started
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated", "-id"]
        indexes = [models.Index(fields=["user", "-updated", "-id"], name="chat_conv_user_updated")]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)  # validated non-empty for users; a stopped reply may be empty
    platform = models.CharField(max_length=16, choices=Platform.choices)
    created = models.DateTimeField(auto_now_add=True)
    # The client's id for a user message (idempotent retries); a reply carries its question's id.
    client_id = models.CharField(max_length=64, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    # The content's tokens (digitalme.tokens), counted once when the row is written and read back for
    # history budgets; `tokenizer` says whose count it is (another model's tokenizer counts again).
    tokens = models.PositiveIntegerField(null=True, blank=True)
    tokenizer = models.CharField(max_length=64, blank=True)
    model = models.CharField(max_length=120, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    ttft_ms = models.PositiveIntegerField(null=True, blank=True)
    moderation = models.JSONField(default=dict, blank=True)  # chat.moderation.Verdict.as_dict()
    # the persona quality gate's record (personality/evaluation/gate.py): mode, the first candidate's
    # label, outcome passed|regenerated|grounded|failed, attempts; {} when no model reply was gated
    quality = models.JSONField(default=dict, blank=True)
    stopped = models.BooleanField(default=False)  # the user stopped the reply; content is partial
    rating = models.SmallIntegerField(null=True, blank=True)
    correction = models.TextField(blank=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["conversation", "created", "id"], name="chat_msg_conv_created")]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__in=[1, -1]) | Q(rating__isnull=True), name="chat_msg_rating_pm1"
            ),
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=Q(role="user") & ~Q(client_id=""),
                name="chat_msg_user_client_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class UserMemory(models.Model):
    """The rolling summary of a user's older turns, across all their conversations and platforms."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_memory")
    summary = models.TextField(blank=True)
    summarized_until = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Memory of user {self.user_id}"


class MemoryFact(models.Model):
    """A fact the user told Ivan ("my daughter is called Masha"), kept per user with its source.

    `key` names the slot a fact fills ("daughter_name", "employer"); a newer fact for the same
    key replaces the old one, which stays as history (`replaced_by`), so nothing is lost silently.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memory_facts")
    key = models.CharField(max_length=64)
    value = models.CharField(max_length=300)
    text = models.CharField(max_length=400)  # the fact as one line for the prompt
    language = models.CharField(max_length=8, blank=True)
    source_message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    replaced_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaced")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "replaced_by", "-created"], name="chat_fact_user_active")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"], condition=Q(replaced_by__isnull=True), name="chat_fact_one_current_per_key"
            )
        ]

    def __str__(self) -> str:
        return self.text

    @property
    def is_current(self) -> bool:
        return self.replaced_by_id is None


class ModerationReview(models.Model):
    """A staff member's judgement of one moderated message. Reviews feed the moderation corpus:
    `manage.py export_moderation_feedback` writes them to feedback.tsv, which
    `manage.py train_moderation_model` learns from."""

    class Decision(models.TextChoices):
        FALSE_POSITIVE = "false_positive", "False positive (should have passed)"
        FALSE_NEGATIVE = "false_negative", "Missed harm (should have been blocked)"

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="moderation_review")
    decision = models.CharField(max_length=16, choices=Decision.choices)
    category = models.CharField(max_length=32)  # missed harm: which; false positive: the topic blocked as
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        permissions = [("view_moderated_text", "Can read the text of moderated messages")]

    def __str__(self) -> str:
        return f"{self.get_decision_display()}: message {self.message_id}"


class ModeratedMessage(Message):
    """Messages as the moderation review sees them (the admin list; no table of its own)."""

    class Meta:
        proxy = True
        verbose_name = "moderated message"
