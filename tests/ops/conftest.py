"""Ops fixtures: heartbeats as a live worker and beat would write them."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ops.services import heartbeat_record

# One process per role in these tests: distinct start times keep their instances apart.
_STARTED_BEFORE_S = {"web": 60, "worker": 70, "beat": 80}


def beat(role: str, *, age_s: float = 0.0, rss_bytes: int = 100_000_000, queues: tuple[str, ...] = ()) -> None:
    """A heartbeat row for `role` as if its process (a worker consuming `queues`) last reported `age_s` seconds ago."""
    now = timezone.now()
    started = now - timedelta(seconds=age_s + _STARTED_BEFORE_S[role])
    heartbeat_record(
        role=role, started_at=started, rss_bytes=rss_bytes, queues=queues, now=now - timedelta(seconds=age_s)
    )
