"""Scrape-time metrics from shared state: process heartbeats (memory, uptime, liveness), Celery
queue depth, readiness. Registered with `digitalme.metrics.register_scrape_collector`."""

from __future__ import annotations

from collections.abc import Iterable

from asgiref.sync import async_to_sync
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from digitalme.celery import queue_lengths
from digitalme.health import run_checks
from ops.models import ProcessRole
from ops.selectors import processes_live, role_state


def process_metrics() -> Iterable[Metric]:
    now = timezone.now()
    rss = GaugeMetricFamily(
        "dm_process_resident_memory_bytes", "Resident memory of each live process.", labels=["role", "instance"]
    )
    started = GaugeMetricFamily(
        "dm_process_start_time_seconds", "Start time of each live process (unix).", labels=["role", "instance"]
    )
    for process in processes_live(now=now):
        rss.add_metric([process.role, process.instance], process.rss_bytes)
        started.add_metric([process.role, process.instance], process.started_at.timestamp())
    alive = GaugeMetricFamily("dm_processes_alive", "Processes with a fresh heartbeat, per role.", labels=["role"])
    age = GaugeMetricFamily(
        "dm_heartbeat_age_seconds",
        "Seconds since the freshest heartbeat of the role (absent: never seen).",
        labels=["role"],
    )
    for role in ProcessRole.values:
        state = role_state(role, now=now)
        alive.add_metric([role], state.alive)
        seconds = state.age_s(now)
        if seconds is not None:
            age.add_metric([role], seconds)
    return [rss, started, alive, age]


def celery_queue_metrics() -> Iterable[Metric]:
    from django.conf import settings

    from digitalme.celery import app

    depth = GaugeMetricFamily("dm_celery_queue_length", "Messages waiting in the Celery queue.", labels=["queue"])
    for queue, length in queue_lengths([app.conf.task_default_queue, settings.TELEGRAM_QUEUE]).items():
        if length is not None:
            depth.add_metric([queue], length)
    return [depth]


def readiness_metrics() -> Iterable[Metric]:
    overall, checks = async_to_sync(run_checks)()
    ready = GaugeMetricFamily("dm_readiness_ok", "1 when /health/ready/ answers 200 (ok or degraded).")
    ready.add_metric([], 0 if overall == "down" else 1)
    per_check = GaugeMetricFamily(
        "dm_health_check_ok", "1 when the readiness check is ok.", labels=["check", "required"]
    )
    for name, result in checks.items():
        per_check.add_metric([name, str(result["required"]).lower()], 1 if result["status"] == "ok" else 0)
    return [ready, per_check]
