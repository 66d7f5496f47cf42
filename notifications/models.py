"""Web Push subscriptions: one row per browser (device) that agreed to get Ivan's replies."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PushSubscription(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions")
    # The push service's URL for this browser: unique, so a device signed into another account
    # moves to that account instead of notifying both.
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=128)  # the browser's ECDH public key (base64url)
    auth = models.CharField(max_length=64)  # the browser's auth secret (base64url)
    label = models.CharField(max_length=120, blank=True)  # "Chrome on Android", from the User-Agent
    created = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)  # consecutive failed sends

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "-created"], name="notif_push_user_created")]

    def __str__(self) -> str:
        return f"{self.label or 'device'} of user {self.user_id}"

    def subscription_info(self) -> dict:
        """The shape pywebpush (and the Push API's toJSON) uses."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}
