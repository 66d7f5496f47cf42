"""Output shapes of the chat API (class names are globally unique: drf-spectacular components)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from chat.models import Conversation, MemoryFact, Message


class ConversationOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Conversation
        fields = ["id", "title", "persona", "platform", "created", "updated"]


class MessageOutputSerializer(serializers.ModelSerializer):
    """docs/API.md's message object; chat.services.message_payload is the same shape for sockets."""

    class Meta:
        model = Message
        fields = [
            "id",
            "conversation",
            "role",
            "content",
            "platform",
            "created",
            "rating",
            "moderation",
            "quality",
            "client_id",
            "stopped",
        ]


def message_payload(message: Message) -> dict:
    """A message as a plain dict, for socket frames and group pushes: MessageOutputSerializer's
    output (tests/chat/test_serializers.py compares them), built directly — a chat turn builds
    three, and the serializer's field machinery cost more than the rest of the dict's work."""
    created = message.created
    when = created.astimezone(timezone.get_current_timezone()).isoformat() if created else None
    if when is not None and when.endswith("+00:00"):
        when = when[:-6] + "Z"
    return {
        "id": message.pk,
        "conversation": message.conversation_id,
        "role": str(message.role),
        "content": str(message.content),
        "platform": str(message.platform),
        "created": when,
        "rating": message.rating,
        "moderation": message.moderation,
        "quality": message.quality,
        "client_id": str(message.client_id),
        "stopped": bool(message.stopped),
    }


class TurnOutputSerializer(serializers.Serializer):
    user_message = MessageOutputSerializer()
    reply = MessageOutputSerializer()


class MemoryFactOutputSerializer(serializers.ModelSerializer):
    # null when the message was deleted / for the current fact: the schema must say so (API fuzzing caught it)
    source_message: serializers.PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )
    replaced_by: serializers.PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )

    class Meta:
        model = MemoryFact
        fields = ["id", "key", "value", "text", "language", "source_message", "replaced_by", "created"]


class MemoryOutputSerializer(serializers.Serializer):
    summary = serializers.CharField()
    summary_updated = serializers.DateTimeField(allow_null=True)
    facts = MemoryFactOutputSerializer(many=True)
    history = MemoryFactOutputSerializer(many=True, help_text="Facts replaced by newer ones (kept, not used).")
