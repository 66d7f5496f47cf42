"""Integrations on the /ops/ dashboard, in /metrics and in database-test: per provider the sync
health, last success and token refresh success rate; the reads a sync makes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from integrations import selectors
from integrations.models import CalendarEvent, GitHubEvent, Integration, Provider, SyncRun
from ops.panels import PanelContext, PanelData, Stat

REFRESH_SUCCESS_MIN = 0.98  # the seed's "token refresh success < 98%" is red
_STATUS = {"healthy": "ok", "degraded": "warn", "down": "bad"}


def _integrations_panel(ctx: PanelContext) -> PanelData:
    health = selectors.provider_health(now=ctx.now)
    refresh = selectors.refresh_success_rate()
    rate = refresh["rate"]
    rows = [
        {
            "provider": Provider(provider).label,
            "state": state["status"],
            "status": _STATUS[state["status"]] if state["active_integrations"] else "none",
            "active": state["active_integrations"],
            "last_success": state["last_success_at"] or "—",
            "problems": "; ".join(state["problems"]),
        }
        for provider, state in health.items()
    ]
    return PanelData(
        stats=[
            Stat(
                "refresh_rate",
                _("Token refresh success"),
                None if rate is None else round(rate * 100, 1),
                "%",
                "none" if rate is None else "ok" if rate >= REFRESH_SUCCESS_MIN else "bad",
                _("red below 98%"),
            ),
        ],
        columns=[
            ("provider", _("Provider")),
            ("state", _("State")),
            ("active", _("Connected")),
            ("last_success", _("Last success")),
            ("problems", _("Problems")),
        ],
        rows=rows,
    )


def integration_metrics() -> Iterable[Metric]:
    """/metrics: connected integrations, last success and token refreshes per provider."""
    health = selectors.provider_health()
    active = GaugeMetricFamily("dm_integrations_active", "Enabled, connected integrations.", labels=["provider"])
    last = GaugeMetricFamily(
        "dm_integration_last_success_timestamp_seconds",
        "Unix time of the newest successful sync (absent: never).",
        labels=["provider"],
    )
    healthy = GaugeMetricFamily("dm_integration_healthy", "1 healthy, 0.5 degraded, 0 down.", labels=["provider"])
    for provider, state in health.items():
        active.add_metric([provider], state["active_integrations"])
        healthy.add_metric([provider], {"healthy": 1.0, "degraded": 0.5}.get(state["status"], 0.0))
        if state["last_success_at"]:
            last.add_metric([provider], datetime.fromisoformat(state["last_success_at"]).timestamp())
    refreshes = CounterMetricFamily(
        "dm_integration_token_refreshes", "OAuth token refreshes, by outcome.", labels=["provider", "outcome"]
    )
    for row in Integration.objects.values("provider").annotate(
        attempts=Sum("refresh_attempts"), successes=Sum("refresh_successes")
    ):
        attempts, successes = row["attempts"] or 0, row["successes"] or 0
        refreshes.add_metric([row["provider"], "succeeded"], successes)
        refreshes.add_metric([row["provider"], "failed"], max(attempts - successes, 0))
    return [active, last, healthy, refreshes]


def _due(user: Any) -> list[int]:
    return selectors.integration_ids_due_for_sync()[:500]


def _recent_runs(user: Any) -> list[Any]:
    return list(SyncRun.objects.order_by("-started_at").values("provider", "status")[:50])


def _upcoming_events(user: Any) -> list[Any]:
    return list(CalendarEvent.objects.filter(user=user, starts_at__gte=timezone.now()).order_by("starts_at")[:50])


def _recent_pushes(user: Any) -> list[Any]:
    return list(GitHubEvent.objects.filter(user=user, type="PushEvent").order_by("-occurred_at")[:50])


def register_ops() -> None:
    from digitalme.metrics import register_scrape_collector
    from ops.registry import register_hot_query, register_panel

    register_panel("integrations", _("Integrations"), _integrations_panel, order=80)
    register_scrape_collector("integrations", integration_metrics)
    register_hot_query("integrations_due", _due)
    register_hot_query("integrations_recent_sync_runs", _recent_runs)
    register_hot_query("integrations_upcoming_events", _upcoming_events)
    register_hot_query("integrations_recent_pushes", _recent_pushes)
