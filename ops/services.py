"""Changes made by the ops app: heartbeat rows and the /ops/ dashboard's samples."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from prometheus_client.core import Metric

from digitalme.metrics import process_metrics_registry
from digitalme.ratewindow import window_slot
from ops import registry
from ops.heartbeat import process_instance
from ops.models import ProcessHeartbeat
from ops.panels import PanelContext, PanelData, Stat, worst
from ops.registry import Series

logger = logging.getLogger(__name__)

# Rows of processes that stopped without saying goodbye (killed) are kept this long for the
# dashboard's "last seen", then deleted by the next heartbeat of any process.
HEARTBEAT_KEEP = timedelta(days=1)


def heartbeat_record(
    *, role: str, started_at: datetime, rss_bytes: int, queues: Sequence[str] = (), now: datetime | None = None
) -> None:
    """Upsert this process's row (a worker's with the queues it consumes) and prune rows of long-dead processes."""
    now = now or timezone.now()
    ProcessHeartbeat.objects.update_or_create(
        instance=process_instance(started_at),
        defaults={
            "role": role,
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": started_at,
            "seen_at": now,
            "rss_bytes": rss_bytes,
            "queues": ",".join(sorted(queues))[:255],
        },
    )
    ProcessHeartbeat.objects.filter(seen_at__lt=now - max(HEARTBEAT_KEEP, _stale_after() * 2)).delete()


def heartbeat_forget(*, started_at: datetime) -> None:
    ProcessHeartbeat.objects.filter(instance=process_instance(started_at)).delete()


def _stale_after() -> timedelta:
    return timedelta(seconds=settings.OPS_HEARTBEAT_STALE_S)


# --- the dashboard's samples --------------------------------------------------------------------

HISTORY_KEY = "ops:history"
LATEST_KEY = "ops:latest"


def _label_allowed(value: str, allowed: tuple[str, ...]) -> bool:
    return any(value == pattern or (pattern.endswith("*") and value.startswith(pattern[:-1])) for pattern in allowed)


def _wanted(labels: dict[str, str], series: Series) -> bool:
    if any(not _label_allowed(labels.get(name, ""), allowed) for name, allowed in series.match.items()):
        return False
    return not any(_label_allowed(labels.get(name, ""), banned) for name, banned in series.exclude.items())


def reduce_series(families: list[Metric]) -> dict[str, Any]:
    """Each registered series summed over the labels it keeps: a float for counters, cumulative
    buckets for histograms (the raw material of windowed rates and percentiles)."""
    by_name = {family.name: family for family in families}
    reduced: dict[str, Any] = {}
    for series in registry.series():
        family = by_name.get(series.metric)
        samples = [s for s in family.samples if _wanted(s.labels, series)] if family else []
        if series.kind == "counter":
            names = (f"{series.metric}_total", f"{series.metric}_count")
            reduced[series.key] = float(sum(s.value for s in samples if s.name in names))
            continue
        buckets: dict[float, float] = {}
        for sample in samples:
            if sample.name == f"{series.metric}_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
        reduced[series.key] = {
            "buckets": [[bound, buckets[bound]] for bound in sorted(buckets)],
            "count": float(sum(s.value for s in samples if s.name == f"{series.metric}_count")),
        }
    return reduced


def gauge_sums(families: list[Metric]) -> dict[str, float]:
    return {f.name: float(sum(s.value for s in f.samples)) for f in families if f.type == "gauge"}


def ops_sample(*, now: datetime, readiness: tuple[str, dict[str, Any]]) -> tuple[dict[str, PanelData], dict[str, Any]]:
    """Build every panel, append the sample to the shared history; the panels and the frame."""
    families = list(process_metrics_registry(with_app_collectors=False).collect())
    current = reduce_series(families)
    history: list[dict[str, Any]] = cache.get(HISTORY_KEY) or []
    now_ts = now.timestamp()
    window_start = now_ts - settings.OPS_WINDOW_S
    baseline = next((s for s in history if s["t"] >= window_start and "series" in s), None)
    ctx = PanelContext(
        now=now,
        window_s=settings.OPS_WINDOW_S,
        current=current,
        baseline=baseline["series"] if baseline else None,
        baseline_at=datetime.fromtimestamp(baseline["t"], tz=UTC) if baseline else None,
        gauges=gauge_sums(families),
        readiness=readiness,
    )
    built: dict[str, PanelData] = {}
    for panel in registry.panels():
        try:
            built[panel.key] = panel.build(ctx)
        except Exception as exc:  # one broken panel must not blank the dashboard
            logger.warning("ops panel failed", extra={"panel": panel.key}, exc_info=True)
            built[panel.key] = PanelData(stats=[Stat("error", "error", type(exc).__name__, status="bad")])
    values = {
        f"{key}.{stat.key}": stat.value
        for key, data in built.items()
        for stat in data.stats
        if stat.chart and isinstance(stat.value, int | float)
    }
    history.append({"t": now_ts, "series": current, "values": values})
    history = [s for s in history if s["t"] >= now_ts - settings.OPS_HISTORY_S]
    for sample in history:
        if sample["t"] < window_start:
            sample.pop("series", None)  # never a baseline again: keep only the charted values
    cache.set(HISTORY_KEY, history, timeout=settings.OPS_HISTORY_S * 2)
    frame = ops_frame(now=now, built=built, history=history)
    cache.set(LATEST_KEY, frame, timeout=settings.OPS_SAMPLE_INTERVAL_S * 6)
    return built, frame


def ops_frame(*, now: datetime, built: dict[str, PanelData], history: list[dict[str, Any]]) -> dict[str, Any]:
    """The socket frame: every panel's graded numbers and rows, and each charted stat's series.
    Language-neutral (labels are on the page), so one frame serves every viewer."""
    charted = sorted({key for sample in history for key in sample["values"]})
    return {
        "type": "ops.frame",
        "at": now.isoformat(),
        "interval_s": settings.OPS_SAMPLE_INTERVAL_S,
        "window_s": settings.OPS_WINDOW_S,
        "status": worst([data.status for data in built.values()]),
        "panels": {
            key: {
                "status": data.status,
                "stats": {stat.key: {"value": stat.value, "status": stat.status} for stat in data.stats},
                "rows": data.rows,
            }
            for key, data in built.items()
        },
        "series": {
            key: [[round(s["t"], 3), s["values"][key]] for s in history if key in s["values"]] for key in charted
        },
    }


async def aops_tick(*, force: bool = False) -> dict[str, Any] | None:
    """Take this interval's sample if no other process has (a cache lock per interval) and send
    it to every open dashboard. Returns the frame, or None when another process took the tick."""
    from digitalme.db import db_async
    from digitalme.health import run_checks
    from digitalme.realtime import apush_to_ops_watchers

    now = timezone.now()
    interval = settings.OPS_SAMPLE_INTERVAL_S
    bucket, _ = window_slot(interval, now.timestamp())
    if not await cache.aadd(f"ops:tick:{bucket}", 1, timeout=interval * 3) and not force:
        return None
    readiness = await run_checks()
    _, frame = await db_async(ops_sample)(now=now, readiness=readiness)
    await apush_to_ops_watchers(frame)
    return frame


async def aops_latest_frame() -> dict[str, Any]:
    """The newest frame for a page that just opened (sampling now if there is none yet)."""
    frame = await cache.aget(LATEST_KEY)
    if frame is None:
        frame = await aops_tick(force=True)
    return frame  # type: ignore[return-value]
