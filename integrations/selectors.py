"""Reads for integrations: what the list endpoint, insights, export and health show."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations.models import (
    KIND_MODELS,
    CalendarEvent,
    GitHubEvent,
    GitHubPullRequest,
    GitHubRepository,
    GmailMessage,
    Integration,
    IntegrationStatus,
    Provider,
    SyncRun,
    SyncStatus,
)


def integration_ids_due_for_sync() -> list[int]:
    return list(
        Integration.objects.filter(enabled=True, status=IntegrationStatus.ACTIVE, token__isnull=False)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _row_count(model: Any) -> Coalesce:
    """Rows of `model` for the outer integration, as a correlated subquery (no join fan-out)."""
    rows = (
        model.objects.filter(integration=OuterRef("pk"))
        .order_by()
        .values("integration")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows[:1]), 0)


def integration_list(*, user: Any) -> dict[str, Integration | None]:
    """Each provider -> the user's integration (or None), with item counts per kind; one query."""
    found = {
        i.provider: i
        for i in Integration.objects.filter(user=user).annotate(
            gmail_count=_row_count(GmailMessage),
            calendar_count=_row_count(CalendarEvent),
            github_event_count=_row_count(GitHubEvent),
            github_repo_count=_row_count(GitHubRepository),
            github_pr_count=_row_count(GitHubPullRequest),
        )
    }
    return {provider: found.get(provider) for provider in Provider.values}


def integration_item_counts(integration: Integration) -> dict[str, int]:
    """Synced rows per kind; uses integration_list's annotations when present."""
    if not hasattr(integration, "gmail_count"):
        integration = integration_list(user=integration.user)[integration.provider] or integration
    if integration.provider == Provider.GOOGLE:
        return {"gmail": integration.gmail_count, "calendar": integration.calendar_count}  # type: ignore[attr-defined]
    return {
        "github": integration.github_event_count  # type: ignore[attr-defined]
        + integration.github_repo_count  # type: ignore[attr-defined]
        + integration.github_pr_count  # type: ignore[attr-defined]
    }


DEFAULT_SYNC_INTERVAL = timedelta(minutes=30)


def sync_interval() -> timedelta:
    """How often beat syncs (the enabled `integrations.sync_all` schedule; 30 min if none)."""
    from django_celery_beat.models import PeriodicTask

    task = (
        PeriodicTask.objects.filter(task="integrations.sync_all", enabled=True, interval__isnull=False)
        .select_related("interval")
        .first()
    )
    if task is None or task.interval is None:
        return DEFAULT_SYNC_INTERVAL
    return timedelta(**{task.interval.period: task.interval.every})


def provider_health(
    *, window: timedelta = timedelta(hours=2), sample: int = 50, now: datetime | None = None
) -> dict[str, dict[str, Any]]:
    """healthy / degraded / down per provider (no user data). Never "healthy" by silence:

    down: integrations exist and none has synced successfully within 2 sync intervals (never
    counts), or every recent finished run failed (at least 3), or the worker or beat heartbeat
    is stale (no sync can happen); degraded: some integration is stale or has never synced, or
    more than 10% of recent runs did not succeed. A provider nobody connected is healthy (idle).
    """
    from ops.selectors import role_state

    now = now or timezone.now()
    since = now - window
    interval = sync_interval()
    stale_before = now - 2 * interval
    pipeline = [role_state(role, now=now) for role in ("worker", "beat")]
    result: dict[str, dict[str, Any]] = {}
    for provider in Provider.values:
        runs = list(
            SyncRun.objects.filter(provider=provider, started_at__gte=since)
            .exclude(status__in=[SyncStatus.RUNNING, SyncStatus.SKIPPED])
            .order_by("-started_at")
            .values_list("status", "finished_at")[:sample]
        )
        total = len(runs)
        bad = sum(1 for status, _ in runs if status in (SyncStatus.FAILED, SyncStatus.RATE_LIMITED))
        partial = sum(1 for status, _ in runs if status == SyncStatus.PARTIAL)
        active = Integration.objects.filter(
            provider=provider, enabled=True, status=IntegrationStatus.ACTIVE, token__isnull=False
        )
        counts = active.aggregate(
            active=Count("pk"),
            never=Count("pk", filter=Q(last_success_at__isnull=True)),
            stale=Count(
                "pk",
                filter=Q(last_success_at__lt=stale_before)
                | Q(last_success_at__isnull=True, created_at__lt=stale_before),
            ),
            last_success=Max("last_success_at"),
        )
        problems: list[str] = []
        if counts["active"]:
            problems += [state.problem(now) for state in pipeline if not state.ok]
            if counts["stale"] == counts["active"]:
                problems.append(f"no successful sync in 2 intervals ({int(2 * interval.total_seconds() // 60)} min)")
            elif counts["stale"]:
                problems.append(f"{counts['stale']} integration(s) without a successful sync in 2 intervals")
            if counts["never"]:
                problems.append(f"{counts['never']} integration(s) never synced")
        if total >= 3 and bad == total:
            problems.append(f"the last {total} sync runs failed")
        elif total and (bad + partial) / total > 0.1:
            problems.append(f"{bad + partial} of the last {total} sync runs did not fully succeed")
        down = counts["active"] and (counts["stale"] == counts["active"] or any(not state.ok for state in pipeline))
        if down or (total >= 3 and bad == total):
            state = "down"
        elif problems:
            state = "degraded"
        else:
            state = "healthy"
        result[provider] = {
            "status": state,
            "problems": problems,
            "active_integrations": counts["active"],
            "stale_integrations": counts["stale"],
            "never_synced": counts["never"],
            "sync_interval_s": int(interval.total_seconds()),
            "recent_runs": total,
            "failed_runs": bad,
            "partial_runs": partial,
            "last_success_at": counts["last_success"].isoformat() if counts["last_success"] else None,
        }
    return result


def refresh_success_rate() -> dict[str, Any]:
    """Google token refreshes across all users: the share that worked without the user."""
    totals = Integration.objects.filter(provider=Provider.GOOGLE).aggregate(
        attempts=Sum("refresh_attempts"), successes=Sum("refresh_successes")
    )
    attempts, successes = totals["attempts"] or 0, totals["successes"] or 0
    return {"attempts": attempts, "successes": successes, "rate": round(successes / attempts, 4) if attempts else None}


def user_synced_data_export(*, user: Any) -> dict[str, Any]:
    """Everything synced for the user (no tokens): the `/api/me/export/` section."""
    integrations = []
    for integration in Integration.objects.filter(user=user).order_by("provider"):
        data: dict[str, Any] = {
            "provider": integration.provider,
            "account": integration.account_label,
            "enabled": integration.enabled,
            "kinds": {kind: integration.kind_enabled(kind) for kind in integration.kinds},
            "status": integration.status,
            "last_sync": integration.last_sync_at.isoformat() if integration.last_sync_at else None,
            "created": integration.created_at.isoformat(),
            "sync_runs": [
                {
                    "started": run.started_at.isoformat(),
                    "status": run.status,
                    "counts": run.counts,
                    "errors": run.errors,
                    "duration_ms": run.duration_ms,
                }
                for run in integration.sync_runs.all()[:100]
            ],
        }
        for models in KIND_MODELS.values():
            for model in models:
                rows = model.objects.filter(integration=integration).values()  # type: ignore[attr-defined]
                if rows:
                    data[str(model._meta.model_name)] = [_jsonable(row) for row in rows]
        integrations.append(data)
    return {"integrations": integrations}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if key in ("id", "user_id", "integration_id"):
            continue
        out[key] = value.isoformat() if hasattr(value, "isoformat") else value
    return out
