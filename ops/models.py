"""Process heartbeats: every web, worker and beat process says it is alive, with its memory.

The rows live in the database every process shares, so they are true across processes and hosts:
`/ops/`, readiness, integrations health and `/metrics` all read them.
"""

from __future__ import annotations

from django.db import models


class ProcessRole(models.TextChoices):
    WEB = "web", "web"
    WORKER = "worker", "worker"
    BEAT = "beat", "beat"


class ProcessHeartbeat(models.Model):
    """One running process; `seen_at` moves every OPS_HEARTBEAT_INTERVAL_S while it lives."""

    instance = models.CharField(max_length=255, unique=True, help_text="host:pid:start time")
    role = models.CharField(max_length=16, choices=ProcessRole.choices, db_index=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)
    rss_bytes = models.BigIntegerField(default=0)
    queues = models.CharField(
        max_length=255, blank=True, default="", help_text="the queues a worker consumes, comma-separated"
    )

    class Meta:
        ordering = ["role", "started_at"]

    def __str__(self) -> str:
        return f"{self.role} {self.instance}"
