"""Reads of push subscriptions."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from notifications.models import PushSubscription


def push_subscription_list(*, user: Any) -> QuerySet[PushSubscription]:
    return PushSubscription.objects.filter(user=user).order_by("-created", "-id")


def push_subscription_export(user: Any) -> list[dict[str, Any]]:
    """accounts export section: which devices get notifications (not the push secrets)."""
    return [
        {
            "id": s.pk,
            "device": s.label,
            "push_service": s.endpoint.split("/")[2] if "//" in s.endpoint else "",
            "created": s.created.isoformat(),
            "last_success_at": s.last_success_at.isoformat() if s.last_success_at else None,
        }
        for s in push_subscription_list(user=user)
    ]
