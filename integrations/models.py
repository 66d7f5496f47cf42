"""Connected accounts (Google, GitHub), their encrypted tokens, sync runs and the synced data.

Only metadata is stored: Gmail headers/labels/snippet (never bodies), calendar event times and
titles, GitHub events/repositories/pull requests. Every row belongs to one user and goes away
with the user, the integration, or the data kind being switched off.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Provider(models.TextChoices):
    GOOGLE = "google", "Google"
    GITHUB = "github", "GitHub"


class Kind(models.TextChoices):
    GMAIL = "gmail", "Gmail"
    CALENDAR = "calendar", "Calendar"
    GITHUB = "github", "GitHub"


PROVIDER_KINDS: dict[str, tuple[str, ...]] = {
    Provider.GOOGLE: (Kind.GMAIL, Kind.CALENDAR),
    Provider.GITHUB: (Kind.GITHUB,),
}


def default_kinds() -> dict:
    return {}


class IntegrationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RECONNECT_NEEDED = "reconnect_needed", "Reconnect needed"


class Integration(models.Model):
    """One user's connection to one provider; tokens live in IntegrationToken."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="integrations")
    provider = models.CharField(max_length=16, choices=Provider.choices)
    social_account = models.ForeignKey(
        "socialaccount.SocialAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    account_label = models.CharField(max_length=255, blank=True, help_text="login or email shown to the user")
    enabled = models.BooleanField(default=True)
    kinds = models.JSONField(default=default_kinds, blank=True, help_text="kind -> enabled")
    status = models.CharField(max_length=24, choices=IntegrationStatus.choices, default=IntegrationStatus.ACTIVE)
    status_detail = models.CharField(max_length=255, blank=True)
    # Incremental sync state: gmail historyId, calendar syncToken, GitHub ETags by URL.
    cursors = models.JSONField(default=dict, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    kind_synced_at = models.JSONField(default=dict, blank=True, help_text="kind -> ISO time of last good sync")
    refresh_attempts = models.PositiveIntegerField(default=0)
    refresh_successes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "provider"], name="integration_unique_user_provider")]
        ordering = ["provider"]

    def __str__(self) -> str:
        return f"{self.provider} for user {self.user_id}"

    def kind_enabled(self, kind: str) -> bool:
        return self.enabled and kind in PROVIDER_KINDS[self.provider] and bool(self.kinds.get(kind, True))

    @property
    def enabled_kinds(self) -> list[str]:
        return [kind for kind in PROVIDER_KINDS[self.provider] if self.kind_enabled(kind)]

    @property
    def reconnect_needed(self) -> bool:
        return self.status == IntegrationStatus.RECONNECT_NEEDED


class IntegrationToken(models.Model):
    """OAuth tokens, Fernet-encrypted (integrations.crypto); never serialized or shown in the admin."""

    integration = models.OneToOneField(Integration, on_delete=models.CASCADE, related_name="token")
    access_token_encrypted = models.TextField(blank=True)
    refresh_token_encrypted = models.TextField(blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    scopes = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"token for integration {self.integration_id}"

    def __repr__(self) -> str:  # never the ciphertext either
        return f"<IntegrationToken integration={self.integration_id}>"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "OK"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"
    RATE_LIMITED = "rate_limited", "Rate limited"
    SKIPPED = "skipped", "Skipped"


class SyncRun(models.Model):
    """One sync of one integration: what was fetched, how long it took, what went wrong."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="sync_runs")
    provider = models.CharField(max_length=16, choices=Provider.choices, db_index=True)
    trigger = models.CharField(max_length=16, default="beat")  # beat | manual | command | load_test
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)  # kind -> {"fetched", "created", "updated", "deleted"}
    requests = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{"kind", "code", "detail"}]

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["provider", "-started_at"], name="syncrun_provider_started")]

    def __str__(self) -> str:
        return f"{self.provider} sync {self.status} at {self.started_at:%Y-%m-%d %H:%M}"


class GmailMessage(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="gmail_messages")
    message_id = models.CharField(max_length=64)
    thread_id = models.CharField(max_length=64, blank=True)
    sender = models.CharField(max_length=500, blank=True)
    recipients = models.TextField(blank=True)
    subject = models.CharField(max_length=1000, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    labels = models.JSONField(default=list, blank=True)
    snippet = models.CharField(max_length=500, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["integration", "message_id"], name="gmail_unique_message")]
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return self.subject or self.message_id


class CalendarEvent(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="calendar_events")
    event_id = models.CharField(max_length=255)
    summary = models.CharField(max_length=1000, blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    all_day = models.BooleanField(default=False)
    status = models.CharField(max_length=16, blank=True)
    attendees_count = models.PositiveIntegerField(default=0)
    html_link = models.URLField(max_length=1000, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["integration", "event_id"], name="calendar_unique_event")]
        ordering = ["starts_at"]

    def __str__(self) -> str:
        return self.summary or self.event_id


class GitHubRepository(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="github_repositories")
    repo_id = models.BigIntegerField()
    full_name = models.CharField(max_length=255)
    private = models.BooleanField(default=False)
    description = models.CharField(max_length=1000, blank=True)
    html_url = models.URLField(max_length=500, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["integration", "repo_id"], name="github_unique_repo")]
        ordering = ["-pushed_at"]

    def __str__(self) -> str:
        return self.full_name


class GitHubEvent(models.Model):
    """A recent activity event (push, PR, review, issue, comment) with a short summary."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="github_events")
    event_id = models.CharField(max_length=64)
    type = models.CharField(max_length=64)
    repo = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=1000, blank=True)
    number = models.PositiveIntegerField(null=True, blank=True)
    commit_count = models.PositiveIntegerField(default=0)
    url = models.URLField(max_length=1000, blank=True)
    occurred_at = models.DateTimeField()
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["integration", "event_id"], name="github_unique_event")]
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.repo}"


class GitHubPullRequest(models.Model):
    """The user's open pull requests and whether anyone has reviewed them yet."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="github_pull_requests")
    repo = models.CharField(max_length=255)
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=1000, blank=True)
    state = models.CharField(max_length=16, default="open")
    draft = models.BooleanField(default=False)
    opened_at = models.DateTimeField()
    review_count = models.PositiveIntegerField(default=0)
    html_url = models.URLField(max_length=1000, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["integration", "repo", "number"], name="github_unique_pr")]
        ordering = ["opened_at"]

    def __str__(self) -> str:
        return f"{self.repo}#{self.number}"


# Which models hold each kind's synced data (privacy switch-off and export use this).
KIND_MODELS: dict[str, tuple[type[models.Model], ...]] = {
    Kind.GMAIL: (GmailMessage,),
    Kind.CALENDAR: (CalendarEvent,),
    Kind.GITHUB: (GitHubEvent, GitHubRepository, GitHubPullRequest),
}
