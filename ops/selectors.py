"""Reads of the ops app: which processes are alive, per role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ops.models import ProcessHeartbeat


@dataclass(frozen=True)
class RoleState:
    """The processes of one role: how many are alive and when the freshest one last reported."""

    role: str
    alive: int
    last_seen: datetime | None

    @property
    def ok(self) -> bool:
        return self.alive > 0

    def age_s(self, now: datetime) -> float | None:
        return None if self.last_seen is None else max(0.0, (now - self.last_seen).total_seconds())

    def problem(self, now: datetime) -> str:
        """What an operator reads when the role is down ('' when it is fine)."""
        if self.ok:
            return ""
        if self.last_seen is None:
            return f"no {self.role} process has ever reported a heartbeat"
        return f"no {self.role} heartbeat for {int(self.age_s(now) or 0)} s (stale after {settings.OPS_HEARTBEAT_STALE_S} s)"


def stale_before(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(seconds=settings.OPS_HEARTBEAT_STALE_S)


def role_state(role: str, *, now: datetime | None = None) -> RoleState:
    now = now or timezone.now()
    rows = list(ProcessHeartbeat.objects.filter(role=role).values_list("seen_at", flat=True))
    alive = sum(1 for seen in rows if seen >= stale_before(now))
    return RoleState(role=role, alive=alive, last_seen=max(rows) if rows else None)


def queue_consumers(queue: str, *, now: datetime | None = None) -> int:
    """How many live workers (fresh heartbeat) consume `queue`."""
    rows = ProcessHeartbeat.objects.filter(role="worker", seen_at__gte=stale_before(now))
    return sum(1 for queues in rows.values_list("queues", flat=True) if queue in queues.split(","))


def processes_live(*, now: datetime | None = None) -> list[ProcessHeartbeat]:
    """Processes whose heartbeat is fresh, oldest first within each role."""
    return list(ProcessHeartbeat.objects.filter(seen_at__gte=stale_before(now)).order_by("role", "started_at"))


def processes_recent(*, now: datetime | None = None) -> list[ProcessHeartbeat]:
    """Every process seen in the last day (dead ones included, for 'last seen')."""
    return list(ProcessHeartbeat.objects.order_by("role", "-seen_at")[:100])
