"""The dashboard's building blocks (stats graded green/amber/red, the context panels read numbers
from) and the core panels: health, HTTP, database, processes, Celery.

Thresholds are the seed's (error rate > 1%, p95 > 2 s, DB p95 > 100 ms, memory > 500 MB); the
alert rules in deploy/prometheus/alerts.yml use the same numbers (a test compares them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from ops.registry import register_panel, register_series

Status = Literal["ok", "warn", "bad", "none"]
STATUS_ORDER: dict[str, int] = {"none": 0, "ok": 1, "warn": 2, "bad": 3}

# The seed's thresholds: (amber from, red from).
HTTP_P95_MS = (1000.0, 2000.0)
HTTP_ERROR_RATE_PCT = (0.5, 1.0)
DB_P95_MS = (50.0, 100.0)
MEMORY_MB = (400.0, 500.0)
TTFT_P95_MS = (1000.0, 2000.0)
QUEUE_DEPTH = (100.0, 1000.0)
READINESS_STATUS: dict[str, Status] = {"ok": "ok", "degraded": "warn", "down": "bad"}
# Requests that are not the product's API: scrapers and probes would dilute the error rate.
NOT_API_ROUTES = ("/metrics", "/health/", "/health/ready/")


def grade(value: float | None, thresholds: tuple[float, float]) -> Status:
    """Green below amber, amber from amber, red above red; unknown values are not graded."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "none"
    warn, bad = thresholds
    return "bad" if value > bad else "warn" if value >= warn else "ok"


def worst(statuses: Sequence[str]) -> Status:
    ranked: list[Status] = [status for status in statuses if status in STATUS_ORDER]  # type: ignore[misc]
    return max(ranked, key=STATUS_ORDER.__getitem__, default="none")


@dataclass
class Stat:
    key: str
    label: Any  # lazily translated
    value: float | int | str | None
    unit: str = ""  # ms, %, MB, s, /min, or "" (a count or a word)
    status: Status = "none"
    hint: Any = ""  # the threshold in words, shown under the number
    chart: bool = False


@dataclass
class PanelData:
    stats: list[Stat]
    columns: list[tuple[str, Any]] = field(default_factory=list)  # (row key, lazily translated header)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> Status:
        return worst([stat.status for stat in self.stats] + [row.get("status", "none") for row in self.rows])


@dataclass
class PanelContext:
    """What a panel's build() reads: reduced cumulative series now and in the window's baseline,
    current gauge values across processes, and the time."""

    now: datetime
    window_s: int
    current: dict[str, Any]  # series key -> float (counter) or {"buckets": [[le, n]...], "count", "sum"}
    baseline: dict[str, Any] | None  # the same, from the oldest sample inside the window
    baseline_at: datetime | None
    gauges: dict[str, float]  # metric family name -> sum over processes and labels
    readiness: tuple[str, dict[str, Any]] = ("ok", {})  # digitalme.health.run_checks() of this tick

    def _delta(self, key: str) -> Any:
        now_value = self.current.get(key)
        if now_value is None or self.baseline is None or key not in self.baseline:
            return None
        before = self.baseline[key]
        if isinstance(now_value, dict):
            buckets = [[le, n - b] for (le, n), (_, b) in zip(now_value["buckets"], before["buckets"], strict=False)]
            if len(now_value["buckets"]) != len(before["buckets"]) or any(n < 0 for _, n in buckets):
                return now_value  # the metrics directory was reset: count from zero
            return {"buckets": buckets, "count": now_value["count"] - before["count"]}
        return now_value - before if now_value >= before else now_value

    @property
    def elapsed_s(self) -> float | None:
        return None if self.baseline_at is None else max((self.now - self.baseline_at).total_seconds(), 1e-9)

    def increase(self, key: str) -> float | None:
        delta = self._delta(key)
        return None if delta is None else float(delta)

    def per_minute(self, key: str) -> float | None:
        delta, elapsed = self.increase(key), self.elapsed_s
        return None if delta is None or elapsed is None else round(delta / elapsed * 60, 2)

    def ratio_pct(self, part: str, whole: str) -> float | None:
        numerator, denominator = self.increase(part), self.increase(whole)
        if numerator is None or not denominator:
            return None if numerator is None else 0.0
        return round(100 * numerator / denominator, 2)

    def quantile_ms(self, key: str, q: float) -> float | None:
        """Prometheus' histogram_quantile over the window, in milliseconds (None: no observations)."""
        delta = self._delta(key)
        if not delta or not delta["count"]:
            return None
        return round(histogram_quantile(q, delta["buckets"]) * 1000, 1)

    def gauge(self, metric: str) -> float | None:
        return self.gauges.get(metric)


def histogram_quantile(q: float, buckets: list[list[float]]) -> float:
    """Linear interpolation inside the bucket holding the q-th observation (as Prometheus does);
    in the +Inf bucket the answer is the highest finite bound."""
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


# --- core panels ------------------------------------------------------------------------------


def _health_panel(ctx: PanelContext) -> PanelData:
    from ops.selectors import processes_live

    overall, checks = ctx.readiness
    web = [p for p in processes_live(now=ctx.now) if p.role == "web"]
    uptime = (ctx.now - min(p.started_at for p in web)).total_seconds() if web else None
    rows = [
        {
            "name": name,
            "state": result["status"],
            "status": "ok" if result["status"] == "ok" else ("bad" if result["required"] else "warn"),
            "latency_ms": result["latency_ms"],
            "detail": str(result.get("error", "")),
        }
        for name, result in checks.items()
    ]
    return PanelData(
        stats=[
            Stat("readiness", _("Readiness"), overall, status=READINESS_STATUS.get(overall, "bad")),
            Stat("uptime", _("Uptime"), None if uptime is None else round(uptime), "s", "ok" if web else "none"),
            Stat("web_processes", _("Web processes"), len(web), status="ok" if web else "none"),
        ],
        columns=[
            ("name", _("Check")),
            ("state", _("State")),
            ("latency_ms", _("Latency, ms")),
            ("detail", _("Detail")),
        ],
        rows=rows,
    )


def _http_panel(ctx: PanelContext) -> PanelData:
    p95 = ctx.quantile_ms("http.latency", 0.95)
    errors = ctx.ratio_pct("http.errors", "http.requests")
    return PanelData(
        stats=[
            Stat("p95", _("API p95"), p95, "ms", grade(p95, HTTP_P95_MS), _("red above 2 s"), chart=True),
            Stat(
                "error_rate",
                _("Error rate (5xx)"),
                errors,
                "%",
                grade(errors, HTTP_ERROR_RATE_PCT),
                _("red above 1%"),
                chart=True,
            ),
            Stat("requests", _("Requests"), ctx.per_minute("http.requests"), "/min", chart=True),
        ]
    )


def _database_panel(ctx: PanelContext) -> PanelData:
    p95 = ctx.quantile_ms("db.latency", 0.95)
    return PanelData(
        stats=[
            Stat("p95", _("DB query p95"), p95, "ms", grade(p95, DB_P95_MS), _("red above 100 ms"), chart=True),
            Stat("queries", _("Queries"), ctx.per_minute("db.queries"), "/min"),
        ]
    )


def _processes_panel(ctx: PanelContext) -> PanelData:
    from ops.selectors import processes_recent, stale_before

    fresh_since = stale_before(ctx.now)
    rows = []
    live_rss = []
    for process in processes_recent(now=ctx.now):
        alive = process.seen_at >= fresh_since
        mb = round(process.rss_bytes / 1_000_000, 1)
        if alive:
            live_rss.append(mb)
        rows.append(
            {
                "role": process.role,
                "instance": process.instance,
                "state": "alive" if alive else "stale",
                "status": grade(mb, MEMORY_MB) if alive else "none",
                "uptime_s": round((ctx.now - process.started_at).total_seconds()) if alive else None,
                "memory_mb": mb,
                "seen_s": max(0, round((ctx.now - process.seen_at).total_seconds())),
            }
        )
    peak = max(live_rss) if live_rss else None
    return PanelData(
        stats=[
            Stat(
                "memory_max",
                _("Memory (largest process)"),
                peak,
                "MB",
                grade(peak, MEMORY_MB),
                _("red above 500 MB"),
                chart=True,
            ),
            Stat("memory_total", _("Memory (all processes)"), round(sum(live_rss), 1) if live_rss else None, "MB"),
        ],
        columns=[
            ("role", _("Role")),
            ("instance", _("Process")),
            ("state", _("State")),
            ("uptime_s", _("Uptime, s")),
            ("memory_mb", _("Memory, MB")),
            ("seen_s", _("Last seen, s ago")),
        ],
        rows=rows,
    )


def _celery_panel(ctx: PanelContext) -> PanelData:
    from digitalme.celery import app, queue_lengths
    from ops.selectors import queue_consumers, role_state

    # Telegram updates have a queue and worker of their own (settings.TELEGRAM_QUEUE): a backlog there
    # is a reply users wait for, so it is shown beside the background jobs' queue, not summed into it.
    depths = queue_lengths([app.conf.task_default_queue, settings.TELEGRAM_QUEUE])
    stats = [
        Stat(key, label, depth, "", grade(depth, QUEUE_DEPTH) if depth is not None else "bad", chart=True)
        for key, label, depth in (
            ("queue", _("Queue depth"), depths[app.conf.task_default_queue]),
            ("telegram_queue", _("Telegram queue depth"), depths[settings.TELEGRAM_QUEUE]),
        )
    ]
    # A depth says nothing about whether anyone reads the queue: the workers' heartbeats name theirs.
    consumers = queue_consumers(settings.TELEGRAM_QUEUE, now=ctx.now)
    stats.append(
        Stat(
            "telegram_workers",
            _("Workers on the Telegram queue"),
            consumers,
            status="ok" if consumers else "bad",
            hint=_("red when no live worker consumes it"),
        )
    )
    for role, label in (("worker", _("Worker heartbeat")), ("beat", _("Beat heartbeat"))):
        state = role_state(role, now=ctx.now)
        age = state.age_s(ctx.now)
        stats.append(
            Stat(
                role,
                label,
                None if age is None else round(age),
                "s",
                "ok" if state.ok else "bad",
                _("red when older than a minute"),
            )
        )
    failed = ctx.increase("celery.failed")
    stats += [
        Stat("tasks", _("Tasks"), ctx.per_minute("celery.tasks"), "/min", chart=True),
        Stat(
            "failed", _("Failed tasks (window)"), failed, "", "none" if failed is None else ("warn" if failed else "ok")
        ),
    ]
    return PanelData(stats=stats)


def register_core_panels() -> None:
    register_series("http.requests", "dm_http_requests", kind="counter", exclude={"route": NOT_API_ROUTES})
    register_series(
        "http.errors", "dm_http_requests", kind="counter", match={"status": ("5*",)}, exclude={"route": NOT_API_ROUTES}
    )
    register_series(
        "http.latency", "dm_http_request_duration_seconds", kind="histogram", exclude={"route": NOT_API_ROUTES}
    )
    register_series("db.latency", "dm_db_query_duration_seconds", kind="histogram")
    register_series("db.queries", "dm_db_query_duration_seconds", kind="counter")
    register_series("celery.tasks", "dm_celery_tasks", kind="counter")
    register_series("celery.failed", "dm_celery_tasks", kind="counter", match={"state": ("failed",)})
    register_panel("health", _("Health"), _health_panel, order=10)
    register_panel("http", _("API"), _http_panel, order=20)
    register_panel("database", _("Database"), _database_panel, order=30)
    register_panel("processes", _("Processes"), _processes_panel, order=40)
    register_panel("celery", _("Background jobs"), _celery_panel, order=50)
